#if canImport(Glibc)
import Glibc
#endif
import Logging
import ParleyCrypto
import ParleyProtocol
import Synchronization

/// What a `Call` handle reads without waiting for the engine thread.
struct CallSnapshot: Sendable {
    var state: CallState
    var sas: ShortAuthenticationString?
    var path: CandidatePair?
    var negotiatedMedia: NegotiatedMedia?
}

/// Where the engine sends a call's signalling messages.
protocol CallSignallingSink: AnyObject, Sendable {
    func send(_ message: SignalMessage)
}

/// One call inside a `ParleyClient`: the `CallCore` (only ever touched on the engine
/// thread), its ICE transport and its data path, and the streams the application reads.
final class CallSession: @unchecked Sendable {
    let callID: CallID
    let peer: DeviceID
    let role: CallRole
    private let core: CallCore
    private let engine: EngineThread
    private unowned let client: CallEngineHost
    private let logger: Logger

    // Engine thread only.
    private var transport: IceTransport?
    private var dataPath: DataPath?
    private var connectWaiters: [CheckedContinuation<Void, any Error>] = []

    private let shared: Mutex<Shared>
    /// The direct path's data on its way to `received()`.
    private let data: CallDataQueue
    /// Where wakes of the data's reader wait for the end of a batch of datagrams.
    private let iceLoop: IceLoop
    private struct Shared {
        var snapshot: CallSnapshot
        var dataPath: DataPath?
        var transport: IceTransport?
        var eventContinuations: [Int: AsyncStream<CallEvent>.Continuation] = [:]
        var nextContinuation = 0
        var counters = CallCounters()
        var lastReliableStats: ReliableStats?
        var lastMediaStats: MediaReassemblyStats?
        var lastIceStats: IceTransportStats?
        var framesSent = 0
        var framesReceived = 0
        var refusedFrames = 0
    }

    init(core: CallCore, engine: EngineThread, client: CallEngineHost, logger: Logger) {
        self.core = core
        self.engine = engine
        self.client = client
        callID = core.callID
        peer = core.peer
        role = core.role
        var logger = logger
        logger[metadataKey: "call"] = "\(core.callID)"
        self.logger = logger
        data = CallDataQueue(itemLimit: CallSession.dataBufferLimit, byteLimit: CallSession.dataBufferBytes,
                             pauseItems: CallSession.incomingPauseItems, pauseBytes: CallSession.incomingPauseBytes)
        iceLoop = client.iceLoop
        shared = Mutex(Shared(snapshot: CallSnapshot(state: core.state)))
        data.whenRoom { [weak self] in self?.shared.withLock { $0.dataPath }?.resumeIncoming() }
    }

    var snapshot: CallSnapshot { shared.withLock { $0.snapshot } }
    var isEnded: Bool { snapshot.state.isEnded }

    // MARK: Streams

    func eventStream() -> AsyncStream<CallEvent> {
        let (stream, continuation) = AsyncStream<CallEvent>.makeStream(bufferingPolicy: .bufferingNewest(256))
        let ended: CallEnd? = shared.withLock { shared in
            if case let .ended(end) = shared.snapshot.state { return end }
            let key = shared.nextContinuation
            shared.nextContinuation += 1
            shared.eventContinuations[key] = continuation
            continuation.onTermination = { [weak self] _ in
                _ = self?.shared.withLock { $0.eventContinuations.removeValue(forKey: key) }
            }
            return nil
        }
        if let ended {
            continuation.yield(.ended(ended))
            continuation.finish()
        }
        return stream
    }

    /// The stream of direct-path data, buffered from the session's start so nothing that
    /// arrives before the application asks is lost. Its first iterator reads it; any
    /// other iterator finishes at once.
    func dataStream() -> CallDataStream { CallDataStream(queue: data) }

    /// Deliveries buffered for a slow `received()` consumer before further ones are dropped (and counted).
    static let dataBufferLimit = 65_536
    /// Message, file and media bytes buffered for a slow `received()` consumer before
    /// further deliveries are dropped (and counted): 64 MiB.
    static let dataBufferBytes = 64 << 20
    /// Received messages and file chunks, and their bytes, waiting for the reader before
    /// the data path leaves further ones in the reliable channel (whose window then holds
    /// the peer back): nothing received is dropped for a slow reader.
    static let incomingPauseItems = 4096
    static let incomingPauseBytes = 1 << 20

    /// Hands `item` to the reader. On the ICE loop thread the reader's wake waits for the
    /// end of the loop's batch of datagrams (one wake for many items).
    private func deliver(_ item: CallData) {
        switch data.append(item) {
        case .none:
            break
        case .now:
            data.wake()
        case .deferred:
            if iceLoop.isLoopThread { iceLoop.wakeAfterDispatch(data) } else { data.wake() }
        }
    }

    // MARK: Application operations (any thread)

    func accept(securityCode text: String?, media: MediaPreferences, policy: PeerIdentityPolicy) throws(CallError) {
        let code: SecurityCode?
        do {
            code = try SecurityCode.parse(text)
        } catch {
            throw .handshakeFailed(error as? CryptoError ?? .invalidSecurityCode("\(error)"))
        }
        defer { code?.erase() }
        let result: Result<Void, CallError> = engine.sync {
            do throws(CallError) {
                try self.core.accept(securityCode: code, media: media, policy: policy, now: MonotonicClock.now())
                self.pump()
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
    }

    func reject() throws(CallError) {
        let result: Result<Void, CallError> = engine.sync {
            do throws(CallError) {
                try self.core.reject(now: MonotonicClock.now())
                self.pump()
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
    }

    /// Returns once the call has ended and its keys are erased.
    func hangUp() {
        engine.sync {
            self.guarded { self.core.hangUp(now: MonotonicClock.now()) }
            self.pump()
        }
    }

    func waitUntilConnected() async throws(CallError) {
        do {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                engine.post {
                    switch self.core.state {
                    case .connected: continuation.resume()
                    case let .ended(end): continuation.resume(throwing: CallSession.error(for: end))
                    default: self.connectWaiters.append(continuation)
                    }
                }
            }
        } catch let error as CallError {
            throw error
        } catch {
            throw .invalidState("\(error)")
        }
    }

    func withDataPath<T>(_ body: (DataPath) throws(CallSendError) -> T) throws(CallSendError) -> T {
        guard let path = shared.withLock({ $0.dataPath }) else { throw .notConnected }
        return try body(path)
    }

    var stats: CallStats {
        let path = shared.withLock { $0.dataPath }
        var stats = CallStats()
        if let path {
            stats.framesSent = path.framesSent
            stats.framesReceived = path.framesReceived
            stats.refusedFrames = path.refusedFrames
            stats.reliable = path.reliableStats
            stats.media = path.mediaStats
        }
        shared.withLock { shared in
            if path == nil {
                stats.framesSent = shared.framesSent
                stats.framesReceived = shared.framesReceived
                stats.refusedFrames = shared.refusedFrames
                stats.reliable = shared.lastReliableStats
                stats.media = shared.lastMediaStats
            }
            stats.droppedDeliveries = data.dropped
            stats.signalling = shared.counters
            stats.ice = shared.lastIceStats
        }
        if let transport = shared.withLock({ $0.transport }) { stats.ice = transport.stats }
        return stats
    }

    // MARK: Engine thread

    /// Performs what the new core already emitted (the invite, or the ringing state).
    func start() { pump() }

    /// A signalling message for this call.
    func handle(_ message: SignalMessage) {
        guarded { core.handleSignalling(message, now: MonotonicClock.now()) }
        pump()
    }

    /// The server connection is gone for good: a call still being set up cannot go on.
    func signallingLost() {
        guard core.state != .connected, !core.state.isEnded else { return }
        guarded { core.hangUp(now: MonotonicClock.now()) }
        pump()
    }

    func transportInput(_ input: TransportInput) {
        if case .connected = input { dataPath?.transportConnected() }
        guarded { core.handleTransport(input, now: MonotonicClock.now()) }
        pump()
    }

    var nextDeadline: Timestamp? { Timestamp.earliest(core.nextDeadline, dataPath?.nextDeadline()) }

    func service(now: Timestamp) {
        if let deadline = core.nextDeadline, deadline <= now {
            guarded { core.handleTimeout(now: now) }
            pump()
        }
        dataPath?.service()
    }

    /// Runs `body` (a core step that may seal the goodbye frame) holding the data path's
    /// lock, so the core's use of the frame sealer never overlaps a send.
    private func guarded(_ body: () -> Void) {
        if let dataPath { dataPath.locked(body) } else { body() }
    }

    /// Performs the core's outputs in order.
    private func pump() {
        while let output = core.pollOutput() {
            switch output {
            case let .signalling(message):
                client.sendSignalling(message)
            case let .transport(command):
                perform(command)
            case let .event(event):
                publish(event)
            }
        }
        shared.withLock { $0.counters = core.counters }
    }

    private func publish(_ event: CallEvent) {
        let continuations = shared.withLock { shared -> [AsyncStream<CallEvent>.Continuation] in
            switch event {
            case let .stateChanged(state): shared.snapshot.state = state
            case let .secured(sas, _): shared.snapshot.sas = sas
            case let .negotiated(media): shared.snapshot.negotiatedMedia = media
            case let .pathSelected(pair): shared.snapshot.path = pair
            case .ended: break
            }
            return Array(shared.eventContinuations.values)
        }
        for continuation in continuations { continuation.yield(event) }
        switch event {
        case .stateChanged(.connected):
            logger.info("call connected", metadata: ["path": "\(core.path.map { "\($0)" } ?? "?")"])
            resumeWaiters(with: nil)
        case let .ended(end):
            logger.info("call ended", metadata: ["end": "\(end)"])
            resumeWaiters(with: CallSession.error(for: end))
            let events = shared.withLock { shared in
                defer { shared.eventContinuations = [:] }
                return Array(shared.eventContinuations.values)
            }
            events.forEach { $0.finish() }
            data.finish()
            client.callEnded(self)
        default:
            break
        }
    }

    private func resumeWaiters(with error: CallError?) {
        let waiters = connectWaiters
        connectWaiters = []
        for waiter in waiters {
            if let error { waiter.resume(throwing: error) } else { waiter.resume() }
        }
    }

    private func perform(_ command: TransportCommand) {
        switch command {
        case let .start(controlling):
            startTransport(controlling: controlling)
        case let .setRemoteCredentials(credentials):
            failOnIceError { () throws(IceError) in try transport?.setRemoteCredentials(credentials) }
        case let .addRemoteCandidate(attribute):
            do {
                try transport?.addRemoteCandidate(attribute)
            } catch {
                logger.debug("remote candidate refused", metadata: ["reason": "\(error)"])
            }
        case .endOfRemoteCandidates:
            transport?.endOfRemoteCandidates()
        case let .sendFrame(frame):
            frame.withUnsafeBytes { _ = transport?.send($0) }
        case .stop:
            stopTransport()
        }
    }

    private func startTransport(controlling: Bool) {
        guard transport == nil, let sealer = core.frameSealer, let opener = core.frameOpener else { return }
        let path: DataPath
        do {
            path = try DataPath(
                sealer: sealer, opener: opener, reliable: client.reliableConfiguration,
                consentTimeout: client.callTimeouts.pathConsent, now: MonotonicClock.now(),
                deliver: { [weak self] data in self?.deliver(data) },
                control: { [weak self] payload in
                    guard let self else { return }
                    self.engine.post { self.transportInput(.controlFrame(payload)) }
                },
                channelFailed: { [weak self] error in
                    guard let self else { return }
                    self.engine.post { self.transportInput(.failed("the reliable channel failed: \(error)")) }
                },
                consentLost: { [weak self] in
                    guard let self else { return }
                    self.engine.post { self.transportInput(.consentLost) }
                },
                deadlineMoved: { [engine] in engine.poke() }, loop: client.iceLoop,
                acceptsIncoming: { [data] in data.acceptsIncoming })
        } catch {
            failTransport("the data path could not start: \(error)")
            return
        }
        let transport: IceTransport
        do {
            transport = try IceTransport(
                loop: client.iceLoop, configuration: client.iceConfiguration, controlling: controlling,
                events: { [weak self] event in
                    guard let self else { return }
                    self.engine.post { self.iceEvent(event) }
                },
                receive: { [weak path] datagram in path?.receive(datagram) })
        } catch {
            failTransport("\(error)")
            return
        }
        self.transport = transport
        dataPath = path
        path.attach(transport)
        shared.withLock {
            $0.dataPath = path
            $0.transport = transport
        }
        guarded { core.handleTransport(.started(transport.localCredentials), now: MonotonicClock.now()) }
        failOnIceError { () throws(IceError) in try transport.gather() }
    }

    private func iceEvent(_ event: IceTransportEvent) {
        guard transport != nil else { return }
        switch event {
        case let .localCandidate(attribute):
            if let rewrite = client.localCandidateRewrite {
                if let rewritten = rewrite(attribute) { transportInput(.localCandidate(rewritten)) }
            } else {
                transportInput(.localCandidate(attribute))
            }
        case .gatheringComplete:
            transportInput(.gatheringComplete)
        case let .selectedPair(pair):
            if transport?.state == .connected { transportInput(.connected(pair)) }
        case let .stateChanged(state):
            switch state {
            case .connected:
                if let pair = transport?.selectedPair { transportInput(.connected(pair)) }
            case let .failed(error):
                transportInput(.failed("ICE failed: \(error)"))
            case .disconnected:
                transportInput(.consentLost)
            default:
                break
            }
        }
    }

    private func failOnIceError(_ body: () throws(IceError) -> Void) {
        do {
            try body()
        } catch {
            failTransport("\(error)")
        }
    }

    private func failTransport(_ reason: String) {
        guarded { core.handleTransport(.failed(reason), now: MonotonicClock.now()) }
        pump()
    }

    private func stopTransport() {
        let path = dataPath
        path?.close()
        shared.withLock { shared in
            shared.dataPath = nil
            if let path {
                shared.framesSent = path.framesSent
                shared.framesReceived = path.framesReceived
                shared.refusedFrames = path.refusedFrames
                shared.lastReliableStats = path.reliableStats
                shared.lastMediaStats = path.mediaStats
            }
            shared.lastIceStats = transport?.stats
            shared.transport = nil
        }
        dataPath = nil
        transport?.close()
        transport = nil
    }

    static func error(for end: CallEnd) -> CallError {
        switch end {
        case let .failed(error): return error
        case .hungUpLocally: return .invalidState("the call was hung up")
        case .hungUpByPeer: return .invalidState("the other device hung up")
        }
    }
}

/// What a session needs from its client.
protocol CallEngineHost: AnyObject, Sendable {
    var iceLoop: IceLoop { get }
    var iceConfiguration: IceConfiguration { get }
    var reliableConfiguration: ReliableConfiguration { get }
    var callTimeouts: CallTimeouts { get }
    var localCandidateRewrite: (@Sendable (String) -> String?)? { get }
    func sendSignalling(_ message: SignalMessage)
    func callEnded(_ session: CallSession)
}
