import ParleyCrypto
import ParleyProtocol

/// The device side of the signalling protocol without I/O (PROTOCOL.md, "Signalling
/// envelope" and "Signalling core"): authentication bound to the server's certificate,
/// presence bookkeeping, keepalive, limits, reconnection with backoff. Feed it
/// `SignallingClientInput`s with the time they happened, perform the returned
/// `SignallingClientAction`s in order, and call again with `.tick` at `nextDeadline`.
/// Outgoing messages wait in its queue until the adapter takes them with `nextOutgoing()`.
///
/// Rules beyond the protocol text, each with a test in `Tests/ParleyTests`:
/// - The first message must be `challenge`, then `welcome` (or an `error`); a `pong` is
///   tolerated before the welcome. Anything else, a second challenge or welcome, a
///   device-to-server type, or an undecodable message is a `protocolViolation`: close and
///   reconnect. A welcome for another device ID or realm is one too.
/// - Incoming messages are limited to the challenge's `maxMessageBytes` (clamped to the
///   largest valid envelope); before the challenge, to the largest valid envelope.
/// - Pings go out every `pingIntervalSeconds` (at least 1 s) from the challenge; a
///   connection that received nothing for two intervals plus `deadConnectionMargin` is dead.
/// - `error` messages about a call (`unknownCall`, `invalidTarget`, `tooManyCalls`,
///   `unexpectedMessage`) while online are call traffic; any other `error`, or any error
///   before the welcome, ends the connection; authenticationFailed, notEnrolled,
///   enrollmentCodeInvalid, revoked and replaced stop the client for good.
/// - A connection closing drops the send queue and the presence view (announced as an
///   empty `.presence`).
///
/// Not thread-safe: `SignallingClient` keeps it behind a lock.
public struct SignallingClientCore: Sendable {
    public let configuration: SignallingClientConfiguration
    private let identity: DeviceIdentity
    private var random: any RandomNumberGenerator & Sendable

    public private(set) var state: ConnectionState = .idle
    /// The online devices of the realm, this device excluded (empty unless `tracksPresence`).
    public private(set) var onlinePeers: Set<DeviceID> = []
    /// The largest message accepted from the server now, counted across WebSocket fragments.
    public private(set) var incomingLimit = SignalLimits.maxMessageBytes
    /// The largest message the server accepts from this device now.
    public private(set) var outgoingLimit = SignalLimits.maxMessageBytes

    private var phase: Phase = .idle
    /// Sent until the first welcome: a one-time code is used up by then.
    private var enrollmentCode: String
    /// Consecutive failed connections; the next attempt's number is `failures`.
    private var failures = 0
    private var keepalive: Keepalive?
    private var queue = OutgoingQueue()

    private enum Phase {
        case idle
        case connecting(deadline: Timestamp)
        case awaitingChallenge(certificateSHA256: [UInt8], deadline: Timestamp)
        case awaitingWelcome(deadline: Timestamp)
        case online(since: Timestamp)
        case waiting(until: Timestamp)
        case stopped

        /// True while a transport exists (from `.connect` until it is closed or lost).
        var hasTransport: Bool {
            switch self {
            case .connecting, .awaitingChallenge, .awaitingWelcome, .online: return true
            case .idle, .waiting, .stopped: return false
            }
        }
    }

    /// Ping schedule and liveness from the challenge on.
    private struct Keepalive {
        var interval: Duration
        var nextPingAt: Timestamp
        var lastHeard: Timestamp
        var nextPingValue: UInt64 = 1
        let margin: Duration

        var deadAt: Timestamp { lastHeard + interval * 2 + margin }
    }

    /// Creates the core. The configuration must have passed `validate()`; `random` draws
    /// the reconnect delays (tests pass a seeded generator).
    public init(configuration: SignallingClientConfiguration, identity: DeviceIdentity,
                random: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator()) {
        self.configuration = configuration
        self.identity = identity
        self.random = random
        self.enrollmentCode = configuration.enrollmentCode
    }

    /// When the core next needs a `.tick`, if ever.
    public var nextDeadline: Timestamp? {
        switch phase {
        case .idle, .stopped: return nil
        case let .connecting(deadline), let .awaitingChallenge(_, deadline): return deadline
        case let .awaitingWelcome(deadline): return min(deadline, keepaliveDeadline ?? deadline)
        case .online: return keepaliveDeadline
        case let .waiting(until): return until
        }
    }

    private var keepaliveDeadline: Timestamp? {
        keepalive.map { min($0.nextPingAt, $0.deadAt) }
    }

    /// Handles one input at time `now` and returns what to do.
    public mutating func handle(_ input: SignallingClientInput, now: Timestamp) -> [SignallingClientAction] {
        var out: [SignallingClientAction] = []
        switch input {
        case .start: start(now: now, &out)
        case .stop: stop(now: now, &out)
        case let .transportConnected(digest): transportConnected(digest, now: now, &out)
        case let .transportFailed(error): if phase.hasTransport { lose(error, close: nil, now: now, &out) }
        case let .received(bytes): received(bytes, now: now, &out)
        case let .receivedTooLarge(byteCount):
            guard phase.hasTransport, !isConnecting else { break }
            lose(SignallingClientError(.protocolViolation, "the server sent a message of at least \(byteCount) bytes; the limit is \(incomingLimit)"),
                 close: .tooBig("message over \(incomingLimit) bytes"), now: now, &out)
        case .receivedText:
            guard phase.hasTransport, !isConnecting else { break }
            lose(SignallingClientError(.protocolViolation, "the server sent a text message; the protocol uses binary messages only"),
                 close: .unsupportedData("binary messages only"), now: now, &out)
        case let .transportClosed(code, reason):
            guard phase.hasTransport else { break }
            // The server closes after an error with 4000 + (code - 2000) (PROTOCOL.md,
            // "Signalling transport"): the same verdict as the error message itself.
            if let code, code > 4000, let serverCode = SignalErrorCode(rawValue: code - 2000) {
                lose(.fromServer(serverCode, String(reason.prefix(123))), close: nil, now: now, &out)
                break
            }
            let detail = code.map { " (close code \($0)\(reason.isEmpty ? "" : ": \(reason.prefix(123))"))" } ?? ""
            lose(SignallingClientError(.connectionLost, "the connection to the server closed\(detail)"), close: nil, now: now, &out)
        case .tick: tick(now: now, &out)
        }
        return out
    }

    private var isConnecting: Bool {
        if case .connecting = phase { return true }
        return false
    }

    // MARK: Sending

    /// Encodes a message the application wants to send, refusing what a device may not
    /// send: server-to-device types and `auth` (the client authenticates by itself).
    /// Thread-safe (static): `SignallingClient` encodes before it takes its lock.
    public static func encodeForSending(_ message: SignalMessage) throws(SignallingClientError) -> [UInt8] {
        guard message.type.sender != .server, message.type != .auth else {
            throw SignallingClientError(.invalidMessage, "a device does not send \(message.type) messages")
        }
        do {
            return try SignalCodec.encode(message)
        } catch {
            throw SignallingClientError(.invalidMessage, "the message does not encode: \(error)")
        }
    }

    /// Queues an encoded message (from `encodeForSending`). Throws `notConnected` unless
    /// online, `invalidMessage` when it is over the server's limit, `sendQueueFull` when
    /// the queue would pass `maxSendQueueBytes`. Follow with a `.flush`.
    public mutating func enqueue(encoded bytes: [UInt8]) throws(SignallingClientError) {
        guard case .online = phase else { throw SignallingClientError(.notConnected, "cannot send while \(state)") }
        guard bytes.count <= outgoingLimit else {
            throw SignallingClientError(.invalidMessage, "a message of \(bytes.count) bytes is over the server's limit of \(outgoingLimit)")
        }
        guard queue.append(bytes, limit: configuration.maxSendQueueBytes) else {
            throw SignallingClientError(.sendQueueFull,
                                        "\(queue.byteCount) bytes are waiting; \(bytes.count) more would pass the limit of \(configuration.maxSendQueueBytes)")
        }
    }

    /// `encodeForSending` then `enqueue(encoded:)`.
    public mutating func enqueue(_ message: SignalMessage) throws(SignallingClientError) {
        try enqueue(encoded: SignallingClientCore.encodeForSending(message))
    }

    /// The next message to write, oldest first.
    public mutating func nextOutgoing() -> [UInt8]? { queue.popFirst() }

    /// Messages to write as one batch, oldest first: at least one (if any wait), then more
    /// while their frames stay within `maxFrameBytes` in all.
    public mutating func takeOutgoingBatch(maxFrameBytes: Int, frameOverhead: (Int) -> Int) -> [[UInt8]] {
        var batch: [[UInt8]] = []
        var total = 0
        while let size = queue.firstCount {
            let frame = size + frameOverhead(size)
            guard batch.isEmpty || total + frame <= maxFrameBytes else { break }
            guard let message = queue.popFirst() else { break }
            batch.append(message)
            total += frame
        }
        return batch
    }

    public var hasOutgoing: Bool { !queue.isEmpty }
    /// Bytes waiting in the send queue.
    public var queuedBytes: Int { queue.byteCount }

    // MARK: Connection lifecycle

    private mutating func start(now: Timestamp, _ out: inout [SignallingClientAction]) {
        switch phase {
        case .idle, .stopped:
            failures = 0
            beginAttempt(now: now, &out)
        case .connecting, .awaitingChallenge, .awaitingWelcome, .online, .waiting:
            break
        }
    }

    private mutating func stop(now: Timestamp, _ out: inout [SignallingClientAction]) {
        if case .stopped = phase { return }
        if phase.hasTransport { out.append(.close(.normal("client stopped"))) }
        endConnection(&out)
        phase = .stopped
        setState(.stopped(nil), &out)
    }

    private mutating func beginAttempt(now: Timestamp, _ out: inout [SignallingClientAction]) {
        incomingLimit = SignalLimits.maxMessageBytes
        outgoingLimit = SignalLimits.maxMessageBytes
        phase = .connecting(deadline: now + configuration.connectTimeout)
        setState(.connecting, &out)
        out.append(.connect)
    }

    private mutating func transportConnected(_ digest: [UInt8], now: Timestamp, _ out: inout [SignallingClientAction]) {
        guard case let .connecting(deadline) = phase else { return }
        guard digest.count == SignallingClientConfiguration.pinCount else {
            return lose(SignallingClientError(.certificateInvalid, "no SHA-256 of the server's certificate (\(digest.count) bytes)"),
                        close: .policyViolation("certificate"), now: now, &out)
        }
        // Defence in depth: the adapter already refused a mismatch during the handshake.
        if case let .pinned(pin) = configuration.trust, pin != digest {
            return lose(.tlsPinMismatch(expected: pin, got: digest), close: .policyViolation("certificate pin"), now: now, &out)
        }
        phase = .awaitingChallenge(certificateSHA256: digest, deadline: deadline)
        setState(.authenticating, &out)
    }

    /// Ends the current connection (if any) and reconnects, or stops for a terminal
    /// error or when the attempts are used up.
    private mutating func lose(_ error: SignallingClientError, close: WebSocketClose?, now: Timestamp, _ out: inout [SignallingClientAction]) {
        if case let .online(since) = phase, now.since(since) >= configuration.reconnect.resetAfter {
            failures = 0
        }
        if let close, phase.hasTransport { out.append(.close(close)) }
        endConnection(&out)
        if error.isTerminal {
            phase = .stopped
            return setState(.stopped(error), &out)
        }
        failures += 1
        if let maxAttempts = configuration.reconnect.maxAttempts, failures > maxAttempts {
            phase = .stopped
            return setState(.stopped(error), &out)
        }
        let delay = configuration.reconnect.backoff.delay(forAttempt: failures, using: &random)
        phase = .waiting(until: now + delay)
        setState(.waitingToReconnect(after: delay, attempt: failures, reason: error), &out)
    }

    /// Forgets everything that belonged to the connection that ends now.
    private mutating func endConnection(_ out: inout [SignallingClientAction]) {
        queue.removeAll()
        keepalive = nil
        if !onlinePeers.isEmpty {
            onlinePeers = []
            out.append(.emit(.presence(online: [])))
        }
    }

    private mutating func setState(_ newState: ConnectionState, _ out: inout [SignallingClientAction]) {
        state = newState
        out.append(.emit(.stateChanged(newState)))
    }

    // MARK: Time

    private mutating func tick(now: Timestamp, _ out: inout [SignallingClientAction]) {
        switch phase {
        case let .connecting(deadline), let .awaitingChallenge(_, deadline), let .awaitingWelcome(deadline):
            if now >= deadline {
                return lose(SignallingClientError(.timeout, "no welcome from the server within \(configuration.connectTimeout) (\(state))"),
                            close: .goingAway("connect timeout"), now: now, &out)
            }
        case let .waiting(until):
            if now >= until { return beginAttempt(now: now, &out) }
            return
        case .online:
            break
        case .idle, .stopped:
            return
        }
        guard var keepalive else { return }
        if now >= keepalive.deadAt {
            return lose(SignallingClientError(.timeout, "nothing received from the server for \(now.since(keepalive.lastHeard))"),
                        close: .goingAway("no traffic"), now: now, &out)
        }
        if now >= keepalive.nextPingAt {
            // A ping always encodes: a fixed 10-byte layout.
            queue.append(try! SignalCodec.encode(.ping(keepalive.nextPingValue)))
            keepalive.nextPingValue &+= 1
            keepalive.nextPingAt = now + keepalive.interval
            out.append(.flush)
        }
        self.keepalive = keepalive
    }

    // MARK: Receiving

    private mutating func received(_ bytes: [UInt8], now: Timestamp, _ out: inout [SignallingClientAction]) {
        guard phase.hasTransport, !isConnecting else { return }
        keepalive?.lastHeard = now
        let message: SignalMessage
        do {
            message = try SignalCodec.decode(bytes, maxBytes: incomingLimit)
        } catch {
            let close: WebSocketClose = error.code == .messageTooLarge ? .tooBig("message too large") : .protocolError("undecodable message")
            return lose(SignallingClientError(.protocolViolation, "the server sent an undecodable message: \(error)"), close: close, now: now, &out)
        }
        if case let .error(code, text) = message {
            return serverError(code, text, now: now, &out)
        }
        switch phase {
        case let .awaitingChallenge(certificate, deadline):
            guard case let .challenge(challenge) = message else {
                return violation("the server's first message must be a challenge, got \(message.type)", now: now, &out)
            }
            authenticate(challenge, certificate: certificate, deadline: deadline, now: now, &out)
        case .awaitingWelcome:
            switch message {
            case let .welcome(welcome): welcomed(welcome, now: now, &out)
            case .pong: break
            default: violation("the server sent \(message.type) before welcome", now: now, &out)
            }
        case .online:
            online(message, now: now, &out)
        case .idle, .connecting, .waiting, .stopped:
            break
        }
    }

    private mutating func violation(_ text: String, now: Timestamp, _ out: inout [SignallingClientAction]) {
        lose(SignallingClientError(.protocolViolation, text), close: .protocolError("protocol violation"), now: now, &out)
    }

    private mutating func serverError(_ code: SignalErrorCode, _ text: String, now: Timestamp, _ out: inout [SignallingClientAction]) {
        if case .online = phase, SignallingClientCore.isAboutACall(code) {
            out.append(.emit(.message(.error(code: code, message: text))))
            return
        }
        out.append(.emit(.serverError(code: code, message: text)))
        lose(.fromServer(code, text), close: .normal("server error \(code.rawValue)"), now: now, &out)
    }

    /// Errors that refuse one request and leave the connection up (PROTOCOL.md, "Calls").
    static func isAboutACall(_ code: SignalErrorCode) -> Bool {
        switch code {
        case .unexpectedMessage, .unknownCall, .invalidTarget, .tooManyCalls: return true
        default: return false
        }
    }

    private mutating func authenticate(_ challenge: Challenge, certificate: [UInt8], deadline: Timestamp, now: Timestamp,
                                       _ out: inout [SignallingClientAction]) {
        let signed = Auth.signedData(nonce: challenge.nonce, serverCertificateSHA256: certificate,
                                     realm: configuration.realm, enrollmentCode: enrollmentCode)
        let auth: [UInt8]
        do {
            let signature = try identity.sign(signed)
            auth = try SignalCodec.encode(.auth(Auth(identityKey: identity.publicKey, signature: signature,
                                                     realm: configuration.realm, enrollmentCode: enrollmentCode)))
        } catch {
            // Only an erased identity fails to sign; the realm and code were validated.
            return lose(SignallingClientError(.authenticationFailed, "cannot answer the challenge: \(error)"),
                        close: .normal("cannot authenticate"), now: now, &out)
        }
        let limit = min(Int(challenge.maxMessageBytes), SignalLimits.maxMessageBytes)
        incomingLimit = limit
        outgoingLimit = limit
        let interval = Duration.seconds(max(1, Int(challenge.pingIntervalSeconds)))
        keepalive = Keepalive(interval: interval, nextPingAt: now + interval, lastHeard: now, margin: configuration.deadConnectionMargin)
        queue.append(auth)
        out.append(.flush)
        phase = .awaitingWelcome(deadline: deadline)
    }

    private mutating func welcomed(_ welcome: Welcome, now: Timestamp, _ out: inout [SignallingClientAction]) {
        guard welcome.deviceID == identity.deviceID else {
            return violation("the server welcomed device \(welcome.deviceID.fingerprint), this device is \(identity.deviceID.fingerprint)",
                             now: now, &out)
        }
        guard Array(welcome.realm.utf8) == Array(configuration.realm.utf8) else {
            return violation("the server welcomed this device to another realm", now: now, &out)
        }
        enrollmentCode = ""
        phase = .online(since: now)
        setState(.online(welcome), &out)
    }

    private mutating func online(_ message: SignalMessage, now: Timestamp, _ out: inout [SignallingClientAction]) {
        switch message {
        case let .presenceSnapshot(devices):
            guard configuration.tracksPresence else { return }
            for device in devices where device != identity.deviceID { onlinePeers.insert(device) }
            // The snapshot is complete at the first chunk that is not full (PROTOCOL.md).
            if devices.count < SignalLimits.maxPresenceSnapshotDevices { out.append(.emit(.presence(online: onlinePeers))) }
        case let .presenceUpdate(device, isOnline):
            guard device != identity.deviceID else { return }
            out.append(.emit(.presenceChanged(device, online: isOnline)))
            guard configuration.tracksPresence else { return }
            if isOnline { onlinePeers.insert(device) } else { onlinePeers.remove(device) }
            out.append(.emit(.presence(online: onlinePeers)))
        case .incomingCall, .ringing, .accept, .callEnded, .signal:
            out.append(.emit(.message(message)))
        case .pong:
            break
        case .challenge, .welcome:
            violation("the server sent a second \(message.type)", now: now, &out)
        case .auth, .invite, .reject, .hangup, .ping:
            violation("the server sent \(message.type), a device-to-server message", now: now, &out)
        case .error:
            break  // handled before the phase switch
        }
    }
}
