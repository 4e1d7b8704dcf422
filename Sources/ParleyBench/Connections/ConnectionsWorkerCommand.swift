import ArgumentParser
import CSodium
import Glibc
import Logging
import Parley
import ParleyCrypto
import Synchronization

/// `parley-bench connections-worker` (hidden): one process of `connections`' load. Opens
/// `--count` authenticated connections to the server on one `SignallingLoop`, starting at
/// most `--rate` per second with at most `--pending` between start and online, reports
/// `WorkerStatus` lines (and notes) on stdout, and holds the connections idle until its stdin closes;
/// then it stops every client (close frames) and exits.
struct ConnectionsWorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connections-worker",
        abstract: "One worker process of parley-bench connections (started by it).",
        shouldDisplay: false
    )

    @Option var port: Int
    @Option var pin: String
    @Option var count: Int
    @Option var rate: Double
    @Option var pending: Int
    /// Tells the workers' realm names apart.
    @Option var index: Int
    /// The local address this worker's connections come from (127.0.0.2, 127.0.0.3, ...).
    @Option var source: String?

    /// Status lines while connecting, and once the connections are up.
    static let rampReportInterval: UInt64 = 250_000_000
    static let holdReportInterval: Int32 = 1000
    /// Sockets the loop may hold beyond the connections, and descriptors needed beyond
    /// those (stdio, pipes, lws's own).
    static let loopSocketSlack = 16
    static let descriptorMargin = 64
    /// A connection that fails is retried this often, after 0.5 - 5 s of backoff, before
    /// the client gives up (and the measurement with it).
    static let reconnect = ReconnectPolicy(maxAttempts: 10, backoff: ReconnectBackoff(baseDelay: .milliseconds(500), maxDelay: .seconds(5)))

    func validate() throws {
        if count < 1 { throw ValidationError("--count must be at least 1") }
        if !(rate > 0) { throw ValidationError("--rate must be positive") }
        if pending < 1 { throw ValidationError("--pending must be at least 1") }
    }

    func run() throws {
        guard sodium_init() >= 0 else { throw BenchmarkError(workload: "worker", problem: "sodium_init failed") }
        signal(SIGPIPE, SIG_IGN)
        let limit = OpenFileLimit.raiseToHard()
        if let limit, limit < count + ConnectionsWorkerCommand.loopSocketSlack + ConnectionsWorkerCommand.descriptorMargin {
            throw BenchmarkError(workload: "worker", problem: "RLIMIT_NOFILE \(limit) cannot hold \(count) connections")
        }
        guard let pinBytes = Hex.decode(pin), pinBytes.count == SignallingClientConfiguration.pinCount else {
            throw ValidationError("--pin must be 64 hex digits")
        }
        var logger = Logger(label: "parley-bench.worker") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .error
        let loop = try SignallingLoop(maxConnections: count + ConnectionsWorkerCommand.loopSocketSlack, logger: logger)
        defer { loop.shutdown() }
        let tally = WorkerTally()
        var clients: [SignallingClient] = []
        clients.reserveCapacity(count)

        let start = Monotonic.now()
        var nextReport = start
        var stdinOpen = true
        var notesWritten = 0
        while stdinOpen {
            let now = Monotonic.now()
            let dueByRate = Int(Double(now - start) / 1e9 * rate) + 1
            while clients.count < min(count, dueByRate),
                  clients.count - tally.online.load(ordering: .relaxed) - tally.failed.load(ordering: .relaxed) < pending {
                let client = try makeClient(number: clients.count, pin: pinBytes, loop: loop, tally: tally, logger: logger)
                clients.append(client)
                client.start()
            }
            let status = tally.status(started: clients.count)
            if now >= nextReport {
                report(status, tally, notesWritten: &notesWritten)
                nextReport = now + ConnectionsWorkerCommand.rampReportInterval
            }
            if status.online == count { report(status, tally, notesWritten: &notesWritten); break }
            stdinOpen = waitForStandardInput(milliseconds: 5)
        }
        while stdinOpen {
            stdinOpen = waitForStandardInput(milliseconds: ConnectionsWorkerCommand.holdReportInterval)
            report(tally.status(started: clients.count), tally, notesWritten: &notesWritten)
        }
        loop.shutdown()
        emit("stopped")
    }

    private func makeClient(number: Int, pin: [UInt8], loop: SignallingLoop, tally: WorkerTally, logger: Logger) throws -> SignallingClient {
        var configuration = SignallingClientConfiguration(
            url: "wss://127.0.0.1:\(port)/", trust: .pinned(sha256: pin), realm: "idle-\(index)-\(number)",
            reconnect: ConnectionsWorkerCommand.reconnect, tracksPresence: false)
        configuration.localAddress = source
        let tracker = OnlineTracker(tally: tally)
        return try SignallingClient(configuration: configuration, identity: DeviceIdentity(), loop: loop, logger: logger) {
            if case let .stateChanged(state) = $0 { tracker.changed(to: state) }
        }
    }

    /// True while stdin stays open: waits up to `milliseconds` for it to close (the
    /// parent closes it to stop the worker; any input counts as closing).
    private func waitForStandardInput(milliseconds: Int32) -> Bool {
        var descriptor = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, milliseconds)
        return ready <= 0
    }

    /// Notes not written yet, then the status line.
    private func report(_ status: WorkerStatus, _ tally: WorkerTally, notesWritten: inout Int) {
        let notes = tally.notes.withLock { $0 }
        for note in notes.dropFirst(notesWritten) { emit("note " + note) }
        notesWritten = notes.count
        emit(status.line)
    }

    private func emit(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
    }
}

/// One client's online state for the tally (loop thread only).
private final class OnlineTracker: @unchecked Sendable {
    private let tally: WorkerTally
    private var online = false

    init(tally: WorkerTally) { self.tally = tally }

    func changed(to state: ConnectionState) {
        switch state {
        case .online:
            online = true
            tally.online.add(1, ordering: .relaxed)
        case .waitingToReconnect, .stopped:
            if online {
                online = false
                tally.online.subtract(1, ordering: .relaxed)
                if case .stopped(nil) = state {} else { tally.lost.add(1, ordering: .relaxed) }
            }
            if case let .waitingToReconnect(_, _, reason) = state {
                tally.retries.add(1, ordering: .relaxed)
                tally.note("retry: \(reason)")
            }
            if case let .stopped(.some(reason)) = state {
                tally.failed.add(1, ordering: .relaxed)
                tally.note("gave up: \(reason)")
            }
        case .idle, .connecting, .authenticating:
            break
        }
    }
}
