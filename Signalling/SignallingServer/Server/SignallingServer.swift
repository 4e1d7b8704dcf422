import CParleyShims
import CWebSockets
import Dispatch
import Glibc
import Logging
import ParleyCrypto
import ParleyLWS
import SignallingCore
import Synchronization

/// Why the server could not start.
public struct SignallingServerError: Error, CustomStringConvertible, Equatable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// `parley-signal`'s server: SignallingCore behind libwebsockets. One service thread runs
/// lws's poll loop (Signalling/SignallingServer/DESIGN_NOTES.md) and owns the core and
/// every connection; other threads talk to it only through `reload`, `shutdown` and
/// `metricsSnapshot`, which queue a command and wake the loop. A TLS WebSocket listener
/// serves devices; a plain-HTTP listener serves `GET /metrics`.
public final class SignallingServer: @unchecked Sendable {
    private let loop: ServerLoop
    private let options: ServerOptions
    private let certificate: ServerCertificate
    private let logger: Logger
    private let protocols: UnsafeMutablePointer<lws_protocols>
    private let metricsProtocols: UnsafeMutablePointer<lws_protocols>
    private let names: [UnsafeMutablePointer<CChar>]
    private let state = Mutex<State>(.created)
    private let finished = DispatchGroup()
    private let boundPorts = Mutex<(signalling: Int, metrics: Int?)>((0, nil))

    private enum State { case created, running, stopped }

    public init(options: ServerOptions, certificate: ServerCertificate, store: ServerStateStore, logger: Logger) throws {
        self.options = options
        self.certificate = certificate
        self.logger = logger
        loop = try ServerLoop(options: options, certificateSHA256: certificate.sha256, store: store, logger: logger)
        let exporter = MetricsExporter()
        loop.renderMetrics = { exporter.render($0) }
        let signallingName = strdup("parley-signal")!
        let metricsName = strdup("parley-metrics")!
        names = [signallingName, metricsName]
        protocols = .allocate(capacity: 2)
        protocols.initialize(repeating: lws_protocols(), count: 2)
        protocols[0].name = UnsafePointer(signallingName)
        protocols[0].callback = signallingCallback
        protocols[0].per_session_data_size = 0
        protocols[0].rx_buffer_size = AdapterTuning.rxBufferSize
        // Without it lws cuts every write to rx_buffer_size: a batch must go out whole.
        protocols[0].tx_packet_size = AdapterTuning.txPacketSize
        protocols[0].id = ProtocolID.signalling
        metricsProtocols = .allocate(capacity: 2)
        metricsProtocols.initialize(repeating: lws_protocols(), count: 2)
        metricsProtocols[0].name = UnsafePointer(metricsName)
        metricsProtocols[0].callback = metricsCallback
        metricsProtocols[0].id = ProtocolID.metrics
    }

    deinit {
        stopNow()
        protocols.deallocate()
        metricsProtocols.deallocate()
        names.forEach { free($0) }
    }

    /// The bound TLS WebSocket port (useful with `options.port = 0`).
    public var port: Int { boundPorts.withLock { $0.signalling } }
    /// The bound metrics port, if metrics are on.
    public var metricsPort: Int? { boundPorts.withLock { $0.metrics } }
    /// The pin devices use: SHA-256 of the certificate's DER, hex.
    public var certificatePin: String { certificate.pin }

    /// Binds the listeners and starts the service thread.
    public func start() throws {
        try state.withLock { state in
            guard state == .created else { throw SignallingServerError("the server was already started") }
            state = .running
        }
        routeLWSLogs()
        var info = lws_context_creation_info()
        info.options = UInt64(LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT) | UInt64(LWS_SERVER_OPTION_EXPLICIT_VHOSTS)
            | UInt64(LWS_SERVER_OPTION_DISABLE_IPV6)
        info.user = Unmanaged.passUnretained(loop).toOpaque()
        // epoll through libev, on a loop Parley owns: a wakeup costs per ready socket, not per
        // open socket (lws's poll loop walks every socket on every wakeup; DESIGN_NOTES.md).
        // Owning the loop also keeps lws from installing its own SIGINT watcher.
        var foreignLoops: [UnsafeMutableRawPointer?] = [nil]
        if options.eventLoop == .libev {
            guard let eventLoop = CParleyShims_ev_loop_new() else {
                state.withLock { $0 = .stopped }
                throw SignallingServerError("libev could not create an event loop")
            }
            info.options |= UInt64(LWS_SERVER_OPTION_LIBEV)
            foreignLoops[0] = eventLoop
            loop.eventLoop = eventLoop
        }
        // fd_limit_per_thread stays 0: lws then sizes its socket table from the open-file limit
        // and finds a socket's wsi by index. A limit below the open-file limit switches lws
        // 4.1.6 to a linear search of the table on every event (measured: 35% of a core for
        // 6000 idle devices pinging every 25 s). The connection cap is ours (admitSocket).
        info.timeout_secs = UInt32(max(1, options.core.handshakeTimeout.components.seconds))
        let created: OpaquePointer? = foreignLoops.withUnsafeMutableBufferPointer { loops in
            if loops[0] != nil { info.foreign_loops = loops.baseAddress }
            return lws_create_context(&info)
        }
        guard let context = created else {
            if let eventLoop = loop.eventLoop { CParleyShims_ev_loop_destroy(eventLoop) }
            loop.eventLoop = nil
            state.withLock { $0 = .stopped }
            throw SignallingServerError(options.eventLoop == .libev
                ? "libwebsockets could not create its context on libev: is the libwebsockets-evlib-ev package installed (make deps)? Or set event_loop = poll"
                : "libwebsockets could not create its context (see the log above)")
        }
        loop.context = context

        do {
            let signallingPort = try createSignallingVhost(context)
            let metricsPort = try options.metricsPort.map { try createMetricsVhost(context, port: $0) }
            boundPorts.withLock { $0 = (signallingPort, metricsPort) }
        } catch {
            lws_context_destroy(context)
            loop.context = nil
            if let eventLoop = loop.eventLoop { CParleyShims_ev_loop_destroy(eventLoop) }
            state.withLock { $0 = .stopped }
            throw error
        }
        loop.reload()  // enrollment codes (the allowlist was read at init)

        finished.enter()
        let spawned = spawnServiceThread(named: "signal-server") { [loop, finished] in
            guard let context = loop.context else { return finished.leave() }
            if let eventLoop = loop.eventLoop {
                // Runs until requestStop breaks it; then lws is torn down outside the loop
                // (libev closes synchronously, nothing needs the loop after ev_break).
                CParleyShims_ev_run(eventLoop)
            } else {
                while !loop.stopping {
                    if lws_service(context, 0) < 0 { break }
                }
            }
            lws_context_destroy(context)
            loop.releaseEventTimer()
            if let eventLoop = loop.eventLoop { CParleyShims_ev_loop_destroy(eventLoop) }
            loop.context = nil
            finished.leave()
        }
        switch spawned {
        case let .success(thread): pthread_detach(thread)
        case let .failure(error):
            lws_context_destroy(context)
            loop.context = nil
            loop.releaseEventTimer()
            if let eventLoop = loop.eventLoop { CParleyShims_ev_loop_destroy(eventLoop) }
            state.withLock { $0 = .stopped }
            finished.leave()
            throw SignallingServerError("cannot start the service thread: \(error)")
        }
        logger.info("listening", metadata: ["address": "\(options.listenHost):\(port)", "tls": "on",
                                            "metrics": "\(metricsPort.map { "\(options.metricsHost):\($0)" } ?? "off")",
                                            "enrollment": "\(options.enrollment)", "pin": "\(certificate.pin)"])
    }

    private func createSignallingVhost(_ context: OpaquePointer) throws -> Int {
        var info = lws_context_creation_info()
        info.port = Int32(options.port)
        info.protocols = UnsafePointer(protocols)
        info.extensions = nil  // never permessage-deflate: payloads are ciphertext
        info.options = UInt64(LWS_SERVER_OPTION_DISABLE_IPV6) | UInt64(LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND)
            | UInt64(LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT)
        info.keepalive_timeout = Int32(max(1, options.core.handshakeTimeout.components.seconds))
        info.timeout_secs = UInt32(max(1, options.core.handshakeTimeout.components.seconds))
        let vhost: OpaquePointer? = try options.listenHost.withCString { host in
            try "parley-signal".withCString { name in
                info.iface = host
                info.vhost_name = name
                return try certificate.privateKeyPEM.withUnsafeBytes { key in
                    certificate.certificatePEM.withUnsafeBytes { cert in
                        info.server_ssl_cert_mem = cert.baseAddress
                        info.server_ssl_cert_mem_len = UInt32(cert.count)
                        info.server_ssl_private_key_mem = key.baseAddress
                        info.server_ssl_private_key_mem_len = UInt32(key.count)
                        return lws_create_vhost(context, &info)
                    }
                }
            }
        }
        guard let vhost else {
            throw SignallingServerError("cannot listen on \(options.listenHost):\(options.port) with TLS (address in use, or the certificate/key was refused)")
        }
        loop.signallingVhost = vhost
        return Int(lws_get_vhost_listen_port(vhost))
    }

    private func createMetricsVhost(_ context: OpaquePointer, port: Int) throws -> Int {
        var info = lws_context_creation_info()
        info.port = Int32(port)
        info.protocols = UnsafePointer(metricsProtocols)
        info.options = UInt64(LWS_SERVER_OPTION_DISABLE_IPV6) | UInt64(LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND)
        info.keepalive_timeout = 5
        let vhost: OpaquePointer? = options.metricsHost.withCString { host in
            "parley-metrics".withCString { name in
                info.iface = host
                info.vhost_name = name
                return lws_create_vhost(context, &info)
            }
        }
        guard let vhost else { throw SignallingServerError("cannot listen for metrics on \(options.metricsHost):\(port) (address in use?)") }
        loop.metricsVhost = vhost
        return Int(lws_get_vhost_listen_port(vhost))
    }

    /// Tests: observe every whole message received and sent. Set before `start()`.
    package func setCapture(_ capture: @escaping @Sendable (CapturedMessage) -> Void) { loop.capture = capture }

    /// Re-reads the allowlist and enrollment codes from the store (SIGHUP): devices no
    /// longer listed are disconnected with `revoked`. Thread-safe.
    public func reload() { post(.reload) }

    /// Tells every device (`error(shuttingDown)`), closes every connection after its queue,
    /// refuses new ones, and stops once all are closed or `options.drainTimeout` passed.
    /// Thread-safe; `waitUntilStopped` returns afterwards.
    public func shutdown() { post(.shutdown) }

    /// Blocks until the service thread has stopped (immediately if it never started).
    public func waitUntilStopped() { finished.wait() }

    /// Counters and gauges now; taken on the service thread. Thread-safe.
    public func metricsSnapshot() -> ServerMetricsSnapshot {
        let box = Mutex<ServerMetricsSnapshot?>(nil)
        let ready = DispatchSemaphore(value: 0)
        guard post(.snapshot { snapshot in box.withLock { $0 = snapshot }; ready.signal() }) else { return ServerMetricsSnapshot() }
        guard ready.wait(timeout: .now() + 5) == .success else { return ServerMetricsSnapshot() }
        return box.withLock { $0 } ?? ServerMetricsSnapshot()
    }

    /// Shutdown with no drain wait beyond what is queued; for tests and deinit.
    public func stopNow() {
        guard state.withLock({ $0 }) == .running else { return }
        shutdown()
        waitUntilStopped()
        state.withLock { $0 = .stopped }
    }

    @discardableResult
    private func post(_ command: LoopCommand) -> Bool {
        guard state.withLock({ $0 }) == .running, let context = loop.context else { return false }
        loop.commands.withLock { $0.append(command) }
        lws_cancel_service(context)
        return true
    }
}
