import Dispatch
@testable import Parley
import ParleyProtocol
import Synchronization
import XCTest

/// `Call.received()`'s buffer: items in order, the end after the last item, one reader,
/// cancellation, the item and byte limits, and wakes that are never lost, including the
/// ones held back until the ICE loop finished a batch of datagrams.
final class CallDataStreamTests: XCTestCase {
    func testItemsArriveInOrderAndTheStreamEndsAfterTheLastOne() async {
        let queue = CallDataQueue(itemLimit: 10_000, byteLimit: 1 << 20)
        let stream = CallDataStream(queue: queue)
        for index in 0..<1000 { deliver(message(index), to: queue) }
        queue.finish()
        deliver(message(1000), to: queue)  // after the end: ignored
        var received: [CallData] = []
        for await item in stream { received.append(item) }
        XCTAssertEqual(received, (0..<1000).map { message($0) })
        XCTAssertEqual(queue.dropped, 0)
    }

    /// A producer thread hands items over one at a time, each right after the reader took
    /// the previous one (so mostly while the reader is on its way to parking): every item
    /// must reach the reader. A lost wake-up leaves the reader parked and the producer
    /// waits for it in vain (bounded), so the count falls short.
    func testAReaderOnItsWayToParkingIsAlwaysWoken() async {
        let queue = CallDataQueue(itemLimit: 1 << 16, byteLimit: 1 << 30)
        let stream = CallDataStream(queue: queue)
        let total = 20_000
        let taken = Atomic<Int>(0)
        let stalled = Atomic<Int>(-1)
        let producer = Thread {
            for index in 0..<total {
                deliver(.delivered(UInt64(index)), to: queue)
                var spins = 0
                while taken.load(ordering: .acquiring) <= index {
                    spins += 1
                    if spins > 1000 { usleep(100) }
                    if spins > 1000 + 50_000 {  // about 5 s
                        stalled.store(index, ordering: .relaxed)
                        queue.finish()
                        return
                    }
                }
            }
            queue.finish()
        }
        producer.start()
        var next: UInt64 = 0
        var outOfOrder = 0
        for await item in stream {
            guard case let .delivered(id) = item else { continue }
            if id != next { outOfOrder += 1 }
            next = id + 1
            taken.store(Int(next), ordering: .releasing)
        }
        XCTAssertEqual(stalled.load(ordering: .relaxed), -1, "a wake was lost: the reader never took this item")
        XCTAssertEqual(next, UInt64(total))
        XCTAssertEqual(outOfOrder, 0)
    }

    func testOnlyTheFirstIteratorReads() async {
        let queue = CallDataQueue(itemLimit: 16, byteLimit: 1 << 20)
        let stream = CallDataStream(queue: queue)
        var first = stream.makeAsyncIterator()
        var second = stream.makeAsyncIterator()
        deliver(message(1), to: queue)
        let fromSecond = await second.next()
        XCTAssertNil(fromSecond)
        let fromFirst = await first.next()
        XCTAssertEqual(fromFirst, message(1))
    }

    func testCancellingTheReaderEndsTheStreamAndDropsWhatComesAfter() async {
        let queue = CallDataQueue(itemLimit: 16, byteLimit: 1 << 20)
        let stream = CallDataStream(queue: queue)
        let reader = Task { () -> Int in
            var count = 0
            for await _ in stream { count += 1 }
            return count
        }
        waitUntilParked(queue)
        deliver(message(1), to: queue)
        waitUntilParked(queue)  // it took the item and waits again: cancel it there
        reader.cancel()
        let count = await reader.value
        XCTAssertEqual(count, 1)
        XCTAssertEqual(queue.append(message(2)), .none)
        XCTAssertEqual(queue.dropped, 1, "an item for a cancelled reader is dropped and counted")
    }

    func testAReleasedReaderDropsWhatComesAfter() async {
        let queue = CallDataQueue(itemLimit: 16, byteLimit: 1 << 20)
        do {
            var iterator = CallDataStream(queue: queue).makeAsyncIterator()
            deliver(message(1), to: queue)
            let item = await iterator.next()
            XCTAssertEqual(item, message(1))
        }
        XCTAssertEqual(queue.append(message(2)), .none)
        XCTAssertEqual(queue.dropped, 1)
    }

    func testItemsBeyondTheItemLimitAreDroppedAndCounted() async {
        let queue = CallDataQueue(itemLimit: 4, byteLimit: 1 << 20)
        for index in 0..<6 { deliver(message(index), to: queue) }
        queue.finish()
        var received: [CallData] = []
        for await item in CallDataStream(queue: queue) { received.append(item) }
        XCTAssertEqual(received, (0..<4).map { message($0) })
        XCTAssertEqual(queue.dropped, 2)
    }

    func testPayloadBeyondTheByteLimitIsDroppedButOneLargeItemStillPasses() async {
        let queue = CallDataQueue(itemLimit: 100, byteLimit: 100)
        deliver(message(1, bytes: 60), to: queue)
        deliver(message(2, bytes: 60), to: queue)   // 120 > 100: dropped
        deliver(.writable, to: queue)                // no payload: fits
        var iterator = CallDataStream(queue: queue).makeAsyncIterator()
        var taken: [CallData] = []
        for _ in 0..<2 { if let item = await iterator.next() { taken.append(item) } }
        XCTAssertEqual(taken, [message(1, bytes: 60), .writable])
        // Empty again: one item larger than the whole limit is taken rather than lost forever.
        deliver(message(3, bytes: 500), to: queue)
        let large = await iterator.next()
        XCTAssertEqual(large, message(3, bytes: 500))
        XCTAssertEqual(queue.dropped, 1)
    }

    /// Received messages past the pause limits turn `acceptsIncoming` off (the data path then
    /// leaves further data in the channel); media and notices do not count; the reader
    /// taking the batch turns it back on and asks the data path for more, once.
    func testReceivedDataPastThePauseLimitStopsTheDataPathUntilTheReaderTakesIt() async {
        let queue = CallDataQueue(itemLimit: 1000, byteLimit: 1 << 20, pauseItems: 3, pauseBytes: 100)
        let asked = Atomic<Int>(0)
        queue.whenRoom { asked.add(1, ordering: .relaxed) }
        var iterator = CallDataStream(queue: queue).makeAsyncIterator()
        for index in 0..<5 { deliver(.delivered(UInt64(index)), to: queue) }
        deliver(.media(MediaFrame(stream: 0, kind: .audio, payloadType: 111, timestamp: 0, payload: [UInt8](repeating: 1, count: 90))),
                to: queue)
        XCTAssertTrue(queue.acceptsIncoming, "notices and media never hold received data back")
        deliver(message(1, bytes: 40), to: queue)
        deliver(message(2, bytes: 40), to: queue)
        XCTAssertTrue(queue.acceptsIncoming)
        deliver(message(3, bytes: 40), to: queue)   // 3 items, 120 bytes: both limits reached
        XCTAssertFalse(queue.acceptsIncoming)
        XCTAssertEqual(asked.load(ordering: .relaxed), 0)
        let first = await iterator.next()            // takes the whole batch
        XCTAssertEqual(first, .delivered(0))
        XCTAssertTrue(queue.acceptsIncoming)
        XCTAssertEqual(asked.load(ordering: .relaxed), 1, "the data path is asked for more once")
        var rest: [CallData] = []
        for _ in 0..<8 { if let item = await iterator.next() { rest.append(item) } }
        XCTAssertEqual(rest.suffix(3), [message(1, bytes: 40), message(2, bytes: 40), message(3, bytes: 40)])
        deliver(message(4, bytes: 10), to: queue)
        _ = await iterator.next()
        XCTAssertEqual(asked.load(ordering: .relaxed), 1, "a batch taken with room to spare asks for nothing")
        XCTAssertEqual(queue.dropped, 0)
    }

    /// On the ICE loop thread the reader's wake waits until the loop is about to poll again,
    /// unless a batch of `wakeBatch` items piled up: then it is woken at once.
    func testWakesOnTheIceLoopWaitForTheEndOfTheBatchUnlessTheBatchIsLarge() async throws {
        let loop = IceLoop()
        try loop.start()
        defer { loop.stop() }
        let queue = CallDataQueue(itemLimit: 1000, byteLimit: 1 << 20)
        let received = Atomic<Int>(0)
        let sawTen = DispatchSemaphore(value: 0), sawBatch = DispatchSemaphore(value: 0)
        let reader = Task {
            for await _ in CallDataStream(queue: queue) {
                let count = received.add(1, ordering: .relaxed).newValue
                if count == 10 { sawTen.signal() }
                if count == 10 + CallDataQueue.wakeBatch { sawBatch.signal() }
            }
        }
        let outcome = Mutex<(beforeBatchEnded: Int, batchWokeAtOnce: Bool)>((-1, false))
        let done = DispatchSemaphore(value: 0)
        loop.post {
            waitUntilParked(queue)
            for index in 0..<10 {
                if queue.append(message(index)) == .deferred { loop.wakeAfterDispatch(queue) }
            }
            usleep(100_000)  // the loop is still busy: nobody woke the reader yet
            outcome.withLock { $0.beforeBatchEnded = received.load(ordering: .relaxed) }
            done.signal()
        }
        done.wait()
        XCTAssertEqual(outcome.withLock { $0.beforeBatchEnded }, 0, "the reader was woken before the batch ended")
        XCTAssertEqual(sawTen.wait(timeout: .now() + 10), .success, "the deferred wake never came")

        loop.post {
            waitUntilParked(queue)
            for index in 0..<CallDataQueue.wakeBatch {
                switch queue.append(message(index)) {
                case .now: queue.wake()
                case .deferred: loop.wakeAfterDispatch(queue)
                case .none: break
                }
            }
            // Still inside the batch: only the immediate wake can have delivered these.
            let woke = sawBatch.wait(timeout: .now() + 10) == .success
            outcome.withLock { $0.batchWokeAtOnce = woke }
            done.signal()
        }
        done.wait()
        XCTAssertTrue(outcome.withLock { $0.batchWokeAtOnce }, "a full batch did not wake the reader at once")
        queue.finish()
        await reader.value
    }
}

private func message(_ index: Int, bytes: Int = 4) -> CallData {
    .message((0..<bytes).map { UInt8(truncatingIfNeeded: index >> (8 * ($0 % 4))) })
}

/// Appends as `CallSession` does off the ICE loop thread: any wake is done at once.
private func deliver(_ item: CallData, to queue: CallDataQueue) {
    if queue.append(item) != .none { queue.wake() }
}

/// Waits (bounded) until the reader is parked on the empty queue.
private func waitUntilParked(_ queue: CallDataQueue) {
    for _ in 0..<10_000 where !queue.readerIsWaiting { usleep(1000) }
    XCTAssertTrue(queue.readerIsWaiting, "the reader never parked")
}
