import ParleyCrypto

/// One packet for the frame layer to seal and send: its frame type and payload length.
public struct ReliableTransmit: Equatable, Sendable {
    public var type: FrameType
    public var byteCount: Int
}

/// Reliable, ordered messages and file streams over the call's datagram path, sans-IO
/// (Signalling/spec-drafts/reliable.md). The channel never reads a clock and never does I/O:
///
/// - feed it what arrives: `handleIncoming(type:payload:now:)` with the opened payload of
///   every `.messageData` and `.messageAck` frame, and `handleTimeout(now:)` at `nextDeadline`;
/// - give it work: `send(message:now:)`, `startFile` / `writeFile` / `cancelFile`;
/// - drain what it produces: `pollTransmit(now:into:)` until nil (each result is one frame
///   to seal and send), `pollEvent()` until nil, then wait until `nextDeadline`.
///
/// Both directions of one call use one channel per side: data packets go out as
/// `.messageData`, acks for the peer's data as `.messageAck`.
///
/// Not thread-safe: one owner drives it from one thread (or one actor).
public final class ReliableChannel {
    public let configuration: ReliableConfiguration
    private var sender: ReliableSender
    private var receiver: ReliableReceiver
    /// What the receiver produced: messages and file data hold their receive-window bytes
    /// until taken, so an application that does not take them holds the peer back.
    private var incoming = RingQueue<ReliableQueuedEvent>()
    /// Notices about this side's sending (delivered, writable, file progress) and failures.
    private var notices = RingQueue<ReliableQueuedEvent>()
    /// Set when the channel failed; every later call refuses with `channelFailed`.
    public private(set) var failure: ReliableError?

    public init(configuration: ReliableConfiguration = ReliableConfiguration(), now: Timestamp) throws(ReliableError) {
        try configuration.validate()
        self.configuration = configuration
        sender = ReliableSender(configuration: configuration, now: now.nanoseconds)
        receiver = ReliableReceiver(configuration: configuration)
        latest = now.nanoseconds
    }

    /// The latest time any input carried. The shell may read its clock on several threads
    /// before taking its lock, so inputs can arrive slightly out of time order: a `now`
    /// earlier than one already seen counts as that one (time never goes backwards here).
    private var latest: UInt64

    private func clock(_ now: Timestamp) -> UInt64 {
        if now.nanoseconds > latest { latest = now.nanoseconds }
        return latest
    }

    // MARK: Sending

    /// Queues one message (at most `ReliableConstants.maxMessageBytes`). Throws
    /// `messageTooLarge` (stream it as a file) or `sendBufferFull` (retry after `.writable`).
    @discardableResult
    public func send(message: [UInt8], now: Timestamp) throws(ReliableError) -> ReliableMessageID {
        try checkAlive()
        return try sender.send(message: message)
    }

    /// Opens an outgoing file of exactly `size` bytes; supply them with `writeFile`. The
    /// digest record follows the last byte automatically.
    public func startFile(size: UInt64, name: String?, now: Timestamp) throws(ReliableError) -> ReliableFileID {
        try checkAlive()
        return try sender.startFile(size: size, name: name)
    }

    /// Takes as many of the file's next bytes as the send buffer holds now and returns how
    /// many; when fewer than offered, offer the rest after the `.writable` event.
    public func writeFile(_ id: ReliableFileID, bytes: UnsafeRawBufferPointer, now: Timestamp) throws(ReliableError) -> Int {
        try checkAlive()
        return try sender.writeFile(id, bytes: bytes)
    }

    /// `writeFile` for an array.
    public func writeFile(_ id: ReliableFileID, bytes: [UInt8], now: Timestamp) throws(ReliableError) -> Int {
        try checkAlive()
        var result: Result<Int, ReliableError> = .success(0)
        bytes.withUnsafeBytes { raw in
            do throws(ReliableError) { result = .success(try sender.writeFile(id, bytes: raw)) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    /// Stops an outgoing file; the peer reports `fileFailed(fileCancelled(reason))`.
    public func cancelFile(_ id: ReliableFileID, reason: UInt16, now: Timestamp) throws(ReliableError) {
        try checkAlive()
        try sender.cancelFile(id, reason: reason)
    }

    /// Bytes `send` and `writeFile` can take now.
    public var sendBufferFree: Int { sender.sendBufferFree }

    // MARK: Input

    /// Takes the opened payload of a `.messageData` or `.messageAck` frame. Throws, with the
    /// channel unchanged, for a packet that is malformed, beyond the advertised window, or
    /// acknowledges a packet never sent. A broken record stream fails the channel instead
    /// (`.failed` event).
    public func handleIncoming(type: FrameType, payload: UnsafeRawBufferPointer, now: Timestamp) throws(ReliableError) {
        try checkAlive()
        switch type {
        case .messageData:
            if let violation = try receiver.handleData(payload, now: clock(now), events: &incoming) { fail(violation) }
        case .messageAck:
            try sender.handleAck(payload, now: clock(now), events: &notices)
        default:
            throw .unexpectedFrameType(type.rawValue)
        }
    }

    /// `handleIncoming` for an array.
    public func handleIncoming(type: FrameType, payload: [UInt8], now: Timestamp) throws(ReliableError) {
        var result: Result<Void, ReliableError> = .success(())
        payload.withUnsafeBytes { raw in
            do throws(ReliableError) { try handleIncoming(type: type, payload: raw, now: now) } catch { result = .failure(error) }
        }
        try result.get()
    }

    /// Runs the timers due at `now`: loss detection, the probe timeout, the peer-silence limit.
    public func handleTimeout(now: Timestamp) {
        guard failure == nil else { return }
        if let error = sender.handleTimeout(now: clock(now)) { fail(error) }
    }

    // MARK: Output

    /// Writes the next packet to send into `buffer` (at least `maxPacketPayload` bytes):
    /// a due ack first, then data when pacing, the congestion window and the peer's window
    /// allow. Nil when nothing may go now; see `nextDeadline`.
    public func pollTransmit(now: Timestamp, into buffer: UnsafeMutableRawBufferPointer) -> ReliableTransmit? {
        precondition(buffer.count >= configuration.maxPacketPayload, "pollTransmit needs a buffer of maxPacketPayload bytes")
        guard failure == nil else { return nil }
        let now = clock(now)
        if let count = receiver.pollAck(now: now, into: buffer) {
            return ReliableTransmit(type: .messageAck, byteCount: count)
        }
        if let count = sender.pollTransmit(now: now, into: buffer) {
            return ReliableTransmit(type: .messageData, byteCount: count)
        }
        return nil
    }

    /// `pollTransmit` returning a new array.
    public func pollTransmit(now: Timestamp) -> (type: FrameType, payload: [UInt8])? {
        var type = FrameType.messageData
        let payload = [UInt8](unsafeUninitializedCapacity: configuration.maxPacketPayload) { buffer, count in
            let transmit = pollTransmit(now: now, into: UnsafeMutableRawBufferPointer(buffer))
            count = transmit?.byteCount ?? 0
            type = transmit?.type ?? .messageData
        }
        // Every packet has at least a 12-byte header, so empty means nothing was written.
        return payload.isEmpty ? nil : (type, payload)
    }

    /// The next event, or nil: what was received first (in order), then notices about
    /// sending and failures. Taking a received message or file data frees its bytes in the
    /// receive window.
    public func pollEvent() -> ReliableEvent? { pollEvent(takingIncoming: true) }

    /// `pollEvent`; with `takingIncoming` false only notices about sending and failures come
    /// out, and what was received stays here with its bytes still counted in the receive
    /// window: an application that cannot take more data holds the peer back through flow
    /// control (its window stops moving) instead of losing data.
    public func pollEvent(takingIncoming: Bool) -> ReliableEvent? {
        if takingIncoming {
            while !incoming.isEmpty {
                let queued = incoming.removeFirst()
                if let release = queued.release { receiver.release(upTo: release) }
                if let event = queued.event { return event }
            }
        }
        while !notices.isEmpty {
            if let event = notices.removeFirst().event { return event }
        }
        return nil
    }

    /// When to call `handleTimeout` (and `pollTransmit`) next; nil when nothing is pending.
    public func nextDeadline(now: Timestamp) -> Timestamp? {
        guard failure == nil else { return nil }
        // Asked on every datagram: no array, no allocation.
        let receiving = receiver.nextDeadline(), sending = sender.nextDeadline(now: clock(now))
        let earliest: UInt64? = if let receiving, let sending { min(receiving, sending) } else { receiving ?? sending }
        return earliest.map { Timestamp(nanoseconds: $0) }
    }

    // MARK: State

    public var stats: ReliableStats {
        let congestion = sender.congestionState
        return ReliableStats(
            smoothedRTTNanoseconds: sender.smoothedRTT, minRTTNanoseconds: congestion.minRTT,
            bandwidthBytesPerSecond: congestion.bandwidth, pacingRateBytesPerSecond: congestion.pacingRate,
            congestionWindowBytes: congestion.effectiveCwnd, bytesInFlight: sender.bytesInFlight,
            phase: congestion.phase.rawValue, packetsSent: sender.packetsSent,
            retransmittedPackets: sender.retransmittedPackets, lostPackets: sender.lostPackets,
            spuriousLosses: sender.spuriousLosses, probeTimeouts: sender.probeTimeouts, acksSent: receiver.acksSent,
            bytesAcknowledged: sender.bytesAcknowledged, bytesReceived: receiver.receivedOffset,
            advertisedWindowLimit: receiver.advertisedLimit, peerWindowLimit: sender.peerLimit,
            duplicatePackets: receiver.duplicatePackets)
    }

    private func checkAlive() throws(ReliableError) {
        if let failure { throw .channelFailed(code: failure.code) }
    }

    private func fail(_ error: ReliableError) {
        guard failure == nil else { return }
        failure = error
        notices.append(ReliableQueuedEvent(event: .failed(error)))
    }
}
