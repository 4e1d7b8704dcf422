#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Logging
import SignallingServer

/// `parley-signal [serve]`: runs the server until SIGTERM or SIGINT; SIGHUP reloads the
/// allowlist and enrollment codes.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the signalling server (the default subcommand).",
        discussion: """
            Prints the certificate pin devices must be given. SIGHUP re-reads the allowlist and \
            enrollment codes (devices no longer listed are disconnected); SIGTERM or SIGINT \
            drains connections for at most drain_timeout and exits 0.
            """
    )

    @OptionGroup var state: StateOptions

    @Option(help: ArgumentHelp("Address to listen on (default 127.0.0.1).", valueName: "host"))
    var listen: String?

    @Option(help: ArgumentHelp("TLS WebSocket port; 0 lets the system pick (default 8443).", valueName: "n"))
    var port: String?

    @Option(help: ArgumentHelp("Certificate PEM file (with --private-key; default: self-signed, in the state directory).", valueName: "file"))
    var certificate: String?

    @Option(name: .customLong("private-key"), help: ArgumentHelp("Private key PEM file, mode 0600.", valueName: "file"))
    var privateKey: String?

    @Option(help: ArgumentHelp("open or allowlist (default open).", valueName: "policy"))
    var enrollment: String?

    @Option(help: ArgumentHelp("Prometheus endpoint host:port, or off (default 127.0.0.1:9464).", valueName: "host:port|off"))
    var metrics: String?

    @Option(name: .customLong("max-connections"), help: ArgumentHelp("WebSocket connections held at once (default 19000).", valueName: "n"))
    var maxConnections: String?

    @Option(name: .customLong("log-level"),
            help: ArgumentHelp("trace, debug, info, notice, warning, error or critical (default info).", valueName: "level"))
    var logLevel: String?

    func validate() throws {
        guard (certificate == nil) == (privateKey == nil) else {
            throw ValidationError("--certificate and --private-key go together")
        }
    }

    func run() throws {
        // Before any thread exists, so every thread (lws's service thread included) inherits
        // the mask and the signals reach only the waiter below.
        let signals = SignalWaiter(blocking: [SIGHUP, SIGTERM, SIGINT])
        signal(SIGPIPE, SIG_IGN)

        let (options, level) = try state.resolve(flags: [
            (.listen, listen, "--listen"), (.port, port, "--port"), (.certificate, certificate, "--certificate"),
            (.privateKey, privateKey, "--private-key"), (.enrollment, enrollment, "--enrollment"), (.metrics, metrics, "--metrics"),
            (.maxConnections, maxConnections, "--max-connections"), (.logLevel, logLevel, "--log-level"),
        ])
        LoggingSystem.bootstrap { label in LogfmtLogHandler(label: label, logLevel: level) }
        let logger = Logger(label: "parley-signal")

        let descriptors = FileDescriptorLimit.raiseToHardLimit()
        let needed = options.core.maxConnections + options.refusalHeadroom + OperatingLimits.fileDescriptorMargin
        if descriptors < needed {
            logger.warning("file descriptor limit below what max_connections needs; raise LimitNOFILE or ulimit -n",
                           metadata: ["limit": "\(descriptors)", "needed": "\(needed)"])
        }

        let store = StateDirectory(path: options.stateDirectory)
        if case let .running(pid) = store.serverProcess() {
            throw CommandFailure(.failure, "another parley-signal (pid \(pid)) uses the state directory \(store.path); stop it first")
        }
        let certificate: ServerCertificate
        let created: Bool
        if let certificatePath = options.certificatePath, let privateKeyPath = options.privateKeyPath {
            try store.create()
            certificate = try store.loadCertificate(certificatePath: certificatePath, privateKeyPath: privateKeyPath)
            created = false
        } else {
            (certificate, created) = try store.loadOrCreateCertificate()
        }
        let certificatePath = options.certificatePath ?? store.certificatePath
        Console.note("certificate pin (SHA-256): \(certificate.pin) "
                     + (created ? "(new certificate created in \(store.path))" : "(loaded from \(certificatePath))"))
        logger.notice("certificate pin (SHA-256)", metadata: ["pin": "\(certificate.pin)", "created": "\(created)",
                                                              "path": "\(certificatePath)"])

        let server = try SignallingServer(options: options, certificate: certificate, store: store, logger: logger)
        try server.start()
        do {
            try store.writePID()
        } catch {
            server.shutdown()
            server.waitUntilStopped()
            throw error
        }
        defer { store.removePID() }
        logger.info("started", metadata: ["pid": "\(getpid())", "address": "\(options.listenHost):\(server.port)",
                                          "state_directory": "\(store.path)"])

        signals.start { signal in
            switch signal {
            case SIGHUP:
                logger.info("reloading the allowlist and enrollment codes", metadata: ["signal": "SIGHUP"])
                server.reload()
                return true
            default:
                logger.notice("shutting down", metadata: ["signal": "\(signal == SIGINT ? "SIGINT" : "SIGTERM")",
                                                          "drain_timeout": "\(ConfigFile.formatDuration(options.drainTimeout))"])
                server.shutdown()
                return false
            }
        }
        server.waitUntilStopped()
        logger.notice("stopped")
    }
}

/// Receives process signals on a thread of its own with `sigwait`: the signals are blocked
/// in every thread (the mask is set before any other thread starts and is inherited), so
/// nothing runs in signal-handler context and any Swift code may react.
final class SignalWaiter: Sendable {
    private let signals: [Int32]

    /// Blocks `signals` in the calling thread and every thread it creates afterwards.
    init(blocking signals: [Int32]) {
        self.signals = signals
        var set = Self.set(of: signals)
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Calls `handler` on a background thread for each signal received, until it
    /// returns false; later signals are then received and ignored (a second SIGTERM
    /// does not cut the drain short: it is bounded by drain_timeout).
    func start(_ handler: @escaping @Sendable (Int32) -> Bool) {
        let signals = signals
        let thread = WaiterThread {
            var set = SignalWaiter.set(of: signals)
            var handling = true
            while true {
                var received: Int32 = 0
                guard sigwait(&set, &received) == 0 else { continue }
                if handling { handling = handler(received) }
            }
        }
        thread.start()
    }

    private static func set(of signals: [Int32]) -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        return set
    }
}

/// A detached pthread running one closure for the life of the process.
private final class WaiterThread: Sendable {
    private let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }

    func start() {
        var thread = pthread_t()
        let retained = Unmanaged.passRetained(self).toOpaque()
        let result = pthread_create(&thread, nil, { raw in
            // raw is the retained pointer passed below; pthread_create never passes nil here.
            Unmanaged<WaiterThread>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, retained)
        if result == 0 {
            pthread_detach(thread)
        } else {
            Unmanaged<WaiterThread>.fromOpaque(retained).release()
            Console.fail("cannot start the signal thread (\(String(cString: strerror(result))))", status: .failure)
        }
    }
}

/// The process's open-file limit (RLIMIT_NOFILE), which bounds the sockets it can hold.
enum FileDescriptorLimit {
    /// Raises the soft limit to the hard limit (or `OperatingLimits.fileDescriptorCeiling`
    /// when the hard limit is unlimited) and returns the soft limit in force afterwards.
    static func raiseToHardLimit() -> Int {
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        let unlimited = rlim_t.max  // RLIM_INFINITY, ((rlim_t)-1), which Swift does not import
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return Int.max }
        let target = limit.rlim_max == unlimited ? rlim_t(OperatingLimits.fileDescriptorCeiling) : limit.rlim_max
        if limit.rlim_cur != unlimited && limit.rlim_cur < target {
            var raised = limit
            raised.rlim_cur = target
            if setrlimit(resource, &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur == unlimited ? Int.max : Int(limit.rlim_cur)
    }
}
