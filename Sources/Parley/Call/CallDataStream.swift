import DequeModule
import Synchronization

/// The direct path's data for the application, in order: what `Call.received()` returns.
///
///     for await data in call.received() { ... }
///
/// One consumer: the first iterator made from a call's stream reads it; any other
/// iterator finishes at once. The stream finishes when the call ends (after everything
/// that arrived before the end), or when the task reading it is cancelled.
///
/// Why not `AsyncStream`: the library hands over tens of thousands of items a second. A
/// waiting reader here is woken once per batch of datagrams the ICE loop read (or once
/// 64 items piled up), not once per item, and takes the whole batch in one lock; items
/// are never copied through unspecialized generic code.
public struct CallDataStream: AsyncSequence, Sendable {
    public typealias Element = CallData
    public typealias Failure = Never

    let queue: CallDataQueue

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(reader: queue.claimReader() ? CallDataQueue.Reader(queue) : nil)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        public typealias Element = CallData
        /// Nil for an iterator that is not the stream's reader.
        let reader: CallDataQueue.Reader?
        /// The batch taken from the queue, read before taking the next one.
        var batch = Deque<CallData>()

        public mutating func next() async -> CallData? {
            if let item = batch.popFirst() { return item }
            guard let reader else { return nil }
            return await reader.queue.next(refilling: &batch)
        }
    }
}

/// The buffer between the threads that produce a call's data (the ICE loop, the engine)
/// and its one reader.
///
/// Received messages and file data are held back, not dropped: once `pauseBytes` or
/// `pauseItems` of them wait for the reader, `acceptsIncoming` turns false, the data path
/// leaves further data in the reliable channel (whose receive window then stops moving, so
/// the peer waits), and `onRoom` asks for more as soon as the reader took what waited.
/// Everything else (media frames, which are unreliable anyway, and notices about this
/// side's sending) is bounded by `itemLimit` and `byteLimit`: what does not fit is
/// dropped and counted (`CallStats.droppedDeliveries`).
final class CallDataQueue: DeferredWake, @unchecked Sendable {
    /// Items waiting for the reader before further ones are dropped.
    let itemLimit: Int
    /// Message, file and media bytes waiting for the reader before further items are dropped.
    let byteLimit: Int
    /// Received message and file bytes waiting for the reader before the data path stops
    /// taking more from the channel.
    let pauseBytes: Int
    /// Received messages and file chunks waiting before the data path stops taking more.
    let pauseItems: Int
    /// Items that make a waiting reader wake at once instead of after the loop's batch.
    static let wakeBatch = 64

    private struct State {
        var items = Deque<CallData>()
        var bytes = 0
        var waiter: UnsafeContinuation<Void, Never>?
        /// A wake is scheduled (deferred to the end of the loop iteration).
        var wakeScheduled = false
        /// No more items will be appended (the call ended).
        var finished = false
        /// The reader is gone (cancelled, or its iterator released): items are dropped.
        var readerGone = false
        var readerClaimed = false
        var dropped = 0
        /// Received messages and file chunks waiting, and their bytes.
        var incomingItems = 0
        var incomingBytes = 0
    }
    private let state = Mutex(State())
    /// False while `pauseBytes` or `pauseItems` of received data wait (read without the lock).
    private let room = Atomic<Bool>(true)
    /// Called (without the lock) after the reader took a batch while the queue had no room.
    private let onRoom = Mutex<@Sendable () -> Void>({})

    init(itemLimit: Int, byteLimit: Int, pauseItems: Int = .max, pauseBytes: Int = .max) {
        self.itemLimit = itemLimit
        self.byteLimit = byteLimit
        self.pauseItems = pauseItems
        self.pauseBytes = pauseBytes
    }

    /// What to call when the reader took a batch while received data was held back: the
    /// data path takes more from the channel (and its window moves again).
    func whenRoom(_ action: @escaping @Sendable () -> Void) { onRoom.withLock { $0 = action } }

    /// True while received messages and file data may be taken from the channel; false
    /// once `pauseBytes` or `pauseItems` of them wait for the reader. Also true when the
    /// reader is gone (its data is dropped: nobody will read it).
    var acceptsIncoming: Bool { room.load(ordering: .acquiring) }

    var dropped: Int { state.withLock { $0.dropped } }

    /// True while the reader is parked waiting for an item.
    var readerIsWaiting: Bool { state.withLock { $0.waiter != nil } }

    // MARK: Producer side

    /// How `append` wants the reader woken.
    enum Wake {
        /// The reader is not waiting, or a wake is already scheduled.
        case none
        /// The reader waits: call `wake()` soon (at the end of the current batch).
        case deferred
        /// The reader waits and the batch is large: call `wake()` now.
        case now
    }

    /// Buffers `data` for the reader; drops (and counts) it when the reader is gone or a
    /// limit is reached.
    func append(_ data: CallData) -> Wake {
        let size = data.payloadBytes
        return state.withLock { state in
            guard !state.finished else { return .none }
            guard !state.readerGone, state.items.count < itemLimit, state.bytes + size <= byteLimit || state.items.isEmpty else {
                state.dropped += 1
                return .none
            }
            state.items.append(data)
            state.bytes += size
            if data.isReceivedData {
                state.incomingItems += 1
                state.incomingBytes += size
                if state.incomingItems >= pauseItems || state.incomingBytes >= pauseBytes {
                    room.store(false, ordering: .releasing)
                }
            }
            guard state.waiter != nil else { return .none }
            if state.items.count >= CallDataQueue.wakeBatch { return .now }
            if state.wakeScheduled { return .none }
            state.wakeScheduled = true
            return .deferred
        }
    }

    /// Resumes a waiting reader (it then takes everything buffered).
    func wake() { resumeReader { $0.wakeScheduled = false } }

    /// No more items: the reader gets what is buffered, then the end.
    func finish() { resumeReader { $0.finished = true } }

    /// Applies `change` and takes the waiting reader out, under the lock; resumes the reader
    /// after releasing it.
    private func resumeReader(after change: (inout State) -> Void) {
        let waiter = state.withLock { state -> UnsafeContinuation<Void, Never>? in
            change(&state)
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    // MARK: Reader side

    /// True once: the first iterator is the reader.
    func claimReader() -> Bool {
        state.withLock { state in
            defer { state.readerClaimed = true }
            return !state.readerClaimed
        }
    }

    /// The reader stopped (cancelled or released): drop what is buffered and what comes.
    func readerLeft() {
        resumeReader { state in
            state.readerGone = true
            state.items.removeAll()
            state.bytes = 0
            state.incomingItems = 0
            state.incomingBytes = 0
            room.store(true, ordering: .releasing)
        }
    }

    /// The next item: moves everything buffered into `batch` (which is empty) and returns
    /// its first item, waiting when nothing is buffered. Nil once finished and drained,
    /// or when the reading task is cancelled.
    func next(refilling batch: inout Deque<CallData>) async -> CallData? {
        while true {
            enum Step { case took(hadNoRoom: Bool), ended, wait }
            let step = state.withLock { state -> Step in
                if !state.items.isEmpty {
                    swap(&state.items, &batch)
                    state.bytes = 0
                    state.incomingItems = 0
                    state.incomingBytes = 0
                    let hadNoRoom = !room.load(ordering: .relaxed)
                    room.store(true, ordering: .releasing)
                    return .took(hadNoRoom: hadNoRoom)
                }
                return state.finished || state.readerGone ? .ended : .wait
            }
            switch step {
            case let .took(hadNoRoom):
                if hadNoRoom { onRoom.withLock { $0 }() }
                return batch.popFirst()
            case .ended: return nil
            case .wait: break
            }
            if Task.isCancelled {
                readerLeft()
                return nil
            }
            await withTaskCancellationHandler {
                await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
                    let resumeNow = state.withLock { state -> Bool in
                        guard state.items.isEmpty, !state.finished, !state.readerGone else { return true }
                        state.waiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: {
                readerLeft()
            }
        }
    }

    /// Ends the stream for the reader when its iterator is released.
    final class Reader: Sendable {
        let queue: CallDataQueue
        init(_ queue: CallDataQueue) { self.queue = queue }
        deinit { queue.readerLeft() }
    }
}

extension CallData {
    /// A received message or file chunk: what the reliable channel holds back (flow
    /// control) while the reader is behind.
    var isReceivedData: Bool {
        switch self {
        case .message, .fileData: return true
        default: return false
        }
    }

    /// Bytes of message or file payload this item holds (what the queue's byte limit counts).
    var payloadBytes: Int {
        switch self {
        case let .message(bytes): return bytes.count
        case let .fileData(_, bytes, _): return bytes.count
        case let .media(frame): return frame.payload.count
        default: return 0
        }
    }
}
