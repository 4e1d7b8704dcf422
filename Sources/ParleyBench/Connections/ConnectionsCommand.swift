import ArgumentParser
import CSodium
import Glibc

/// `parley-bench connections`: the real `parley-signal` holding idle authenticated TLS
/// WebSocket connections, opened by worker processes of this executable; the server's RSS
/// per connection, at a quarter of the count and at the full count (fresh server each), so
/// the reader sees whether the cost is linear. The stated comparison, a Go
/// gorilla/websocket server, is printed beside it (it is not measured here).
struct ConnectionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connections",
        abstract: "Idle authenticated TLS connections held by parley-signal: server RSS per connection.",
        discussion: """
            Starts .../parley-signal (next to this executable, or --server) with a temporary state \
            directory, measures its RSS with no connections, then starts --processes workers \
            (parley-bench connections-worker) that open the connections on one SignallingLoop each, \
            each device in a realm of its own. Once all are online and --settle seconds passed it \
            measures again, holds them --hold seconds, measures once more, and stops. Runs at \
            --count / 4 and at --count, a fresh server each time.
            """
    )

    @Option(help: "Connections at the full measurement (default 19000, less if the open-file limit cannot hold it).")
    var count: Int?

    @Option(help: "Worker processes sharing the connections (default 4).")
    var processes = 4

    @Option(help: "Seconds to hold the connections after the settled measurement (default 10).")
    var hold: Double?

    @Option(help: "Seconds between the last connection coming online and the measurement (default 3).")
    var settle: Double?

    @Option(help: "New connections per second, all workers together (default 1000).")
    var rate = 1000.0

    @Option(help: "Connections per worker between start and online at most (default 128).")
    var pending = 128

    @Option(help: ArgumentHelp("The parley-signal executable (default: next to this one).", valueName: "path"))
    var server: String?

    @Flag(help: "1000 connections, 1 s settle and hold: a smoke test, not figures to quote.")
    var quick = false

    @Flag(help: "Print the results as JSON instead of a table.")
    var json = false

    static let defaultCount = 19_000
    static let quickCount = 1_000
    /// What the server needs beyond its connections: max_connections slack, its
    /// refusal_headroom (left at the default) and OperatingLimits.fileDescriptorMargin.
    static let maxConnectionsSlack = 16
    static let refusalHeadroom = 64
    static let serverDescriptorMargin = 64
    /// Ephemeral ports left free for everything else on the machine.
    static let ephemeralPortReserve = 1_000
    /// Between the server's start and its empty measurement.
    static let startupSettle: useconds_t = 500_000
    /// No connection came online for this long: the measurement is abandoned.
    static let stallTimeout: Duration = .seconds(60)

    func validate() throws {
        if let count, count < 4 || count > 1_000_000 { throw ValidationError("--count must be 4...1000000") }
        if processes < 1 || processes > 64 { throw ValidationError("--processes must be 1...64") }
        if let hold, !(hold >= 0 && hold <= 3600) { throw ValidationError("--hold must be 0...3600") }
        if let settle, !(settle >= 0 && settle <= 600) { throw ValidationError("--settle must be 0...600") }
        if !(rate > 0) { throw ValidationError("--rate must be positive") }
        if pending < 1 { throw ValidationError("--pending must be at least 1") }
    }

    func run() throws {
        guard sodium_init() >= 0 else { throw BenchmarkError(workload: "setup", problem: "sodium_init failed") }
        signal(SIGPIPE, SIG_IGN)
        let executable = try SignalServerProcess.locate(server)
        let hardLimit = OpenFileLimit.hard
        let overhead = ConnectionsCommand.maxConnectionsSlack + ConnectionsCommand.refusalHeadroom
            + ConnectionsCommand.serverDescriptorMargin
        let fits = hardLimit.map { $0 - overhead } ?? .max
        var notes: [String] = []
        let full: Int
        if let count {
            guard count <= fits else {
                throw ValidationError("--count \(count) does not fit the hard RLIMIT_NOFILE \(hardLimit ?? 0) "
                                      + "(the server needs \(overhead) more descriptors)")
            }
            full = count
        } else {
            let wanted = quick ? ConnectionsCommand.quickCount : ConnectionsCommand.defaultCount
            full = min(wanted, fits / 1000 * 1000)
            if full < wanted {
                notes.append("count reduced from \(wanted) to \(full): the hard RLIMIT_NOFILE is \(hardLimit ?? 0)")
            }
        }
        guard full >= 4 else {
            throw BenchmarkError(workload: "connections", problem: "the open-file limit \(hardLimit ?? 0) leaves no room")
        }
        let ports = ProcFS.ephemeralPorts()
        if let ports, full / processes > ports.count - ConnectionsCommand.ephemeralPortReserve {
            throw BenchmarkError(workload: "connections", problem: "\(full / processes) connections per worker from one source address "
                                 + "need more ephemeral ports than \(ports.lowerBound)-\(ports.upperBound) holds: use more --processes")
        }

        var report = ConnectionsReport(
            environment: .current(libsodium: String(cString: sodium_version_string())), loadAverage: ProcFS.loadAverage(),
            settings: .init(processes: processes, rate: rate, pendingPerWorker: pending, settleSeconds: settle ?? (quick ? 1 : 3),
                            holdSeconds: hold ?? (quick ? 1 : 10), maxConnections: full + ConnectionsCommand.maxConnectionsSlack,
                            refusalHeadroom: ConnectionsCommand.refusalHeadroom, hardOpenFileLimit: hardLimit,
                            ephemeralPorts: ports.map { "\($0.lowerBound)-\($0.upperBound)" }, server: executable),
            notes: notes)
        for connections in [full / 4, full] {
            report.measurements.append(try measure(connections: connections, executable: executable, settings: report.settings))
        }
        print(json ? try report.json() : report.table)
    }

    /// One measurement on a fresh server: empty, all `connections` online and settled, held.
    private func measure(connections: Int, executable: String,
                         settings: ConnectionsReport.Settings) throws -> ConnectionsReport.Measurement {
        let server = try SignalServerProcess(executable: executable, settings: [
            ("max_connections", "\(settings.maxConnections)"), ("refusal_headroom", "\(settings.refusalHeadroom)"),
        ])
        defer { server.stop() }
        usleep(ConnectionsCommand.startupSettle)
        guard let empty = ProcFS.memory(of: server.pid) else {
            throw BenchmarkError(workload: "connections", problem: "cannot read /proc/\(server.pid)/status")
        }
        let workerCount = min(processes, connections)
        let shares = (0..<workerCount).map { connections / workerCount + ($0 < connections % workerCount ? 1 : 0) }
        let rampStart = ContinuousClock.now
        let cpuBefore = ProcFS.cpuSeconds(of: server.pid) ?? 0
        let workers = try WorkerPool(shares: shares, port: server.port, pin: server.pin, ratePerWorker: rate / Double(workerCount),
                                     pending: pending)
        defer { workers.stop(timeout: .seconds(10)) }

        var lastOnline = 0, lastProgress = ContinuousClock.now, lastNote = ContinuousClock.now
        while !workers.allOnline {
            try workers.pump(timeout: .milliseconds(100))
            let total = workers.total
            guard total.failed == 0 else {
                throw BenchmarkError(workload: "connections",
                                     problem: "\(total.failed) clients gave up connecting (\(total.retries) retries): "
                                         + workers.notes.joined(separator: "; ")
                                         + "; server log: \(server.logLines.prefix(3).joined(separator: " | "))")
            }
            if total.online != lastOnline { (lastOnline, lastProgress) = (total.online, .now) }
            guard ContinuousClock.now - lastProgress < ConnectionsCommand.stallTimeout else {
                throw BenchmarkError(workload: "connections", problem: "stalled at \(total.online) of \(connections) online")
            }
            if ContinuousClock.now - lastNote >= .seconds(2) {
                lastNote = .now
                progress("\(connections): \(total.online) online, \(total.retries) retries, "
                         + "after \(seconds(ContinuousClock.now - rampStart)) s")
            }
        }
        try server.checkRunning()
        let rampSeconds = (ContinuousClock.now - rampStart).inNanoseconds / 1e9
        let rampCPU = (ProcFS.cpuSeconds(of: server.pid) ?? 0) - cpuBefore
        progress("\(connections): all online after \(seconds(ContinuousClock.now - rampStart)) s; settling")
        try workers.pump(timeout: .milliseconds(Int64(settings.settleSeconds * 1000)))
        let loaded = ProcFS.memory(of: server.pid)
        let descriptors = ProcFS.openDescriptors(of: server.pid)
        let limit = ProcFS.openFileLimit(of: server.pid)
        let holdStart = (at: ContinuousClock.now, cpu: ProcFS.cpuSeconds(of: server.pid) ?? 0)
        try workers.pump(timeout: .milliseconds(Int64(settings.holdSeconds * 1000)))
        let holdCPU = ((ProcFS.cpuSeconds(of: server.pid) ?? 0) - holdStart.cpu)
            / ((ContinuousClock.now - holdStart.at).inNanoseconds / 1e9)
        try server.checkRunning()
        let held = ProcFS.memory(of: server.pid)
        let clientKiB = workers.pids.compactMap { ProcFS.memory(of: $0)?.residentKiB }.reduce(0, +)
        let status = workers.total
        workers.stop(timeout: .seconds(10))
        let log = server.stop()
        guard let loaded, let held else {
            throw BenchmarkError(workload: "connections", problem: "cannot read /proc/\(server.pid)/status")
        }
        let limitText = limit.map { "\($0.soft.map(String.init) ?? "unlimited")/\($0.hard.map(String.init) ?? "unlimited")" }
        return ConnectionsReport.Measurement(
            connections: connections, workers: workerCount, emptyServer: empty, loadedServer: loaded, heldServer: held,
            serverDescriptors: descriptors, serverOpenFileLimit: limitText, rampSeconds: rampSeconds,
            serverCPUSecondsDuringRamp: rampCPU, serverCPUPercentWhileHeld: holdCPU * 100, clientResidentKiB: clientKiB,
            clients: status, clientNotes: workers.notes, serverLog: log)
    }

    private func progress(_ text: String) {
        let bytes = Array(("parley-bench connections: " + text + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }

    private func seconds(_ duration: Duration) -> String { TextColumns.fixed(duration.inNanoseconds / 1e9, 1) }
}
