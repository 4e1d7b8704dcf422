#if canImport(Glibc)
import Glibc
#endif
import ParleyCrypto
import ParleyProtocol

/// What arrives on a call's direct path, for the application.
public enum CallData: Sendable, Equatable {
    /// A whole message, delivered once, in order.
    case message([UInt8])
    /// A message this side sent was acknowledged by the peer.
    case delivered(ReliableMessageID)
    /// The send buffer has room again after a `sendBufferFull` error.
    case writable
    /// An audio or video frame, complete (incomplete frames are dropped, never delivered).
    case media(MediaFrame)
    /// The peer started streaming a file to this side.
    case fileStarted(id: ReliableFileID, size: UInt64, name: String?)
    /// The next bytes of an incoming file, in order.
    case fileData(id: ReliableFileID, bytes: [UInt8], received: UInt64)
    /// An incoming file arrived whole and its digest matched.
    case fileCompleted(id: ReliableFileID, size: UInt64)
    /// An incoming or outgoing file failed (integrity, cancelled, ...).
    case fileFailed(id: ReliableFileID, error: ReliableError)
    /// Progress of an outgoing file: bytes the peer acknowledged.
    case fileProgress(id: ReliableFileID, acknowledged: UInt64, size: UInt64)
    /// An outgoing file was received whole by the peer.
    case fileSent(id: ReliableFileID)
}

/// Why a send on a call's direct path failed.
public enum CallSendError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The call has no direct path yet (or any more).
    case notConnected
    /// The reliable channel refused the message (too large, send buffer full, ...).
    case reliable(ReliableError)
    /// The media frame was refused (too large, bad stream, ...).
    case media(MediaError)

    public var description: String {
        switch self {
        case .notConnected: return "the call is not connected"
        case let .reliable(error): return "\(error)"
        case let .media(error): return "\(error)"
        }
    }
}

/// One call's frames on the direct path: seals and sends what the reliable channel
/// and the media packetizer produce, opens what arrives and hands it to the channel
/// or the reassembler, and delivers the results. Thread-safe: one lock guards the
/// frame sealer and opener (borrowed from the call's `CallCore`), the channel and
/// the media state. Sealed datagrams leave in batches after the lock is released, in the
/// order they were sealed (`sendMutex`); only a batch that fills up in the middle of one
/// operation is sent with the lock held (libnice releases its own lock before calling
/// the receive callback, so the two never wait for each other).
final class DataPath: DeferredWake, @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private let sealer: FrameSealer
    private let opener: FrameOpener
    private let reliable: ReliableChannel
    private var packetizer: MediaPacketizer
    private var reassembler = MediaReassembler()
    private var transport: IceTransport?
    private var connected = false
    private var closed = false
    /// Consent on the sealed path: keepalives out, expiry when the peer goes quiet.
    private var consent: PathConsent
    private var consentReported = false
    private let consentLost: @Sendable () -> Void
    private let deliver: @Sendable (CallData) -> Void
    /// False while the application's reader is behind: received data then stays in the
    /// channel (flow control holds the peer back) until `resumeIncoming`.
    private let acceptsIncoming: @Sendable () -> Bool
    private let control: @Sendable ([UInt8]) -> Void
    private let channelFailed: @Sendable (ReliableError) -> Void
    /// Wakes the engine thread so it asks `nextDeadline` again. Called without the lock.
    private let deadlineMoved: @Sendable () -> Void
    /// The deadline the engine last got from `nextDeadline` (nil: none).
    private var engineDeadline: Timestamp?
    /// The ICE loop whose thread receives this path's datagrams: what arrives in one of its
    /// batches is answered (acks, the data they release) in one flush at the batch's end.
    private let loop: IceLoop?
    /// A flush is scheduled for the end of the loop's current batch (lock held).
    private var flushScheduled = false
    /// Datagrams handled since the last flush in the loop's current batch (lock held).
    private var unflushedDatagrams = 0
    /// Plaintext scratch (one frame payload).
    private let plain = UnsafeMutableRawBufferPointer.allocate(byteCount: SpecConstants.frameMaxPayload, alignment: 16)
    private let opened = UnsafeMutableRawBufferPointer.allocate(byteCount: SpecConstants.frameMaxPayload, alignment: 16)
    /// The batch being sealed into (lock held), and the other one: free, or being sent
    /// after the lock was released by whoever holds `sendMutex`.
    private var filling = SealedBatch(count: DataPath.batchCount, slotBytes: DataPath.slotBytes)
    private var spare = SealedBatch(count: DataPath.batchCount, slotBytes: DataPath.slotBytes)
    /// Held from the moment a batch is handed over (under the lock, so batches leave in the
    /// order they were sealed) until its send returned: the socket write happens outside
    /// the lock, so another thread can seal the next batch meanwhile.
    private var sendMutex = pthread_mutex_t()
    /// Datagrams per sealed batch: two batches of half `IceConstants.maxBatch`, so a call
    /// holds no more batch memory than one full batch (about 80 KB).
    private static let batchCount = IceConstants.maxBatch / 2
    private static let slotBytes = SpecConstants.frameMaxPayload + SpecConstants.frameOverhead

    /// Frames that failed to open (forged, replayed, too old): counted, never delivered.
    private(set) var refusedFrames = 0
    private(set) var framesSent = 0
    private(set) var framesReceived = 0

    init(sealer: FrameSealer, opener: FrameOpener, reliable configuration: ReliableConfiguration, consentTimeout: Duration,
         now: Timestamp,
         deliver: @escaping @Sendable (CallData) -> Void, control: @escaping @Sendable ([UInt8]) -> Void,
         channelFailed: @escaping @Sendable (ReliableError) -> Void, consentLost: @escaping @Sendable () -> Void,
         deadlineMoved: @escaping @Sendable () -> Void, loop: IceLoop? = nil,
         acceptsIncoming: @escaping @Sendable () -> Bool = { true }) throws {
        self.acceptsIncoming = acceptsIncoming
        self.sealer = sealer
        self.loop = loop
        consent = PathConsent(timeout: consentTimeout)
        self.consentLost = consentLost
        self.opener = opener
        reliable = try ReliableChannel(configuration: configuration, now: now)
        packetizer = try MediaPacketizer(maxPacketPayload: min(configuration.maxPacketPayload, MediaLimits.maxPacketPayload))
        self.deliver = deliver
        self.control = control
        self.channelFailed = channelFailed
        self.deadlineMoved = deadlineMoved
        pthread_mutex_init(&mutex, nil)
        pthread_mutex_init(&sendMutex, nil)
    }

    deinit {
        plain.deallocate()
        opened.deallocate()
        filling.deallocate()
        spare.deallocate()
        pthread_mutex_destroy(&mutex)
        pthread_mutex_destroy(&sendMutex)
    }

    /// Runs `body` with the lock held and the time read after taking it, so the channel,
    /// the sealer and consent see time in the order the lock serializes their inputs (a
    /// time read before waiting for the lock could be older than one already used).
    /// Whatever `body` sealed is sent after the lock is released (in sealing order).
    private func lockedNow<T>(_ body: (Timestamp) -> T) -> T {
        pthread_mutex_lock(&mutex)
        let result = body(MonotonicClock.now())
        let outgoing = handOverBatch()
        pthread_mutex_unlock(&mutex)
        outgoing.map(send)
        return result
    }

    /// Runs `body` with the lock held (the session's core steps that may seal use it too).
    func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }

    // MARK: Engine side

    /// The transport exists (frames can be sent once it is connected).
    func attach(_ transport: IceTransport) { locked { self.transport = transport } }

    /// ICE is connected: start sending.
    func transportConnected() {
        lockedNow { now in
            connected = true
            consent.start(now: now)
            flush(now: now)
        }
    }

    /// Stops for good: nothing is sealed, opened or sent afterwards, and a send already
    /// handed over has returned. Called before the call's keys are erased and before the
    /// transport closes.
    func close() {
        locked {
            closed = true
            connected = false
            transport = nil
            filling.clear()
            pthread_mutex_lock(&sendMutex)  // waits for a send in progress outside the lock
            pthread_mutex_unlock(&sendMutex)
        }
    }

    /// Runs the channel's and the reassembler's timers due at `now`, then sends what is ready.
    func service() {
        lockedNow { now in
            guard !closed else { return }
            reliable.handleTimeout(now: now)
            reassembler.handleTimeout(now: now)
            drainEvents()
            flush(now: now)
            serviceConsent(now: now)
        }
    }

    /// Sends a keepalive when this side has been quiet, and reports (once) a peer whose
    /// frames stopped opening for the consent timeout (lock held).
    private func serviceConsent(now: Timestamp) {
        guard connected, !closed else { return }
        if consent.expired(now: now) {
            if !consentReported {
                consentReported = true
                consentLost()
            }
            return
        }
        if consent.keepaliveDue(now: now) {
            let keepalive = ControlFrame.keepalive.encoded
            keepalive.withUnsafeBytes { plain.copyMemory(from: $0) }
            sealIntoBatch(type: FrameType.control.rawValue, count: keepalive.count, now: now)
        }
    }

    /// The earliest timer of the channel, the reassembler and consent (lock held). The
    /// channel's and consent's timers only count once ICE is connected.
    private func timersDeadline(now: Timestamp) -> Timestamp? {
        guard !closed else { return nil }
        // Asked on every datagram received: no array, no allocation.
        var earliest = reassembler.nextDeadline
        if connected {
            earliest = Timestamp.earliest(earliest, reliable.nextDeadline(now: now))
            if !consentReported { earliest = Timestamp.earliest(earliest, consent.nextDeadline) }
        }
        return earliest
    }

    func nextDeadline() -> Timestamp? {
        lockedNow { now in
            guard !closed else { return nil }
            // Before ICE is connected nothing can be sent, so the channel's timers would
            // only spin the engine; they count again from `transportConnected`.
            engineDeadline = timersDeadline(now: now)
            return engineDeadline
        }
    }

    /// True when a timer is now due before the one the engine waits for (lock held); the
    /// caller then calls `deadlineMoved` once it released the lock.
    private func deadlineMovedEarlier(now: Timestamp) -> Bool {
        guard let next = timersDeadline(now: now) else { return false }
        if let armed = engineDeadline, armed <= next { return false }
        engineDeadline = next
        return true
    }

    var reliableStats: ReliableStats { locked { reliable.stats } }
    var mediaStats: MediaReassemblyStats { locked { reassembler.stats } }

    // MARK: Application side

    func send(message: [UInt8]) throws(CallSendError) -> ReliableMessageID {
        try queueOnChannel { now throws(ReliableError) in try reliable.send(message: message, now: now) }
    }

    func startFile(size: UInt64, name: String?) throws(CallSendError) -> ReliableFileID {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        guard !closed else { throw .notConnected }
        let now = MonotonicClock.now()
        do {
            return try reliable.startFile(size: size, name: name, now: now)
        } catch {
            throw .reliable(error)
        }
    }

    /// Writes as much of `bytes` as the send buffer takes; returns how many.
    func writeFile(_ id: ReliableFileID, bytes: [UInt8]) throws(CallSendError) -> Int {
        try queueOnChannel { now throws(ReliableError) in try reliable.writeFile(id, bytes: bytes, now: now) }
    }

    /// Runs `operation` on the channel with the lock held, sends what it queued, and wakes
    /// the engine (after unlocking) when a timer moved earlier.
    private func queueOnChannel<T>(_ operation: (Timestamp) throws(ReliableError) -> T) throws(CallSendError) -> T {
        pthread_mutex_lock(&mutex)
        guard !closed else {
            pthread_mutex_unlock(&mutex)
            throw .notConnected
        }
        let now = MonotonicClock.now()
        let result: T
        do {
            result = try operation(now)
        } catch {
            pthread_mutex_unlock(&mutex)
            throw .reliable(error)
        }
        flush(now: now)
        let moved = deadlineMovedEarlier(now: now)
        let outgoing = handOverBatch()
        pthread_mutex_unlock(&mutex)
        outgoing.map(send)
        if moved { deadlineMoved() }
        return result
    }

    func sendMedia(_ frame: MediaFrame) throws(CallSendError) {
        let result: Result<Void, CallSendError> = lockedNow { now in
            guard !closed, connected else { return .failure(.notConnected) }
            let plan: MediaFragmentPlan
            do throws(MediaError) {
                plan = try packetizer.plan(frame)
            } catch {
                return .failure(.media(error))
            }
            let type = frame.kind.frameType.rawValue
            for index in 0..<plan.count {
                let count = plan.write(fragment: index, into: plain)
                sealIntoBatch(type: type, count: count, now: now)
            }
            return .success(())
        }
        try result.get()
    }

    // MARK: Network side (the ICE loop thread)

    /// One datagram from the transport. On the ICE loop's thread what it makes the channel
    /// send (an ack, data an ack released) waits for the end of the loop's batch: one flush
    /// and one ack for the datagrams the loop read from the socket in that batch (at most
    /// `ReliableConstants.ackCoalesceLimit` of them), where the receiver would otherwise ack
    /// every second packet (PROTOCOL.md, "When to ack").
    func receive(_ datagram: UnsafeRawBufferPointer) {
        let batched = loop?.isLoopThread ?? false
        enum After { case nothing, schedule, deadlineMoved }
        let after: After = lockedNow { now in
            handle(datagram, now: now)
            guard !closed else { return .nothing }
            guard batched else {
                flush(now: now)
                return deadlineMovedEarlier(now: now) ? .deadlineMoved : .nothing
            }
            unflushedDatagrams += 1
            if unflushedDatagrams >= ReliableConstants.ackCoalesceLimit {
                // A long batch still acks every `ackCoalesceLimit` packets.
                unflushedDatagrams = 0
                flush(now: now)
            }
            if flushScheduled { return .nothing }
            flushScheduled = true
            return .schedule
        }
        switch after {
        case .nothing: break
        case .schedule: loop?.wakeAfterDispatch(self)
        case .deadlineMoved: deadlineMoved()
        }
    }

    /// The application's reader caught up: take the received data the channel held back
    /// and send the window update it allows.
    func resumeIncoming() {
        let moved: Bool = lockedNow { now in
            guard !closed else { return false }
            drainEvents()
            flush(now: now)
            return deadlineMovedEarlier(now: now)
        }
        if moved { deadlineMoved() }
    }

    /// The end of the ICE loop's batch: sends what the batch's datagrams made ready.
    func wake() {
        let moved: Bool = lockedNow { now in
            flushScheduled = false
            unflushedDatagrams = 0
            guard !closed else { return false }
            flush(now: now)
            return deadlineMovedEarlier(now: now)
        }
        if moved { deadlineMoved() }
    }

    /// One datagram from the peer (lock held).
    private func handle(_ datagram: UnsafeRawBufferPointer, now: Timestamp) {
        guard !closed else { return }
        guard let (header, count) = try? opener.open(datagram, into: opened, now: now) else {
            refusedFrames += 1
            return
        }
        framesReceived += 1
        consent.frameOpened(now: now)
        let payload = UnsafeRawBufferPointer(rebasing: opened[0..<count])
        switch FrameType(rawValue: header.type) {
        case .messageData?, .messageAck?:
            try? reliable.handleIncoming(type: FrameType(rawValue: header.type)!, payload: payload, now: now)
            drainEvents()
        case .audio?, .video?:
            if let frame = try? reassembler.receive(payload, type: FrameType(rawValue: header.type)!, now: now) {
                deliver(.media(frame))
            }
        case .control?:
            let bytes = Array(payload)
            if ControlFrame.decode(bytes) != .keepalive { control(bytes) }
        case nil:
            break  // reserved type: authenticated, ignored
        }
    }

    // MARK: Internals (lock held)

    private func drainEvents() {
        while let event = reliable.pollEvent(takingIncoming: acceptsIncoming()) {
            switch event {
            case let .message(bytes): deliver(.message(bytes))
            case let .delivered(id): deliver(.delivered(id))
            case .writable: deliver(.writable)
            case let .fileStarted(id, size, name): deliver(.fileStarted(id: id, size: size, name: name))
            case let .fileData(id, bytes, received): deliver(.fileData(id: id, bytes: bytes, received: received))
            case let .fileCompleted(id, size, _): deliver(.fileCompleted(id: id, size: size))
            case let .fileFailed(id, error): deliver(.fileFailed(id: id, error: error))
            case let .fileProgress(id, acknowledged, size): deliver(.fileProgress(id: id, acknowledged: acknowledged, size: size))
            case let .fileSent(id, _): deliver(.fileSent(id: id))
            case let .failed(error): channelFailed(error)
            }
        }
    }

    /// Seals everything the channel may send now (pacing and windows permitting); the
    /// batch leaves when the lock is released (`lockedNow`, `queueOnChannel`).
    private func flush(now: Timestamp) {
        guard connected, !closed else { return }
        while let transmit = reliable.pollTransmit(now: now, into: plain) {
            sealIntoBatch(type: transmit.type.rawValue, count: transmit.byteCount, now: now)
        }
    }

    private func sealIntoBatch(type: UInt8, count: Int, now: Timestamp) {
        if filling.isFull { sendFullBatch() }
        guard let sealed = try? sealer.seal(type: type, payload: UnsafeRawBufferPointer(rebasing: plain[0..<count]),
                                            into: filling.nextSlot, now: now) else { return }
        filling.append(sealed)
        consent.frameSent(now: now)
    }

    /// A batch filled up in the middle of one operation: sent at once, lock held (after
    /// any batch still being sent outside the lock, so the order holds).
    private func sendFullBatch() {
        guard let outgoing = handOverBatch() else { return }
        send(outgoing)
    }

    /// Takes the sealed batch out for sending (lock held): waits until the previous batch
    /// was sent, then swaps buffers. The caller sends it with `send` after releasing the
    /// lock. Nil when there is nothing to send.
    private func handOverBatch() -> (IceTransport, SealedBatch)? {
        guard !filling.isEmpty else { return nil }
        guard let transport, !closed else {
            filling.clear()
            return nil
        }
        pthread_mutex_lock(&sendMutex)
        swap(&filling, &spare)
        framesSent += spare.datagrams.count
        return (transport, spare)
    }

    /// Sends a batch from `handOverBatch` and lets the next one go.
    private func send(_ outgoing: (IceTransport, SealedBatch)) {
        let (transport, batch) = outgoing
        batch.datagrams.withUnsafeBufferPointer { _ = transport.send(batch: $0) }
        batch.clear()
        pthread_mutex_unlock(&sendMutex)
    }
}

/// Sealed datagrams waiting for one `send(batch:)`: slots in one buffer.
private final class SealedBatch {
    private let storage: UnsafeMutableRawBufferPointer
    private let slotBytes: Int
    private let count: Int
    private(set) var datagrams: [UnsafeRawBufferPointer] = []

    init(count: Int, slotBytes: Int) {
        storage = .allocate(byteCount: count * slotBytes, alignment: 16)
        self.slotBytes = slotBytes
        self.count = count
        datagrams.reserveCapacity(count)
    }

    func deallocate() { storage.deallocate() }

    var isEmpty: Bool { datagrams.isEmpty }
    var isFull: Bool { datagrams.count == count }

    /// Where the next datagram is sealed.
    var nextSlot: UnsafeMutableRawBufferPointer {
        let start = datagrams.count * slotBytes
        return UnsafeMutableRawBufferPointer(rebasing: storage[start..<(start + slotBytes)])
    }

    /// The first `length` bytes of `nextSlot` hold a datagram.
    func append(_ length: Int) {
        let start = datagrams.count * slotBytes
        datagrams.append(UnsafeRawBufferPointer(rebasing: storage[start..<(start + length)]))
    }

    func clear() { datagrams.removeAll(keepingCapacity: true) }
}
