import HeapModule
import ParleyCrypto
import ParleyProtocol

/// The signalling server's logic without I/O (PROTOCOL.md, "Signalling core"):
/// authentication, enrollment, presence per realm, call bookkeeping and routing,
/// limits and timeouts. Feed it `ServerInput`s with the time they happened; perform
/// the `ServerAction`s it returns in order; call again with `.tick` at `nextDeadline`.
///
/// It never sees a secret: payloads (handshake messages, sealed blobs) are relayed
/// unchanged. It persists nothing; a call is forgotten when it ends.
/// Not thread-safe: one event loop owns it.
public struct SignallingCore {
    public let configuration: ServerConfiguration
    public private(set) var statistics = ServerStatistics()
    private let policy: EnrollmentPolicy
    /// SHA-256 of the server's TLS certificate, which devices bind into their auth signature.
    private let certificateSHA256: [UInt8]
    private let entropy: EntropySource
    private var allowlist: [DeviceID: String]
    private var enrollmentCodes: [[UInt8]: Timestamp] = [:]

    private var connections: [ConnectionID: Connection] = [:]
    private var deviceConnections: [DeviceID: ConnectionID] = [:]
    /// Online devices per realm, keyed by the realm's UTF-8 bytes: String equality
    /// ignores Unicode normalisation and would merge realms that differ on the wire.
    private var realms: [[UInt8]: Set<DeviceID>] = [:]
    private var calls: [CallID: Call] = [:]
    private var deadlines = Heap<Deadline>()
    private var draining = false

    /// Creates the core. `certificateSHA256` is the SHA-256 of the DER certificate
    /// the TLS layer presents.
    public init(configuration: ServerConfiguration = ServerConfiguration(), policy: EnrollmentPolicy,
                allowlist: [DeviceID: String] = [:], certificateSHA256: [UInt8]) {
        self.init(configuration: configuration, policy: policy, allowlist: allowlist, certificateSHA256: certificateSHA256,
                  entropy: SystemEntropy.shared)
    }

    /// Tests and simulations: a given entropy source for challenge nonces.
    package init(configuration: ServerConfiguration, policy: EnrollmentPolicy, allowlist: [DeviceID: String],
                 certificateSHA256: [UInt8], entropy: EntropySource) {
        self.configuration = configuration
        self.policy = policy
        self.allowlist = allowlist
        self.certificateSHA256 = certificateSHA256
        self.entropy = entropy
    }

    /// When the core next needs a `.tick`, if ever.
    public var nextDeadline: Timestamp? { deadlines.min?.at }

    /// Connections currently open (authenticated or not).
    public var connectionCount: Int { connections.count }

    /// Authenticated devices currently online.
    public var deviceCount: Int { deviceConnections.count }

    /// Calls currently ringing or connected.
    public var callCount: Int { calls.count }

    /// Handles one input at time `now` and returns what to do.
    public mutating func handle(_ input: ServerInput, now: Timestamp) -> [ServerAction] {
        var out = Output()
        switch input {
        case let .connected(id): connect(id, now: now, &out)
        case let .received(id, message, byteCount): receive(id, message, byteCount: byteCount, now: now, &out)
        case let .undecodable(id, code, reason, byteCount): undecodable(id, code, reason, byteCount: byteCount, now: now, &out)
        case let .disconnected(id): forget(id, now: now, &out)
        case let .sendQueueOverflow(id): fail(id, .sendQueueFull, "send queue full: the device does not read fast enough", now: now, &out)
        case .tick: expire(now: now, &out)
        case let .allowlistChanged(list): replaceAllowlist(list, now: now, &out)
        case let .enrollmentCodesChanged(codes): enrollmentCodes = codes
        case .shutdown: shutDown(now: now, &out)
        }
        return out.actions
    }

    // MARK: Connections

    private mutating func connect(_ id: ConnectionID, now: Timestamp, _ out: inout Output) {
        guard !draining else {
            out.refuse(id, .shuttingDown, "the server is shutting down")
            return
        }
        guard connections.count < configuration.maxConnections else {
            statistics.rejectionsByReason[.serverFull, default: 0] += 1
            out.refuse(id, .serverFull, "the server holds its maximum of \(configuration.maxConnections) connections")
            return
        }
        let nonce = entropy.bytes(Challenge.nonceCount)
        var connection = Connection(nonce: nonce, connectedAt: now, configuration: configuration)
        connection.lastHeard = now
        connections[id] = connection
        statistics.connectionsAccepted += 1
        deadlines.insert(Deadline(at: now + configuration.handshakeTimeout, subject: .connection(id)))
        out.send(id, .challenge(Challenge(nonce: nonce, maxMessageBytes: UInt32(configuration.maxMessageBytes),
                                          pingIntervalSeconds: configuration.pingIntervalSeconds)))
    }

    private mutating func receive(_ id: ConnectionID, _ message: SignalMessage, byteCount: Int, now: Timestamp, _ out: inout Output) {
        guard var connection = connections[id] else { return }
        connection.lastHeard = now
        guard byteCount <= configuration.maxMessageBytes else {
            connections[id] = connection
            return fail(id, .messageTooLarge, "message of \(byteCount) bytes exceeds \(configuration.maxMessageBytes)", now: now, &out)
        }
        guard connection.limiter.admit(bytes: byteCount, now: now) else {
            connections[id] = connection
            return fail(id, .rateLimited, "rate limit exceeded", now: now, &out)
        }
        connections[id] = connection
        guard let device = connection.device else {
            guard case let .auth(auth) = message else {
                return fail(id, .unexpectedMessage, "the first message must be auth", now: now, &out)
            }
            return authenticate(id, auth, now: now, &out)
        }
        switch message {
        case let .invite(callee, callID, payload): invite(from: device, id, callee: callee, callID: callID, payload: payload, now: now, &out)
        case let .accept(callID, payload): accept(from: device, id, callID: callID, payload: payload, &out)
        case let .reject(callID): reject(from: device, id, callID: callID, &out)
        case let .signal(callID, payload): relaySignal(from: device, id, callID: callID, payload: payload, &out)
        case let .hangup(callID): hangUp(from: device, id, callID: callID, &out)
        case let .ping(value): out.send(id, .pong(value))
        case .auth:
            out.error(id, .unexpectedMessage, "already authenticated")
        case .challenge, .welcome, .presenceSnapshot, .presenceUpdate, .incomingCall, .ringing, .callEnded, .pong, .error:
            fail(id, .unexpectedMessage, "a server-to-device message was sent by a device", now: now, &out)
        }
    }

    private mutating func undecodable(_ id: ConnectionID, _ code: SignalErrorCode, _ reason: String, byteCount: Int,
                                      now: Timestamp, _ out: inout Output) {
        guard connections[id] != nil else { return }
        fail(id, code, reason, now: now, &out)
    }

    /// Sends an error, closes the connection and forgets it (ending its calls).
    private mutating func fail(_ id: ConnectionID, _ code: SignalErrorCode, _ reason: String, now: Timestamp, _ out: inout Output) {
        guard connections[id] != nil else { return }
        statistics.rejectionsByReason[code, default: 0] += 1
        out.refuse(id, code, reason)
        forget(id, now: now, &out)
    }

    /// Removes a connection: its calls end for the other parties, its device goes offline.
    private mutating func forget(_ id: ConnectionID, now: Timestamp, _ out: inout Output) {
        guard let connection = connections.removeValue(forKey: id) else { return }
        guard let device = connection.device, deviceConnections[device] == id else { return }
        deviceConnections[device] = nil
        endCalls(of: device, outcome: .peerGone, &out)
        if let realm = connection.realm {
            realms[realm]?.remove(device)
            if realms[realm]?.isEmpty == true { realms[realm] = nil }
            broadcastPresence(device, online: false, realm: realm, &out)
        }
    }

    // MARK: Authentication and enrollment

    private mutating func authenticate(_ id: ConnectionID, _ auth: Auth, now: Timestamp, _ out: inout Output) {
        guard let connection = connections[id] else { return }
        guard !auth.realm.isEmpty, auth.realm.utf8.count <= Auth.maxRealmBytes else {
            return fail(id, .malformed, "realm must be 1...\(Auth.maxRealmBytes) bytes", now: now, &out)
        }
        let signed = Auth.signedData(nonce: connection.nonce, serverCertificateSHA256: certificateSHA256,
                                     realm: auth.realm, enrollmentCode: auth.enrollmentCode)
        guard Ed25519.isValidSignature(auth.signature, of: signed, publicKey: auth.identityKey),
              let device = try? DeviceID(publicKey: auth.identityKey) else {
            return fail(id, .authenticationFailed, "the signature over the challenge does not verify", now: now, &out)
        }
        if policy == .allowlist && allowlist[device] == nil {
            guard !auth.enrollmentCode.isEmpty else {
                return fail(id, .notEnrolled, "device \(device.fingerprint) is not enrolled on this server", now: now, &out)
            }
            let digest = EnrollmentCodes.digest(auth.enrollmentCode)
            guard let expiry = enrollmentCodes[digest], now < expiry else {
                return fail(id, .enrollmentCodeInvalid, "the enrollment code is unknown, used or expired", now: now, &out)
            }
            enrollmentCodes[digest] = nil  // one time
            allowlist[device] = ""
            out.actions.append(.enrolled(device, codeDigest: digest))
        }
        if let previous = deviceConnections[device] {
            // One live connection per device: the newest wins (PROTOCOL.md, "Authentication").
            statistics.rejectionsByReason[.replaced, default: 0] += 1
            out.refuse(previous, .replaced, "this device connected again elsewhere")
            forget(previous, now: now, &out)
        }
        let realm = Array(auth.realm.utf8)
        connections[id]?.device = device
        connections[id]?.realm = realm
        deviceConnections[device] = id
        statistics.authenticated += 1
        // From now on the idle timeout applies, which may be shorter than the handshake's.
        deadlines.insert(Deadline(at: now + configuration.idleTimeout, subject: .connection(id)))
        out.send(id, .welcome(Welcome(deviceID: device, realm: auth.realm)))
        // The snapshot is split into messages of at most maxPresenceSnapshotDevices; the
        // device's view is the union of the snapshots, then updates (PROTOCOL.md, "Presence").
        let others = (realms[realm] ?? []).sorted()
        let chunk = SignalLimits.maxPresenceSnapshotDevices
        // The last chunk always holds fewer than `chunk` devices (possibly none): a device
        // knows its snapshot is complete when a chunk is not full.
        for start in stride(from: 0, through: others.count, by: chunk) {
            out.send(id, .presenceSnapshot(Array(others[start..<min(start + chunk, others.count)])))
        }
        broadcastPresence(device, online: true, realm: realm, &out)
        realms[realm, default: []].insert(device)
    }

    private mutating func replaceAllowlist(_ list: [DeviceID: String], now: Timestamp, _ out: inout Output) {
        allowlist = list
        guard policy == .allowlist else { return }
        for (device, id) in deviceConnections.sorted(by: { $0.value < $1.value }) where list[device] == nil {
            fail(id, .revoked, "device \(device.fingerprint) was removed from this server", now: now, &out)
        }
    }

    private func broadcastPresence(_ device: DeviceID, online: Bool, realm: [UInt8], _ out: inout Output) {
        for other in (realms[realm] ?? []).sorted() where other != device {
            if let id = deviceConnections[other] { out.send(id, .presenceUpdate(device: device, online: online)) }
        }
    }

    // MARK: Calls

    private mutating func invite(from caller: DeviceID, _ id: ConnectionID, callee: DeviceID, callID: CallID, payload: [UInt8],
                                 now: Timestamp, _ out: inout Output) {
        guard callee != caller else { return out.error(id, .invalidTarget, "a device cannot call itself") }
        guard calls[callID] == nil else { return out.error(id, .unexpectedMessage, "call ID \(callID) is already in use") }
        guard callsInvolving(caller).count < configuration.maxCallsPerDevice else {
            return out.error(id, .tooManyCalls, "at most \(configuration.maxCallsPerDevice) calls at once")
        }
        let realm = connections[id]?.realm
        guard let calleeConnection = deviceConnections[callee], connections[calleeConnection]?.realm == realm else {
            return finish(callID, caller: caller, callerConnection: id, .unavailable, &out)
        }
        let calleeCalls = callsInvolving(callee)
        if let crossing = calleeCalls.first(where: { calls[$0]?.caller == callee && calls[$0]?.callee == caller && calls[$0]?.state == .ringing }) {
            // Glare: both called each other. The call placed by the lower device ID survives.
            if caller < callee {
                end(crossing, outcome: .glare, &out)
            } else {
                return finish(callID, caller: caller, callerConnection: id, .glare, &out)
            }
        } else if !calleeCalls.isEmpty {
            return finish(callID, caller: caller, callerConnection: id, .busy, &out)
        }
        calls[callID] = Call(caller: caller, callee: callee, state: .ringing, startedAt: now)
        deadlines.insert(Deadline(at: now + configuration.ringTimeout, subject: .call(callID)))
        statistics.relayedByType["invite", default: 0] += 1
        out.send(calleeConnection, .incomingCall(caller: caller, callID: callID, payload: payload))
        out.send(id, .ringing(callID: callID))
    }

    private mutating func accept(from device: DeviceID, _ id: ConnectionID, callID: CallID, payload: [UInt8], _ out: inout Output) {
        guard var call = calls[callID], call.callee == device, call.state == .ringing else {
            return out.error(id, .unknownCall, "no call \(callID) is ringing for this device")
        }
        call.state = .connected
        calls[callID] = call
        statistics.callsConnected += 1
        statistics.relayedByType["accept", default: 0] += 1
        if let callerConnection = deviceConnections[call.caller] { out.send(callerConnection, .accept(callID: callID, payload: payload)) }
    }

    private mutating func reject(from device: DeviceID, _ id: ConnectionID, callID: CallID, _ out: inout Output) {
        guard let call = calls[callID], call.callee == device, call.state == .ringing else {
            return out.error(id, .unknownCall, "no call \(callID) is ringing for this device")
        }
        calls[callID] = nil
        count(.rejected)
        if let callerConnection = deviceConnections[call.caller] { out.send(callerConnection, .callEnded(callID: callID, outcome: .rejected)) }
    }

    private mutating func relaySignal(from device: DeviceID, _ id: ConnectionID, callID: CallID, payload: [UInt8], _ out: inout Output) {
        guard let call = calls[callID], call.state == .connected, let other = call.other(than: device) else {
            return out.error(id, .unknownCall, "no connected call \(callID) with this device")
        }
        statistics.relayedByType["signal", default: 0] += 1
        if let otherConnection = deviceConnections[other] { out.send(otherConnection, .signal(callID: callID, payload: payload)) }
    }

    private mutating func hangUp(from device: DeviceID, _ id: ConnectionID, callID: CallID, _ out: inout Output) {
        guard let call = calls[callID], let other = call.other(than: device) else {
            return out.error(id, .unknownCall, "no call \(callID) with this device")
        }
        calls[callID] = nil
        let outcome: CallOutcome
        switch (call.state, device == call.caller) {
        case (.ringing, true): outcome = .cancelled
        case (.ringing, false): outcome = .rejected
        case (.connected, _): outcome = .hungUp
        }
        count(outcome)
        if let otherConnection = deviceConnections[other] { out.send(otherConnection, .callEnded(callID: callID, outcome: outcome)) }
    }

    /// Ends a call that never started (no state kept): tells the caller only.
    private mutating func finish(_ callID: CallID, caller: DeviceID, callerConnection: ConnectionID, _ outcome: CallOutcome, _ out: inout Output) {
        count(outcome)
        out.send(callerConnection, .callEnded(callID: callID, outcome: outcome))
    }

    /// Ends a known call and tells both parties.
    private mutating func end(_ callID: CallID, outcome: CallOutcome, _ out: inout Output) {
        guard let call = calls.removeValue(forKey: callID) else { return }
        count(outcome)
        for party in [call.caller, call.callee] {
            if let id = deviceConnections[party] { out.send(id, .callEnded(callID: callID, outcome: outcome)) }
        }
    }

    private mutating func endCalls(of device: DeviceID, outcome: CallOutcome, _ out: inout Output) {
        for callID in callsInvolving(device) {
            guard let call = calls.removeValue(forKey: callID), let other = call.other(than: device) else { continue }
            count(outcome)
            if let id = deviceConnections[other] { out.send(id, .callEnded(callID: callID, outcome: outcome)) }
        }
    }

    private func callsInvolving(_ device: DeviceID) -> [CallID] {
        calls.filter { $0.value.caller == device || $0.value.callee == device }.map(\.key).sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) }
    }

    private mutating func count(_ outcome: CallOutcome) {
        statistics.callsByOutcome["\(outcome)", default: 0] += 1
    }

    // MARK: Time

    private mutating func expire(now: Timestamp, _ out: inout Output) {
        while let next = deadlines.min, next.at <= now {
            _ = deadlines.removeMin()
            switch next.subject {
            case let .connection(id):
                guard let connection = connections[id] else { continue }
                if connection.device == nil {
                    if now >= connection.connectedAt + configuration.handshakeTimeout {
                        fail(id, .handshakeTimeout, "no authentication within \(configuration.handshakeTimeout)", now: now, &out)
                    } else {
                        deadlines.insert(Deadline(at: connection.connectedAt + configuration.handshakeTimeout, subject: .connection(id)))
                    }
                } else {
                    let idleAt = connection.lastHeard + configuration.idleTimeout
                    if now >= idleAt {
                        fail(id, .idleTimeout, "nothing heard for \(configuration.idleTimeout)", now: now, &out)
                    } else {
                        deadlines.insert(Deadline(at: idleAt, subject: .connection(id)))
                    }
                }
            case let .call(callID):
                guard let call = calls[callID], call.state == .ringing else { continue }
                if now >= call.startedAt + configuration.ringTimeout { end(callID, outcome: .unanswered, &out) }
            }
        }
    }

    private mutating func shutDown(now: Timestamp, _ out: inout Output) {
        draining = true
        for id in connections.keys.sorted() {
            out.refuse(id, .shuttingDown, "the server is shutting down; reconnect later")
        }
        connections.removeAll()
        deviceConnections.removeAll()
        realms.removeAll()
        calls.removeAll()
        deadlines = Heap()
    }
}

// MARK: State

private struct Connection {
    let nonce: [UInt8]
    let connectedAt: Timestamp
    var lastHeard: Timestamp
    var device: DeviceID?
    /// The realm's UTF-8 bytes, once authenticated.
    var realm: [UInt8]?
    var limiter: RateLimiter

    init(nonce: [UInt8], connectedAt: Timestamp, configuration: ServerConfiguration) {
        self.nonce = nonce
        self.connectedAt = connectedAt
        self.lastHeard = connectedAt
        self.limiter = RateLimiter(configuration: configuration, now: connectedAt)
    }
}

private struct Call {
    enum State { case ringing, connected }
    let caller: DeviceID
    let callee: DeviceID
    var state: State
    let startedAt: Timestamp

    func other(than device: DeviceID) -> DeviceID? {
        device == caller ? callee : device == callee ? caller : nil
    }
}

private struct Deadline: Comparable {
    enum Subject { case connection(ConnectionID), call(CallID) }
    let at: Timestamp
    let subject: Subject
    static func < (lhs: Deadline, rhs: Deadline) -> Bool { lhs.at < rhs.at }
    static func == (lhs: Deadline, rhs: Deadline) -> Bool { lhs.at == rhs.at }
}

/// Actions collected while handling one input.
private struct Output {
    var actions: [ServerAction] = []

    mutating func send(_ id: ConnectionID, _ message: SignalMessage) { actions.append(.send(id, message)) }

    mutating func error(_ id: ConnectionID, _ code: SignalErrorCode, _ text: String) {
        actions.append(.send(id, .error(code: code, message: text)))
    }

    /// An error frame, then a close with the same code.
    mutating func refuse(_ id: ConnectionID, _ code: SignalErrorCode, _ text: String) {
        error(id, code, text)
        actions.append(.close(id, code))
    }
}
