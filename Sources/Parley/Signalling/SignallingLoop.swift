import CParleyShims
import CWebSockets
import ParleyLWS
import Glibc
import Logging
import ParleyCrypto
import ParleyProtocol
import Synchronization

/// One libwebsockets client context and the thread that services it, shared by any number
/// of `SignallingClient`s (a load generator runs thousands on one loop).
///
/// The thread runs lws's default poll loop (`lws_service`), never glib or libuv (see
/// Signalling/SignallingServer/DESIGN_NOTES.md). Every lws call and every client callback
/// happens on it. Other threads hand it work through a mutex-protected inbox and wake it
/// with `lws_cancel_service`; the inbox is drained in `LWS_CALLBACK_EVENT_WAIT_CANCELLED`.
/// Timers of all clients share one lws timer (`lws_sorted_usec_list_t`) armed at the
/// earliest deadline.
///
/// Call `shutdown()` when done: it stops every client (a close frame each, for at most
/// `closeGrace`), stops the thread and destroys the context. The thread keeps the loop
/// alive until then.
public final class SignallingLoop: LWSTimerOwner, @unchecked Sendable {
    /// Sockets the context may hold; size it to the number of clients (plus a few).
    public let maxConnections: Int
    /// How long `shutdown()` waits for close frames before cutting connections.
    public let closeGrace: Duration
    let logger: Logger

    /// The lws context; set in init, destroyed by the loop thread when it exits.
    /// `lws_cancel_service` is the only call other threads make on it (under `inbox`).
    /// Implicitly unwrapped only so that init can hand `self` to lws as the context's user
    /// pointer; it is set before anything reads it.
    private(set) var context: OpaquePointer!
    private let protocols: UnsafeMutablePointer<lws_protocols>
    private let protocolName: UnsafeMutablePointer<CChar>
    private lazy var timer = LWSTimer(owner: self)
    private var thread = pthread_t()
    private var threadStarted = false
    private let threadID = Atomic<UInt>(0)
    private let joined = Mutex<Bool>(false)

    private struct Inbox {
        var work: [@Sendable () -> Void] = []
        /// False once the loop thread has left `lws_service` for good.
        var open = true
        var shutdownRequested = false
    }
    private let inbox = Mutex(Inbox())

    // Loop thread only.
    private var clients: [ObjectIdentifier: SignallingClient] = [:]
    private var timers = LoopTimers()
    private var timerArmedAt: Timestamp?
    private var stopping = false
    private var graceDeadline: Timestamp?
    private var certificateAuthorityVhosts: [String: OpaquePointer] = [:]
    private var vhostStrings: [UnsafeMutablePointer<CChar>] = []
    /// Transports lws holds a reference to (from connect to WSI_DESTROY).
    var liveTransports = 0
    /// Frames outgoing batches (service thread only).
    var batchWriter = WebSocketBatchWriter(maxMessageBytes: SignalLimits.maxMessageBytes)

    /// The WebSocket subprotocol clients offer (PROTOCOL.md, "Signalling transport").
    static let subprotocol = "parley-signal"
    /// Sockets beyond `maxConnections` for lws's own use (the cancel pipe).
    static let reservedSockets = 16

    /// Creates the context and starts the service thread. `maxConnections` is how many
    /// clients the loop is meant to carry; lws's socket table follows the process's
    /// open-file limit, which is what actually bounds it.
    public init(maxConnections: Int = 64, closeGrace: Duration = .seconds(2),
                logger: Logger = Logger(label: "parley.signalling-loop")) throws(SignallingClientError) {
        guard maxConnections >= 1, maxConnections <= Int(Int32.max) - SignallingLoop.reservedSockets else {
            throw SignallingClientError(.invalidConfiguration, "maxConnections must be at least 1")
        }
        self.maxConnections = maxConnections
        self.closeGrace = closeGrace
        self.logger = logger
        // strdup of a literal fails only when memory is exhausted.
        protocolName = strdup(SignallingLoop.subprotocol)!
        protocols = .allocate(capacity: 2)
        protocols.initialize(repeating: lws_protocols(), count: 2)
        protocols[0].name = UnsafePointer(protocolName)
        protocols[0].callback = signallingClientCallback
        protocols[0].per_session_data_size = 0
        // The most lws hands to TLS in one write; without it lws cuts writes to its 4 KiB
        // service buffer and a batch (WebSocketBatchWriter) goes out in pieces.
        protocols[0].tx_packet_size = 64 * 1024

        routeLWSLogs()
        var info = lws_context_creation_info()
        info.port = CONTEXT_PORT_NO_LISTEN
        info.protocols = UnsafePointer(protocols)
        info.extensions = nil
        info.gid = -1
        info.uid = -1
        info.options = UInt64(LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT) | UInt64(LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS)
        // fd_limit_per_thread stays 0 (lws sizes its socket table from the open-file limit):
        // a smaller value makes lws 4.1.6 search the table linearly on every event.
        info.count_threads = 1
        // Unretained: the service thread holds the loop until the context is destroyed.
        info.user = Unmanaged.passUnretained(self).toOpaque()
        guard let context = lws_create_context(&info) else {
            // deinit frees the buffers allocated above.
            throw SignallingClientError(.transportSetupFailed, "libwebsockets could not create a client context")
        }
        self.context = context
        // The thread's closure holds the loop until `run` returns.
        switch spawnServiceThread(named: "parley-client", { [self] in run() }) {
        case let .success(thread): self.thread = thread
        case let .failure(error):
            lws_context_destroy(context)
            throw SignallingClientError(.transportSetupFailed, "cannot start the signalling loop thread: \(error)")
        }
        threadStarted = true
    }

    deinit {
        // Shut down from the loop thread only (or never): nobody joined, so let the
        // finished thread's resources go. (A joiner holds the loop, so it cannot be here.)
        if threadStarted && !joined.withLock({ $0 }) { pthread_detach(thread) }
        protocols.deallocate()
        free(protocolName)
        for string in vhostStrings { free(string) }
    }

    /// Stops every client on this loop (each sends a close frame), waits up to
    /// `closeGrace` for the closes, stops the thread and destroys the context. Thread-safe
    /// and idempotent. From any thread but the loop's own it returns after the thread has
    /// ended; on the loop thread (in an event handler) it only asks.
    public func shutdown() {
        let first = inbox.withLock { inbox -> Bool in
            guard inbox.open, !inbox.shutdownRequested else { return false }
            inbox.shutdownRequested = true
            inbox.work.append { [self] in beginShutdown() }
            lws_cancel_service(context)
            return true
        }
        if first { logger.debug("signalling loop shutting down") }
        guard !isLoopThread else { return }
        joined.withLock { joined in
            guard !joined else { return }
            pthread_join(thread, nil)
            joined = true
        }
    }

    /// True on the loop's own thread.
    var isLoopThread: Bool { threadID.load(ordering: .acquiring) == pthread_self() }

    // MARK: Work from other threads

    /// Runs `work` on the loop thread soon. False (and `work` dropped) once the loop has
    /// shut down.
    @discardableResult
    func post(_ work: @escaping @Sendable () -> Void) -> Bool {
        inbox.withLock { inbox in
            guard inbox.open, !inbox.shutdownRequested else { return false }
            inbox.work.append(work)
            lws_cancel_service(context)
            return true
        }
    }

    /// In LWS_CALLBACK_EVENT_WAIT_CANCELLED (once per vhost and protocol: later calls find
    /// the inbox empty).
    func drainInbox() {
        let work = inbox.withLock { inbox -> [@Sendable () -> Void] in
            defer { inbox.work.removeAll() }
            return inbox.work
        }
        for item in work { item() }
    }

    // MARK: The service thread

    private func run() {
        threadID.store(pthread_self(), ordering: .releasing)
        while !shouldExit {
            if lws_service(context, 0) < 0 {
                logger.error("lws_service failed; the signalling loop stops")
                break
            }
        }
        inbox.withLock { inbox in
            inbox.open = false
            inbox.work.removeAll()
        }
        timer.cancel()
        timers.removeAll()
        for client in clients.values { client.loopEnded() }
        clients.removeAll()
        // Remaining sockets are cut here; their WSI_DESTROY callbacks release the transports.
        lws_context_destroy(context)
        logger.debug("signalling loop stopped")
    }

    private var shouldExit: Bool {
        guard stopping else { return false }
        if liveTransports == 0 { return true }
        return graceDeadline.map { MonotonicClock.now() >= $0 } ?? true
    }

    private func beginShutdown() {
        stopping = true
        for client in Array(clients.values) { client.handle(.stop) }
        graceDeadline = MonotonicClock.now() + closeGrace
        armTimer()
    }

    /// False while the loop is shutting down: clients then refuse to start.
    var acceptsWork: Bool { !stopping }

    // MARK: Clients

    /// A client that is running (not idle or stopped): the loop keeps it alive and stops it on shutdown.
    func register(_ client: SignallingClient) { clients[ObjectIdentifier(client)] = client }

    func unregister(_ client: SignallingClient) { clients[ObjectIdentifier(client)] = nil }

    /// The vhost whose client TLS context trusts exactly the CA certificates in `path`
    /// (made on first use; lws shares identical TLS contexts between vhosts).
    func vhost(forCertificateAuthority path: String) -> OpaquePointer? {
        if let vhost = certificateAuthorityVhosts[path] { return vhost }
        // strdup fails only when memory is exhausted; lws may keep these pointers.
        let name = strdup("parley-ca-\(certificateAuthorityVhosts.count + 1)")!
        let file = strdup(path)!
        vhostStrings.append(contentsOf: [name, file])
        var info = lws_context_creation_info()
        info.port = CONTEXT_PORT_NO_LISTEN
        info.protocols = UnsafePointer(protocols)
        info.options = UInt64(LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT) | UInt64(LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS)
        info.vhost_name = UnsafePointer(name)
        info.client_ssl_ca_filepath = UnsafePointer(file)
        guard let vhost = lws_create_vhost(context, &info) else { return nil }
        certificateAuthorityVhosts[path] = vhost
        return vhost
    }

    // MARK: Time (`MonotonicClock`: CLOCK_MONOTONIC, the clock lws schedules with)

    /// Asks for `client.timerFired()` at `deadline`.
    func schedule(_ client: SignallingClient, at deadline: Timestamp) {
        timers.insert(client, at: deadline)
        armTimer()
    }

    private func armTimer() {
        let earliest = [timers.earliest, graceDeadline].compactMap { $0 }.min()
        guard let earliest, earliest != timerArmedAt else { return }
        timerArmedAt = earliest
        let now = MonotonicClock.now()
        let wait = earliest.since(now).clampedNanoseconds
        let microseconds = Int64(clamping: (wait + 999) / 1000)
        timer.schedule(on: context, afterMicroseconds: microseconds)
    }

    /// The lws timer fired: tick every client whose deadline has come.
    package func lwsTimerFired() {
        timerArmedAt = nil
        let now = MonotonicClock.now()
        while let due = timers.popDue(now: now) {
            due.client.timerFired(scheduledFor: due.at)
        }
        armTimer()
    }
}
