import ArgumentParser
import CSodium
import Glibc
import Logging
import Parley

/// `parley-bench relay`: sealed 512-byte signals relayed by the real `parley-signal` over
/// TLS WebSockets on loopback, between pairs of Parley `SignallingClient`s in this process:
/// messages/s at maximum throughput, latency at a fixed rate, server CPU and memory. The
/// in-process cost of `SignallingCore` plus the envelope codec, measured in the same run,
/// is the baseline: what share of the server's CPU per message is routing.
struct RelayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay",
        abstract: "Relay sealed signals through parley-signal over TLS on loopback: throughput, latency, server CPU and RSS.",
        discussion: """
            Starts .../parley-signal (next to this executable, or --server) on a free port with a \
            temporary state directory, connects 2 x --pairs clients, sets up one call per pair, then \
            runs two scenarios: the callers send 10000 msgs/s in total on a fixed schedule, then \
            keep --window messages in flight each (maximum throughput); --rate picks one of the two \
            instead. Build both in release: swift build -c release.
            """
    )

    @Option(help: "Caller/callee pairs, one call each (default 16).")
    var pairs = 16

    @Option(help: "Measured seconds per scenario, after the warm-up (default 5).")
    var seconds: Double?

    @Option(help: "Run one scenario: total msgs/s on a fixed schedule, or 0 for maximum throughput (default: both, 0 and 10000).")
    var rate: Double?

    @Option(help: "Messages in flight per caller at maximum throughput (default 128).")
    var window = 128

    @Option(help: "SignallingLoop threads the clients are spread over (default 2: one lws client loop cannot generate 100k msgs/s, its WebSocket parser reads frames a byte at a time).")
    var loops = 2

    @Option(help: ArgumentHelp("The parley-signal executable (default: next to this one).", valueName: "path"))
    var server: String?

    @Flag(help: "0.3 s warm-up and 1 s per scenario, a short baseline: a smoke test, not figures to quote.")
    var quick = false

    @Flag(help: "Print the results as JSON instead of a table.")
    var json = false

    func validate() throws {
        if pairs < 1 || pairs > 5_000 { throw ValidationError("--pairs must be 1...5000") }
        if let seconds, !(seconds > 0 && seconds <= 3600) { throw ValidationError("--seconds must be in (0, 3600]") }
        if let rate, !(rate >= 0 && rate <= 10_000_000) { throw ValidationError("--rate must be 0...10000000") }
        if window < 1 || window > 10_000 { throw ValidationError("--window must be 1...10000") }
        if loops < 1 || loops > pairs { throw ValidationError("--loops must be 1...--pairs") }
    }

    func run() throws {
        guard sodium_init() >= 0 else { throw BenchmarkError(workload: "setup", problem: "sodium_init failed") }
        signal(SIGPIPE, SIG_IGN)
        let executable = try SignalServerProcess.locate(server)
        let loadAverage = ProcFS.loadAverage()
        let warmUp = quick ? 0.3 : 1.0
        let measured = seconds ?? (quick ? 1 : 5)
        let baseline = try RelayBaseline.measure(pairs: pairs, quick: quick)

        let server = try SignalServerProcess(executable: executable, settings: [
            ("max_connections", "\(2 * pairs + 16)"),
            // Nothing is throttled: the bench measures relaying, not the limiter's verdicts.
            ("messages_per_second", "1000000000"), ("message_burst", "1000000000"),
            ("bytes_per_second", "1024GiB"), ("byte_burst", "1024GiB"),
            ("max_send_queue_bytes", "64MiB"),
        ])
        defer { server.stop() }
        let bench = try RelayBench(server: server, pairs: pairs, loops: loops, logger: RelayCommand.quietLogger)
        defer { bench.shutdown() }
        try bench.connect()

        var report = RelayReport(
            environment: .current(libsodium: String(cString: sodium_version_string())), loadAverage: loadAverage,
            settings: .init(pairs: pairs, loops: loops, window: window, warmUpSeconds: warmUp, measuredSeconds: measured,
                            payloadBytes: RelayPair.payloadCount, server: executable, serverPID: server.pid),
            baseline: baseline)
        // The paced scenario goes first: right after seconds of both cores busy, it met steal
        // time from this VM's host and its p99 rose up to tenfold (BENCHMARKS.md).
        let rates: [Double] = rate.map { [$0] } ?? [RelayReport.latencyGoalRate, 0]
        for rate in rates {
            let scenario = try bench.measure(rate: rate == 0 ? nil : rate, window: window, warmUp: warmUp, seconds: measured)
            guard scenario.connectionsLost == 0, scenario.undelivered == 0 else {
                let problems = bench.run.problems.withLock { $0 }
                throw BenchmarkError(workload: scenario.name, problem: "\(scenario.connectionsLost) connections lost and "
                                     + "\(scenario.undelivered) messages undelivered, so the figures are discarded; "
                                     + problems.joined(separator: "; "))
            }
            report.scenarios.append(scenario)
        }
        report.evaluateGoals()
        report.problems = bench.run.problems.withLock { $0 }
        bench.shutdown()
        report.serverLog = server.stop()
        print(json ? try report.json() : report.table)
    }

    /// Client logs at error level and above, on stderr (the bench counts what it sees itself).
    static var quietLogger: Logger {
        var logger = Logger(label: "parley-bench") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .error
        return logger
    }
}

/// The in-process baseline: `signalling-core`'s workloads, interleaved batch by batch.
enum RelayBaseline {
    static let plan = RunPlan(runs: 5, budget: .seconds(0.05))

    static func measure(pairs: Int, quick: Bool) throws -> RelayReport.Baseline {
        let plan = quick ? RunPlan.quick : RelayBaseline.plan
        let workloads: [any Workload] = [try CoreRelayWorkload(pairs: pairs), try CodecRelayWorkload()]
        let samples = try Sampler(plan: plan).measureInterleaved(workloads)
        let planText: String
        switch plan.budget {
        case let .seconds(seconds): planText = "\(plan.runs) runs of \(seconds) s"
        case let .iterations(count): planText = "\(plan.runs) runs of \(count) operations"
        }
        return RelayReport.Baseline(plan: planText, coreName: workloads[0].name, coreNanoseconds: Summary(samples[0].perRun).median,
                                    codecName: workloads[1].name, codecNanoseconds: Summary(samples[1].perRun).median)
    }
}
