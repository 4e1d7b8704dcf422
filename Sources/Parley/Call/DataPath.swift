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
/// the media state; it is held while sending (libnice releases its own lock before
/// calling the receive callback, so the two never wait for each other).
final class DataPath: @unchecked Sendable {
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
    private let control: @Sendable ([UInt8]) -> Void
    private let channelFailed: @Sendable (ReliableError) -> Void
    /// Wakes the engine thread so it asks `nextDeadline` again. Called without the lock.
    private let deadlineMoved: @Sendable () -> Void
    /// The deadline the engine last got from `nextDeadline` (nil: none).
    private var engineDeadline: Timestamp?
    /// Plaintext scratch (one frame payload) and the sealed batch waiting for one send.
    private let plain = UnsafeMutableRawBufferPointer.allocate(byteCount: SpecConstants.frameMaxPayload, alignment: 16)
    private let opened = UnsafeMutableRawBufferPointer.allocate(byteCount: SpecConstants.frameMaxPayload, alignment: 16)
    private let batch: UnsafeMutableRawBufferPointer
    private var batchDatagrams: [UnsafeRawBufferPointer] = []
    private var batchUsed = 0
    private static let batchCount = IceConstants.maxBatch
    private static let slotBytes = SpecConstants.frameMaxPayload + SpecConstants.frameOverhead

    /// Frames that failed to open (forged, replayed, too old): counted, never delivered.
    private(set) var refusedFrames = 0
    private(set) var framesSent = 0
    private(set) var framesReceived = 0

    init(sealer: FrameSealer, opener: FrameOpener, reliable configuration: ReliableConfiguration, consentTimeout: Duration,
         now: Timestamp,
         deliver: @escaping @Sendable (CallData) -> Void, control: @escaping @Sendable ([UInt8]) -> Void,
         channelFailed: @escaping @Sendable (ReliableError) -> Void, consentLost: @escaping @Sendable () -> Void,
         deadlineMoved: @escaping @Sendable () -> Void) throws {
        self.sealer = sealer
        consent = PathConsent(timeout: consentTimeout)
        self.consentLost = consentLost
        self.opener = opener
        reliable = try ReliableChannel(configuration: configuration, now: now)
        packetizer = try MediaPacketizer(maxPacketPayload: min(configuration.maxPacketPayload, MediaLimits.maxPacketPayload))
        self.deliver = deliver
        self.control = control
        self.channelFailed = channelFailed
        self.deadlineMoved = deadlineMoved
        batch = .allocate(byteCount: DataPath.batchCount * DataPath.slotBytes, alignment: 16)
        batchDatagrams.reserveCapacity(DataPath.batchCount)
        pthread_mutex_init(&mutex, nil)
    }

    deinit {
        plain.deallocate()
        opened.deallocate()
        batch.deallocate()
        pthread_mutex_destroy(&mutex)
    }

    /// Runs `body` with the lock held and the time read after taking it, so the channel,
    /// the sealer and consent see time in the order the lock serializes their inputs (a
    /// time read before waiting for the lock could be older than one already used).
    private func lockedNow<T>(_ body: (Timestamp) throws -> T) rethrows -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body(MonotonicClock.now())
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

    /// Stops for good: nothing is sealed, opened or sent afterwards. Called before the
    /// call's keys are erased.
    func close() {
        locked {
            closed = true
            connected = false
            transport = nil
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
            sendBatch()
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
        pthread_mutex_unlock(&mutex)
        if moved { deadlineMoved() }
        return result
    }

    func sendMedia(_ frame: MediaFrame) throws(CallSendError) {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        guard !closed, connected else { throw .notConnected }
        let now = MonotonicClock.now()
        let plan: MediaFragmentPlan
        do {
            plan = try packetizer.plan(frame)
        } catch {
            throw .media(error)
        }
        let type = frame.kind.frameType.rawValue
        for index in 0..<plan.count {
            let count = plan.write(fragment: index, into: plain)
            sealIntoBatch(type: type, count: count, now: now)
        }
        sendBatch()
    }

    // MARK: Network side (the ICE loop thread)

    func receive(_ datagram: UnsafeRawBufferPointer) {
        let moved: Bool = lockedNow { now in
            handle(datagram, now: now)
            return !closed && deadlineMovedEarlier(now: now)
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
            flush(now: now)
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
        while let event = reliable.pollEvent() {
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

    /// Seals and sends everything the channel may send now (pacing and windows permitting).
    private func flush(now: Timestamp) {
        guard connected, !closed else { return }
        while let transmit = reliable.pollTransmit(now: now, into: plain) {
            sealIntoBatch(type: transmit.type.rawValue, count: transmit.byteCount, now: now)
        }
        sendBatch()
    }

    private func sealIntoBatch(type: UInt8, count: Int, now: Timestamp) {
        if batchDatagrams.count == DataPath.batchCount { sendBatch() }
        let slot = UnsafeMutableRawBufferPointer(rebasing: batch[batchUsed..<(batchUsed + DataPath.slotBytes)])
        guard let sealed = try? sealer.seal(type: type, payload: UnsafeRawBufferPointer(rebasing: plain[0..<count]),
                                            into: slot, now: now) else { return }
        batchDatagrams.append(UnsafeRawBufferPointer(rebasing: slot[0..<sealed]))
        batchUsed += DataPath.slotBytes
        consent.frameSent(now: now)
    }

    private func sendBatch() {
        defer {
            batchDatagrams.removeAll(keepingCapacity: true)
            batchUsed = 0
        }
        guard !batchDatagrams.isEmpty, let transport else { return }
        framesSent += batchDatagrams.count
        batchDatagrams.withUnsafeBufferPointer { _ = transport.send(batch: $0) }
    }
}
