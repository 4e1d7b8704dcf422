import Logging
import ParleyLWS
import ParleyCrypto
import ParleyProtocol
import Synchronization

/// A device's connection to `parley-signal`: TLS WebSocket to `wss://host:port/`,
/// authentication bound to the server's certificate, presence, call traffic, keepalive and
/// reconnection (the rules are `SignallingClientCore`'s; this class moves bytes and timers).
///
///     let loop = try SignallingLoop()
///     let client = try SignallingClient(
///         configuration: SignallingClientConfiguration(url: "wss://signal.example:8443/",
///                                                      trust: try .pinned(hex: pin), realm: "home"),
///         identity: identity, loop: loop) { event in print(event) }
///     client.start()
///     ...
///     try client.send(.invite(callee: peer, callID: callID, payload: message1))
///
/// Threads. `start`, `stop`, `send`, `state`, `onlinePeers` and `events` may be called from
/// any thread. Events reach `handler` in order on the loop's thread: keep it cheap (hand
/// work elsewhere) and never block in it. `stop` and `start` take effect on the loop
/// thread shortly after they return.
///
/// Lifetime. Once started the client runs, kept alive by its loop, until `stop()`, a
/// terminal error, or the loop's `shutdown()`.
public final class SignallingClient: @unchecked Sendable {
    public let configuration: SignallingClientConfiguration
    public let url: SignallingURL
    public let deviceID: DeviceID
    public let loop: SignallingLoop
    private let logger: Logger
    private let handler: @Sendable (SignallingEvent) -> Void

    /// The protocol state; the loop thread feeds it, `send` queues into it from any thread.
    private let core: Mutex<SignallingClientCore>
    private let streams = Mutex(StreamRegistry())
    /// A flush is posted to the loop and has not run yet (coalesces sends from other threads).
    private let flushPosted = Atomic<Bool>(false)

    // Loop thread only.
    private var transport: SignallingTransport?
    /// The deadline this client has a timer entry for (see `LoopTimers`).
    private var scheduledDeadline: Timestamp?
    private var pendingInputs: [SignallingClientInput] = []
    private var handling = false

    /// Checks the configuration (`SignallingClientConfiguration.validate`). Nothing
    /// happens until `start()`.
    public init(configuration: SignallingClientConfiguration, identity: DeviceIdentity, loop: SignallingLoop,
                logger: Logger = Logger(label: "parley.signalling-client"),
                handler: @escaping @Sendable (SignallingEvent) -> Void = { _ in }) throws(SignallingClientError) {
        url = try configuration.validate()
        self.configuration = configuration
        self.deviceID = identity.deviceID
        self.loop = loop
        var logger = logger
        logger[metadataKey: "device"] = "\(identity.deviceID.fingerprint)"
        self.logger = logger
        self.handler = handler
        core = Mutex(SignallingClientCore(configuration: configuration, identity: identity))
    }

    // MARK: Application API

    /// Connects (and keeps reconnecting) until `stop()`. Does nothing while running; after
    /// a stop, starts again. Ignored once the loop has shut down.
    public func start() {
        if !loop.post({ [self] in handle(.start) }) {
            logger.warning("start() ignored: the signalling loop has shut down")
        }
    }

    /// Closes the connection (WebSocket close 1000) and stops reconnecting; messages not
    /// yet written are dropped. Idempotent.
    public func stop() {
        loop.post { [self] in handle(.stop) }
    }

    /// Encodes `message` and queues it for the server. Throws `notConnected` unless online,
    /// `sendQueueFull` when `maxSendQueueBytes` would be passed, `invalidMessage` for a
    /// type a device does not send, a message that does not encode, or one over the
    /// server's announced size limit. Messages are written in the order queued.
    public func send(_ message: SignalMessage) throws(SignallingClientError) {
        let bytes = try SignallingClientCore.encodeForSending(message)
        try core.withLock { (core) throws(SignallingClientError) in try core.enqueue(encoded: bytes) }
        if loop.isLoopThread {
            transport?.requestWrite()
        } else if !flushPosted.exchange(true, ordering: .acquiringAndReleasing) {
            loop.post { [self] in
                flushPosted.store(false, ordering: .releasing)
                transport?.requestWrite()
            }
        }
    }

    public var state: ConnectionState { core.withLock { $0.state } }

    /// The online devices of the realm (this device excluded); empty unless online and
    /// `tracksPresence`.
    public var onlinePeers: Set<DeviceID> { core.withLock { $0.onlinePeers } }

    /// Bytes waiting to be written.
    public var queuedBytes: Int { core.withLock { $0.queuedBytes } }

    /// The events, also delivered to `handler`, as an async sequence from now on. The
    /// buffer is bounded by `bufferingPolicy` (a consumer that falls behind loses events,
    /// the oldest by default: state and presence events carry the whole current value).
    /// The stream ends after the next `.stateChanged(.stopped)`.
    public func events(bufferingPolicy: AsyncStream<SignallingEvent>.Continuation.BufferingPolicy = .bufferingNewest(1024))
        -> AsyncStream<SignallingEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: SignallingEvent.self, bufferingPolicy: bufferingPolicy)
        let id = streams.withLock { $0.add(continuation) }
        continuation.onTermination = { [weak self] _ in
            _ = self?.streams.withLock { $0.remove(id) }
        }
        return stream
    }

    // MARK: Loop thread

    /// Feeds the core and performs its actions; inputs that arise while doing so (a
    /// transport failing synchronously) queue behind and run in order.
    func handle(_ input: SignallingClientInput) {
        pendingInputs.append(input)
        guard !handling else { return }
        handling = true
        while !pendingInputs.isEmpty {
            let next = pendingInputs.removeFirst()
            if case .start = next, !loop.acceptsWork { continue }
            let now = MonotonicClock.now()
            let actions = core.withLock { $0.handle(next, now: now) }
            for action in actions { perform(action) }
        }
        handling = false
        let (deadline, running) = core.withLock { core -> (Timestamp?, Bool) in
            switch core.state {
            case .idle, .stopped: return (core.nextDeadline, false)
            case .connecting, .authenticating, .online, .waitingToReconnect: return (core.nextDeadline, true)
            }
        }
        if running { loop.register(self) } else { loop.unregister(self) }
        if let deadline, scheduledDeadline.map({ deadline < $0 }) ?? true {
            scheduledDeadline = deadline
            loop.schedule(self, at: deadline)
        }
    }

    private func perform(_ action: SignallingClientAction) {
        switch action {
        case .connect:
            transport?.close(.normal("superseded"))
            let next = SignallingTransport(client: self, loop: loop, url: url, trust: configuration.trust,
                                           localAddress: configuration.localAddress)
            transport = next
            logger.debug("connecting", metadata: ["url": "\(url)"])
            next.open()
        case .flush:
            transport?.requestWrite()
        case let .close(close):
            transport?.close(close)
            transport = nil
        case let .emit(event):
            deliver(event)
        }
    }

    private func deliver(_ event: SignallingEvent) {
        switch event {
        case let .stateChanged(state):
            switch state {
            case .waitingToReconnect, .stopped(.some): logger.notice("signalling \(state)")
            case .online, .stopped(.none): logger.info("signalling \(state)")
            case .idle, .connecting, .authenticating: logger.debug("signalling \(state)")
            }
        case let .serverError(code, text):
            logger.warning("server error", metadata: ["code": "\(code.rawValue)", "name": "\(code)", "text": "\(text)"])
        default:
            break
        }
        handler(event)
        let continuations = streams.withLock { $0.continuations }
        for continuation in continuations.values { continuation.yield(event) }
        if case .stateChanged(.stopped) = event {
            let finished = streams.withLock { $0.removeAll() }
            for continuation in finished { continuation.finish() }
        }
    }

    /// The loop's timer entry for `deadline` came due.
    func timerFired(scheduledFor deadline: Timestamp) {
        guard scheduledDeadline == deadline else { return }
        scheduledDeadline = nil
        handle(.tick)
    }

    /// The loop thread is ending; lws is about to destroy the remaining sockets.
    func loopEnded() {
        transport?.close(.normal("loop stopped"))
        transport = nil
    }

    // MARK: From the transport (loop thread)

    func transportConnected(serverCertificateSHA256 digest: [UInt8]) {
        handle(.transportConnected(serverCertificateSHA256: digest))
    }

    /// The transport failed or closed and has detached itself.
    func transportEnded(_ ended: SignallingTransport, _ input: SignallingClientInput) {
        guard transport === ended else { return }
        transport = nil
        handle(input)
    }

    /// A message or a refusal from the current transport.
    func transportInput(_ from: SignallingTransport, _ input: SignallingClientInput) {
        guard transport === from else { return }
        handle(input)
    }

    var incomingLimit: Int { core.withLock { $0.incomingLimit } }

    /// The next messages to write as one batch (see `WebSocketBatchWriter`) and whether more wait.
    func nextOutgoingBatch() -> ([[UInt8]], Bool) {
        core.withLock { core in
            let batch = core.takeOutgoingBatch(maxFrameBytes: WebSocketBatchWriter.targetBytes) {
                WebSocketBatchWriter.headerCount($0, masked: true)
            }
            return (batch, core.hasOutgoing)
        }
    }
}

/// The continuations of `SignallingClient.events()` streams.
private struct StreamRegistry {
    private(set) var continuations: [UInt64: AsyncStream<SignallingEvent>.Continuation] = [:]
    private var nextID: UInt64 = 0

    mutating func add(_ continuation: AsyncStream<SignallingEvent>.Continuation) -> UInt64 {
        nextID += 1
        continuations[nextID] = continuation
        return nextID
    }

    mutating func remove(_ id: UInt64) -> AsyncStream<SignallingEvent>.Continuation? {
        continuations.removeValue(forKey: id)
    }

    mutating func removeAll() -> [AsyncStream<SignallingEvent>.Continuation] {
        defer { continuations.removeAll() }
        return Array(continuations.values)
    }
}
