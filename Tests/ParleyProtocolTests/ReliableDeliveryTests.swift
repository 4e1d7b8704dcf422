import ParleyCrypto
import ParleyProtocol
import ParleyTesting
import XCTest

/// Messages and files arrive whole, in order, exactly once, over links that lose,
/// reorder and duplicate packets; file digests catch corruption.
final class ReliableDeliveryTests: XCTestCase {
    /// Message `index` of a test: 4 bytes of index then a length that varies with it.
    private func message(_ index: Int) -> [UInt8] {
        let length = 4 + (index * 37) % 3000
        return (0..<length).map { $0 < 4 ? UInt8(truncatingIfNeeded: index >> (8 * $0)) : UInt8(truncatingIfNeeded: index &+ $0) }
    }

    func testThousandMessagesArriveOnceInOrderOverLossyReorderingDuplicatingLink() throws {
        let path = try ReliableTestPath(link: .path(loss: 0.05, reorder: 0.05, duplicate: 0.05, seed: 11))
        var received: [[UInt8]] = []
        var delivered: [ReliableMessageID] = []
        path.onEvent = { side, event in
            if side == .b, case let .message(bytes) = event { received.append(bytes) }
            if side == .a, case let .delivered(id) = event { delivered.append(id) }
        }
        var next = 0
        try path.run(within: .seconds(60)) {
            while next < 1000, path.a.sendBufferFree > 4000 {
                try path.a.send(message: message(next), now: path.clock.now)
                next += 1
            }
            return received.count == 1000 && delivered.count == 1000
        }
        XCTAssertEqual(received, (0..<1000).map(message), "every message once, in order")
        XCTAssertEqual(delivered, Array(1...1000), "each message reported delivered once, in order")
        XCTAssertGreaterThan(path.aToB.stats.droppedByLoss, 0)
        XCTAssertGreaterThan(path.aToB.stats.duplicated, 0)
        XCTAssertGreaterThan(path.aToB.stats.reordered, 0)
        XCTAssertGreaterThan(path.b.stats.duplicatePackets, 0, "duplicates reached the receiver and were ignored")
        XCTAssertTrue(path.refusals.isEmpty, "no honest packet was refused: \(path.refusals)")
    }

    func testMessagesFlowBothWaysAtOnce() throws {
        let path = try ReliableTestPath(link: .path(loss: 0.02, seed: 3))
        var atA: [[UInt8]] = [], atB: [[UInt8]] = []
        path.onEvent = { side, event in
            if case let .message(bytes) = event { side == .a ? atA.append(bytes) : atB.append(bytes) }
        }
        for index in 0..<200 {
            try path.a.send(message: message(index), now: path.clock.now)
            try path.b.send(message: message(1000 + index), now: path.clock.now)
        }
        try path.run(within: .seconds(30)) { atA.count == 200 && atB.count == 200 }
        XCTAssertEqual(atB, (0..<200).map(message))
        XCTAssertEqual(atA, (1000..<1200).map(message))
    }

    func testFiveMegabyteFileArrivesWithMonotonicProgressAndVerifiedDigest() throws {
        let path = try ReliableTestPath(link: .path(megabits: 50, loss: 0.01, reorder: 0.01, seed: 5))
        let size = 5_000_000
        var generator = Xoshiro256StarStar(seed: 42)
        let file = (0..<size).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let id = try path.a.startFile(size: UInt64(size), name: "photo.jpg", now: path.clock.now)
        var supplied = 0
        var received: [UInt8] = []
        var receiverProgress: [UInt64] = [], senderProgress: [UInt64] = []
        var started: (UInt64, String?)?, completedDigest: [UInt8]?, sentDigest: [UInt8]?
        path.onEvent = { side, event in
            switch event {
            case let .fileStarted(_, size, name): started = (size, name)
            case let .fileData(_, bytes, total):
                received += bytes
                receiverProgress.append(total)
            case let .fileCompleted(_, _, digest): completedDigest = digest
            case let .fileProgress(_, acknowledged, _): senderProgress.append(acknowledged)
            case let .fileSent(_, digest): sentDigest = digest
            case let .fileFailed(_, error): XCTFail("file failed: \(error)")
            default: break
            }
            _ = side
        }
        try path.run(within: .seconds(60)) {
            // Pull-based: offer the next piece whenever the channel has room.
            while supplied < size, path.a.sendBufferFree > 0 {
                let piece = min(size - supplied, 200_000)
                let taken = try file[supplied..<supplied + piece].withUnsafeBytes {
                    try path.a.writeFile(id, bytes: $0, now: path.clock.now)
                }
                supplied += taken
                if taken < piece { break }
            }
            return completedDigest != nil && sentDigest != nil
        }
        XCTAssertEqual(started?.0, UInt64(size))
        XCTAssertEqual(started?.1, "photo.jpg")
        XCTAssertEqual(received.count, size)
        XCTAssertTrue(received == file, "the received bytes are the file")
        XCTAssertEqual(completedDigest, StreamingDigest.digest(file))
        XCTAssertEqual(sentDigest, completedDigest)
        XCTAssertEqual(receiverProgress, receiverProgress.sorted(), "receiver progress never decreases")
        XCTAssertEqual(receiverProgress.last, UInt64(size))
        XCTAssertEqual(senderProgress, senderProgress.sorted(), "sender progress never decreases")
        XCTAssertEqual(senderProgress.last, UInt64(size))
        XCTAssertGreaterThan(senderProgress.count, 10, "progress is reported along the way, not only at the end")
    }

    func testCorruptedFileBytesReportIntegrityFailure() throws {
        let path = try ReliableTestPath(link: .path())
        let file = [UInt8](repeating: 0x41, count: 50_000)
        let id = try path.a.startFile(size: UInt64(file.count), name: nil, now: path.clock.now)
        XCTAssertEqual(try path.a.writeFile(id, bytes: file, now: path.clock.now), file.count)
        var corrupted = false
        path.intercept = { receiver, type, payload in
            // Flip the last byte of one data packet in the middle of the file (file data, not a header).
            if receiver == .b, type == .messageData, !corrupted, payload.count > 1000,
               (try? payload.withUnsafeBytes { try ReliableDataHeader.decode($0) })?.offset ?? 0 > 10_000 {
                payload[payload.count - 1] ^= 0xff
                corrupted = true
            }
            return true
        }
        var failure: ReliableError?, completed = false
        path.onEvent = { side, event in
            if side == .b, case let .fileFailed(_, error) = event { failure = error }
            if side == .b, case .fileCompleted = event { completed = true }
        }
        try path.run(within: .seconds(10)) { failure != nil || completed }
        XCTAssertTrue(corrupted)
        XCTAssertEqual(failure, .fileIntegrity)
        XCTAssertEqual(failure?.code, 6064)
        XCTAssertFalse(completed)
    }

    func testForgedDigestReportsIntegrityFailure() throws {
        let path = try ReliableTestPath(link: .path())
        let file = [UInt8](repeating: 7, count: 3000)
        let id = try path.a.startFile(size: UInt64(file.count), name: "a", now: path.clock.now)
        _ = try path.a.writeFile(id, bytes: file, now: path.clock.now)
        // The end record (kind 4, length 36, file ID) is followed by the digest: overwrite it.
        let endRecordHeader: [UInt8] = [4, 0, 0, 0, 36, 0, 0, 0, UInt8(id)]
        var forged = false
        path.intercept = { receiver, type, payload in
            guard receiver == .b, type == .messageData, let at = Self.find(endRecordHeader, in: payload),
                  at + endRecordHeader.count + 32 <= payload.count else { return true }
            for index in at + endRecordHeader.count..<at + endRecordHeader.count + 32 { payload[index] = 0 }
            forged = true
            return true
        }
        var failure: ReliableError?
        path.onEvent = { side, event in
            if side == .b, case let .fileFailed(_, error) = event { failure = error }
        }
        try path.run(within: .seconds(10)) { failure != nil }
        XCTAssertTrue(forged)
        XCTAssertEqual(failure, .fileIntegrity)
    }

    func testCancelledFileIsReportedToTheReceiver() throws {
        let path = try ReliableTestPath(link: .path())
        let id = try path.a.startFile(size: 1_000_000, name: "big", now: path.clock.now)
        _ = try path.a.writeFile(id, bytes: [UInt8](repeating: 1, count: 10_000), now: path.clock.now)
        var failure: ReliableError?, started = false
        path.onEvent = { side, event in
            if side == .b, case .fileStarted = event { started = true }
            if side == .b, case let .fileFailed(_, error) = event { failure = error }
        }
        try path.run(within: .seconds(5)) { started }
        try path.a.cancelFile(id, reason: 9, now: path.clock.now)
        try path.run(within: .seconds(5)) { failure != nil }
        XCTAssertEqual(failure, .fileCancelled(reason: 9))
        XCTAssertThrowsError(try path.a.writeFile(id, bytes: [1], now: path.clock.now)) {
            XCTAssertEqual($0 as? ReliableError, .unknownFile(id))
        }
    }

    func testSmallMessageOvertakesQueuedFileData() throws {
        let path = try ReliableTestPath(link: .path(megabits: 10))
        let id = try path.a.startFile(size: 2_000_000, name: nil, now: path.clock.now)
        _ = try path.a.writeFile(id, bytes: [UInt8](repeating: 3, count: 2_000_000), now: path.clock.now)
        try path.run(for: .milliseconds(200))
        let fileBytesBefore = path.b.stats.bytesReceived
        try path.a.send(message: Array("urgent".utf8), now: path.clock.now)
        var fileBytesWhenMessageArrived: UInt64?
        path.onEvent = { side, event in
            if side == .b, case .message = event { fileBytesWhenMessageArrived = path.b.stats.bytesReceived }
        }
        try path.run(within: .seconds(5)) { fileBytesWhenMessageArrived != nil }
        // The message waited only for what was in flight (about one window), not for the
        // 2 MB of file data queued ahead of it.
        let overtaken = try XCTUnwrap(fileBytesWhenMessageArrived) - fileBytesBefore
        XCTAssertLessThan(overtaken, 600_000, "the message was queued behind file data")
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start..<start + needle.count].elementsEqual(needle) {
            return start
        }
        return nil
    }

    /// A receiver that stops taking data holds the sender back through its window instead
    /// of losing anything: the sender gets no further than the window past what was taken,
    /// notices about the receiver's own sending still come out, and once it takes data
    /// again every message arrives, in order, once.
    func testAReceiverThatStopsTakingDataHoldsTheSenderBackAndLosesNothing() throws {
        var configuration = ReliableConfiguration()
        configuration.receiveWindowBytes = 1_048_581  // the least allowed: quicker to fill
        let path = try ReliableTestPath(link: .path(megabits: 100, delay: .milliseconds(5)), b: configuration)
        path.bTakesIncoming = false
        var received: [[UInt8]] = []
        var deliveredToA: [ReliableMessageID] = []
        var deliveredToB: [ReliableMessageID] = []
        path.onEvent = { side, event in
            if side == .b, case let .message(bytes) = event { received.append(bytes) }
            if side == .a, case let .delivered(id) = event { deliveredToA.append(id) }
            if side == .b, case let .delivered(id) = event { deliveredToB.append(id) }
        }
        let total = 3000  // about 4.5 MB: four times the receiver's window
        var next = 0
        func offer() throws {
            while next < total, path.a.sendBufferFree > 4000 {
                try path.a.send(message: message(next), now: path.clock.now)
                next += 1
            }
        }
        // b sends a message of its own: its delivery notice must come out while b holds data.
        try path.b.send(message: [1, 2, 3], now: path.clock.now)
        try path.run(within: .seconds(30)) {
            try offer()
            return path.a.stats.bytesInFlight == 0 && path.clock.now > Timestamp(nanoseconds: 10_000_000_000)
        }
        XCTAssertTrue(received.isEmpty, "b took no data")
        XCTAssertEqual(deliveredToB, [1], "b's notices still come out while its received data is held")
        let acknowledged = path.a.stats.bytesAcknowledged
        XCTAssertGreaterThan(acknowledged, 500_000, "the window was used")
        XCTAssertLessThanOrEqual(acknowledged, 1_048_581 + 10_000, "a stopped at b's window: \(acknowledged) bytes")
        XCTAssertLessThan(deliveredToA.count, total)

        path.bTakesIncoming = true
        try path.run(within: .seconds(120)) {
            try offer()
            return received.count == total && deliveredToA.count == total
        }
        XCTAssertEqual(received, (0..<total).map(message), "every message once, in order")
        XCTAssertTrue(path.refusals.isEmpty, "no honest packet was refused: \(path.refusals)")
    }
}
