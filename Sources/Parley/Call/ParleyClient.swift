import Logging
import ParleyCrypto
import ParleyProtocol
import Synchronization

/// Everything a `ParleyClient` needs to know.
public struct ParleyConfiguration: Sendable {
    /// The signalling server: URL, trust (pin or CA), realm, reconnection.
    public var signalling: SignallingClientConfiguration
    /// STUN and TURN servers, local addresses, nomination and timeouts of ICE.
    public var ice: IceConfiguration
    /// How long each step of a call may take.
    public var callTimeouts: CallTimeouts
    /// Send buffer, receive window and packet size of each call's reliable channel.
    public var reliable: ReliableConfiguration
    /// Incoming calls that may ring at once; further invites are rejected.
    public var maxRingingCalls: Int
    /// Tests only: rewrites (or drops, by returning nil) each local candidate before it
    /// is sent to the peer, for example to route a call through a lossy `UDPRelay`.
    package var localCandidateRewrite: (@Sendable (String) -> String?)?

    public init(signalling: SignallingClientConfiguration, ice: IceConfiguration = IceConfiguration(),
                callTimeouts: CallTimeouts = .default, reliable: ReliableConfiguration = ReliableConfiguration(),
                maxRingingCalls: Int = 4) {
        self.signalling = signalling
        self.ice = ice
        self.callTimeouts = callTimeouts
        self.reliable = reliable
        self.maxRingingCalls = maxRingingCalls
    }
}

/// A device on the network: its signalling connection, its presence view, and its
/// calls. Thread-safe; use it from any thread or task.
///
///     let client = try ParleyClient(configuration: configuration, identity: identity)
///     try client.start()
///     for await call in client.incomingCalls() {
///         try call.accept(securityCode: "482-915")
///     }
///
/// `stop()` hangs up every call (erasing its keys) and closes the connection.
public final class ParleyClient: CallEngineHost, @unchecked Sendable {
    public let deviceID: DeviceID
    public let configuration: ParleyConfiguration
    let iceLoop: IceLoop
    var iceConfiguration: IceConfiguration { configuration.ice }
    var reliableConfiguration: ReliableConfiguration { configuration.reliable }
    var callTimeouts: CallTimeouts { configuration.callTimeouts }
    var localCandidateRewrite: (@Sendable (String) -> String?)? { configuration.localCandidateRewrite }
    private let identity: DeviceIdentity
    private let logger: Logger
    private let signallingLoop: SignallingLoop
    private var signalling: SignallingClient!
    private var engine: EngineThread!
    /// Set by the first `stop()` (or deinit): stopping twice does nothing.
    private let stopped = Atomic<Bool>(false)

    // Engine thread only.
    private var sessions: [CallID: CallSession] = [:]
    /// Call IDs seen recently: an invite replayed by the server must not ring twice.
    private var recentCallIDs = RecentCallIDs()

    private let streams = Mutex(Streams())
    private struct Streams {
        var incoming: [Int: AsyncStream<Call>.Continuation] = [:]
        var presence: [Int: AsyncStream<Set<DeviceID>>.Continuation] = [:]
        var next = 0
    }

    /// Checks the configuration. Nothing connects until `start()`.
    public init(configuration: ParleyConfiguration, identity: DeviceIdentity,
                logger: Logger = Logger(label: "parley.client")) throws {
        try configuration.ice.validate()
        self.configuration = configuration
        self.identity = identity
        deviceID = identity.deviceID
        var logger = logger
        logger[metadataKey: "device"] = "\(identity.deviceID.fingerprint)"
        self.logger = logger
        iceLoop = IceLoop()
        signallingLoop = try SignallingLoop()
        // Weak, not unowned: the engine thread may still ask for a deadline while a client
        // that was never stopped is being deinitialized (deinit then stops the engine).
        engine = EngineThread(nextDeadline: { [weak self] in self?.nextDeadline },
                              onDeadline: { [weak self] now in self?.service(now: now) })
        do {
            signalling = try SignallingClient(configuration: configuration.signalling, identity: identity, loop: signallingLoop,
                                              logger: logger, handler: { [weak self] event in self?.signallingEvent(event) })
        } catch {
            engine.stop()
            signallingLoop.shutdown()
            throw error
        }
    }

    /// A client released without `stop()` still stops its threads and loops (its calls,
    /// which hold it, cannot be live then).
    deinit {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        signalling?.stop()
        engine?.stop()
        signallingLoop.shutdown()
        iceLoop.stop()
    }

    /// Starts ICE and connects to the signalling server (reconnecting as configured).
    public func start() throws {
        try iceLoop.start()
        signalling.start()
    }

    /// Hangs up every call (their keys are erased when this returns), stops the
    /// signalling connection and the loops. The client cannot be started again.
    public func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        engine.sync {
            for session in Array(self.sessions.values) { session.hangUp() }
            self.sessions.removeAll()
        }
        signalling.stop()
        engine.stop()
        signallingLoop.shutdown()
        iceLoop.stop()
        let (incoming, presence) = streams.withLock { ($0.incoming.values.map { $0 }, $0.presence.values.map { $0 }) }
        incoming.forEach { $0.finish() }
        presence.forEach { $0.finish() }
    }

    /// The signalling connection's state.
    public var connectionState: ConnectionState { signalling.state }

    /// The devices of the realm that are online now.
    public var onlinePeers: Set<DeviceID> { signalling.onlinePeers }

    /// The online devices of the realm, after every change.
    public func presence() -> AsyncStream<Set<DeviceID>> {
        let (stream, continuation) = AsyncStream<Set<DeviceID>>.makeStream(bufferingPolicy: .bufferingNewest(16))
        streams.withLock { streams in
            let key = streams.next
            streams.next += 1
            streams.presence[key] = continuation
            continuation.onTermination = { [weak self] _ in _ = self?.streams.withLock { $0.presence.removeValue(forKey: key) } }
        }
        continuation.yield(signalling.onlinePeers)
        return stream
    }

    /// Calls that ring on this device. Each must be accepted or rejected (or it rings
    /// until the server's ring timeout).
    public func incomingCalls() -> AsyncStream<Call> {
        let (stream, continuation) = AsyncStream<Call>.makeStream(bufferingPolicy: .bufferingNewest(16))
        streams.withLock { streams in
            let key = streams.next
            streams.next += 1
            streams.incoming[key] = continuation
            continuation.onTermination = { [weak self] _ in _ = self?.streams.withLock { $0.incoming.removeValue(forKey: key) } }
        }
        return stream
    }

    /// Calls `device`. Returns at once; `await call.connected()` for the outcome.
    /// `securityCode` is the code both people agreed on out of band (nil for none:
    /// then compare `call.sas` aloud).
    public func call(_ device: DeviceID, securityCode: String? = nil, media: MediaPreferences = .default,
                     policy: PeerIdentityPolicy = .requireDeviceID) throws(CallError) -> Call {
        guard signalling.state.isOnline else { throw .serverUnreachable }
        let code: SecurityCode?
        do {
            code = try SecurityCode.parse(securityCode)
        } catch {
            throw .handshakeFailed(error as? CryptoError ?? .invalidSecurityCode("\(error)"))
        }
        defer { code?.erase() }
        let result: Result<Call, CallError> = engine.sync {
            do throws(CallError) {
                let core = try CallCore.outgoing(identity: self.identity, callee: device, securityCode: code, media: media,
                                                 policy: policy, timeouts: self.configuration.callTimeouts,
                                                 now: MonotonicClock.now())
                let session = CallSession(core: core, engine: self.engine, client: self, logger: self.logger)
                self.sessions[core.callID] = session
                _ = self.recentCallIDs.insert(core.callID, now: MonotonicClock.now())
                session.start()  // sends the invite
                return .success(Call(session: session, client: self))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    // MARK: CallEngineHost

    func sendSignalling(_ message: SignalMessage) {
        do {
            try signalling.send(message)
        } catch {
            logger.warning("a call message could not be sent", metadata: ["reason": "\(error)"])
        }
    }

    func callEnded(_ session: CallSession) {
        sessions[session.callID] = nil
    }

    // MARK: Engine thread

    private var nextDeadline: Timestamp? {
        sessions.values.compactMap(\.nextDeadline).min()
    }

    private func service(now: Timestamp) {
        for session in Array(sessions.values) { session.service(now: now) }
    }

    private func signallingEvent(_ event: SignallingEvent) {
        switch event {
        case let .message(message):
            engine.post { self.route(message) }
        case let .presence(online):
            let continuations = streams.withLock { Array($0.presence.values) }
            continuations.forEach { $0.yield(online) }
        case let .stateChanged(state):
            if case .stopped = state {
                engine.post { for session in Array(self.sessions.values) { session.signallingLost() } }
            }
        case .presenceChanged, .serverError:
            break
        }
    }

    private func route(_ message: SignalMessage) {
        switch message {
        case let .incomingCall(caller, callID, payload):
            guard recentCallIDs.insert(callID, now: MonotonicClock.now()) else {
                logger.notice("an invite with a call ID seen before was ignored (replayed by the server?)")
                return
            }
            let ringing = sessions.values.filter { $0.role == .callee && $0.snapshot.state == .ringing }.count
            guard ringing < configuration.maxRingingCalls else {
                sendSignalling(.reject(callID: callID))
                return
            }
            let core = CallCore.incoming(identity: identity, caller: caller, callID: callID, invitePayload: payload,
                                         timeouts: configuration.callTimeouts, now: MonotonicClock.now())
            let session = CallSession(core: core, engine: engine, client: self, logger: logger)
            sessions[callID] = session
            session.start()
            let call = Call(session: session, client: self)
            let continuations = streams.withLock { Array($0.incoming.values) }
            continuations.forEach { $0.yield(call) }
        case let .ringing(callID), let .accept(callID, _), let .signal(callID, _), let .callEnded(callID, _):
            sessions[callID]?.handle(message)
        default:
            break
        }
    }
}
