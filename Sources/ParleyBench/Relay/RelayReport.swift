import Foundation

/// Everything `parley-bench relay` measured, as printed and encoded for `--json`.
struct RelayReport: Codable, JSONReport {
    struct Settings: Codable {
        let pairs: Int
        let loops: Int
        let window: Int
        let warmUpSeconds: Double
        let measuredSeconds: Double
        let payloadBytes: Int
        let server: String
        let serverPID: Int32
    }

    struct Latency: Codable {
        let p50Microseconds: Double
        let p99Microseconds: Double
        let p999Microseconds: Double
        let maxMicroseconds: Double

        init?(_ histogram: LatencyHistogram) {
            guard let p50 = histogram.quantile(0.5), let p99 = histogram.quantile(0.99), let p999 = histogram.quantile(0.999) else {
                return nil
            }
            p50Microseconds = Double(p50) / 1e3
            p99Microseconds = Double(p99) / 1e3
            p999Microseconds = Double(p999) / 1e3
            maxMicroseconds = Double(histogram.maximum) / 1e3
        }
    }

    struct Scenario: Codable {
        let name: String
        /// Messages per second offered on a schedule; nil for the closed loop at maximum throughput.
        let targetRate: Double?
        /// Messages in flight per caller in the closed loop.
        let window: Int?
        /// Length of the measured window and what happened in it.
        let measuredSeconds: Double
        let received: Int
        let messagesPerSecond: Double
        /// One-way, send (or scheduled send) to reception, over the messages received in the window.
        let latency: Latency?
        /// Paced only: the same from the moment the pacer handed each message to the client,
        /// leaving out how late the pacer itself was.
        let latencyFromHandOff: Latency?
        /// `parley-signal`'s user + system CPU over the window, as a percentage of one core.
        let serverCPUPercent: Double
        /// The same CPU time divided by the messages relayed in the window.
        let serverMicrosecondsPerMessage: Double?
        /// Server system calls (read-like, write-like) and context switches per relayed message.
        let serverSystemCalls: SystemCallsPerMessage?
        /// VmRSS and VmHWM at the end of the window.
        let serverMemory: ProcFS.Memory?
        /// This process (all clients, their loop threads, the pacer) over the window.
        let generatorCPUPercent: Double
        /// The rest of the machine over the window.
        let otherLoad: OtherLoad?
        let pacer: Pacer.Outcome?
        let sendFailures: Int
        let serverErrors: Int
        let connectionsLost: Int
        /// Sent in the scenario but not received within the drain time after it.
        let undelivered: Int
    }

    struct OtherLoad: Codable {
        /// CPU the machine spent outside the server and this process, % of one core.
        let otherProcessesPercent: Double
        /// Steal time (the hypervisor ran something else), % of one core.
        let stealPercent: Double
    }

    struct SystemCallsPerMessage: Codable {
        let reads: Double
        let writes: Double
        let contextSwitches: Double
    }

    struct Baseline: Codable {
        let plan: String
        let coreName: String
        let coreNanoseconds: Double
        let codecName: String
        let codecNanoseconds: Double
        var perMessageNanoseconds: Double { coreNanoseconds + codecNanoseconds }
        /// Messages one core could route if routing and the codec were all there was.
        var ceilingMessagesPerSecond: Double { 1e9 / perMessageNanoseconds }
    }

    struct Goal: Codable {
        let name: String
        let measured: String
        let met: Bool
    }

    let environment: CryptoReport.Environment
    /// /proc/loadavg when the run started: other work on the machine shows here.
    let loadAverage: String?
    let settings: Settings
    let baseline: Baseline
    var scenarios: [Scenario] = []
    var goals: [Goal] = []
    var problems: [String] = []
    var serverLog: [String] = []

    /// The issue's goals on this 2-core machine.
    static let throughputGoal = 100_000.0
    static let latencyGoalRate = 10_000.0
    static let p99GoalMicroseconds = 2_000.0
    /// The comparison the issue states (measured elsewhere, not by this command).
    static let reference = "gorilla/websocket relay in Go (issue text, not measured here): about 100-130k msgs/s, p99 about 1-2.5 ms at 10k msgs/s"

    mutating func evaluateGoals() {
        if let best = scenarios.filter({ $0.targetRate == nil }).map(\.messagesPerSecond).max() {
            goals.append(Goal(name: ">= \(Int(RelayReport.throughputGoal)) msgs/s relayed", measured: "\(Int(best.rounded())) msgs/s",
                              met: best >= RelayReport.throughputGoal))
        }
        if let paced = scenarios.first(where: { $0.targetRate == RelayReport.latencyGoalRate }), let latency = paced.latency {
            goals.append(Goal(name: "p99 < 2 ms at \(Int(RelayReport.latencyGoalRate)) msgs/s",
                              measured: TextColumns.fixed(latency.p99Microseconds / 1e3, 2) + " ms",
                              met: latency.p99Microseconds < RelayReport.p99GoalMicroseconds))
        }
    }
}

extension RelayReport {
    var table: String {
        typealias C = TextColumns
        var lines: [String] = []
        lines.append("parley-bench relay: \(settings.pairs) caller/callee pairs through parley-signal over TLS on loopback, "
                     + "\(settings.payloadBytes)-byte payloads; \(C.fixed(settings.warmUpSeconds, 1)) s warm-up, then "
                     + "\(C.fixed(settings.measuredSeconds, 1)) s measured per scenario")
        lines.append("\(environment.date), \(environment.processors) processors, \(environment.cpuModel ?? "unknown CPU"), "
                     + "libsodium \(environment.libsodium), load average \(loadAverage ?? "unknown")")
        lines.append("server: \(settings.server) (pid \(settings.serverPID)); generator: this process, \(settings.loops) "
                     + "SignallingLoop thread\(settings.loops == 1 ? "" : "s"), on the same cores")
        if !environment.optimizedBuild {
            lines.append("WARNING: debug build; these figures are meaningless. Use: swift run -c release parley-bench relay")
        }
        lines.append("")
        lines.append(C.left("scenario", 28) + C.right("msgs/s", 9) + C.right("p50 µs", 9) + C.right("p99 µs", 9)
                     + C.right("p999 µs", 9) + C.right("max µs", 9) + C.right("server CPU", 12) + C.right("µs/msg", 8)
                     + C.right("RSS MB", 8) + C.right("generator CPU", 15))
        for scenario in scenarios {
            let latency = scenario.latency
            func micro(_ value: Double?) -> String { value.map { C.fixed($0, $0 >= 100 ? 0 : 1) } ?? "-" }
            lines.append(C.left(scenario.name, 28) + C.right(C.fixed(scenario.messagesPerSecond, 0), 9)
                         + C.right(micro(latency?.p50Microseconds), 9) + C.right(micro(latency?.p99Microseconds), 9)
                         + C.right(micro(latency?.p999Microseconds), 9) + C.right(micro(latency?.maxMicroseconds), 9)
                         + C.right(C.fixed(scenario.serverCPUPercent, 0) + "%", 12)
                         + C.right(scenario.serverMicrosecondsPerMessage.map { C.fixed($0, 2) } ?? "-", 8)
                         + C.right(scenario.serverMemory.map { C.fixed(Double($0.residentKiB) * 1024 / 1e6, 1) } ?? "-", 8)
                         + C.right(C.fixed(scenario.generatorCPUPercent, 0) + "%", 15))
        }
        lines.append("(latency: one way, caller's send to callee's reception; paced: from the scheduled send time. "
                     + "CPU: % of one core over the window. µs/msg: server CPU time / messages relayed. RSS: server VmRSS at the end)")
        for scenario in scenarios {
            if let pacer = scenario.pacer {
                lines.append("\(scenario.name): \(pacer.scheduled) messages due in warm-up and window, \(pacer.late) handed to the "
                             + "client more than 1 ms late (largest lag \(C.fixed(Double(pacer.maximumLagNanoseconds) / 1e3, 0)) µs)")
            }
            if let latency = scenario.latencyFromHandOff {
                lines.append("\(scenario.name): latency from the hand-off to the client instead of the due time: p50 "
                             + "\(C.fixed(latency.p50Microseconds, 0)), p99 \(C.fixed(latency.p99Microseconds, 0)), p999 "
                             + "\(C.fixed(latency.p999Microseconds, 0)), max \(C.fixed(latency.maxMicroseconds, 0)) µs")
            }
            if let other = scenario.otherLoad {
                lines.append("\(scenario.name): meanwhile other processes used \(C.fixed(other.otherProcessesPercent, 0))% of a core "
                             + "and steal time was \(C.fixed(other.stealPercent, 0))%")
            }
            if let calls = scenario.serverSystemCalls {
                lines.append("\(scenario.name): per relayed message the server made \(C.fixed(calls.reads, 2)) read and "
                             + "\(C.fixed(calls.writes, 2)) write system calls and \(C.fixed(calls.contextSwitches, 2)) context switches")
            }
            let trouble = [("send refusals", scenario.sendFailures), ("server errors", scenario.serverErrors),
                           ("connections lost", scenario.connectionsLost), ("undelivered", scenario.undelivered)]
                .filter { $0.1 > 0 }.map { "\($0.1) \($0.0)" }
            if !trouble.isEmpty { lines.append("\(scenario.name): " + trouble.joined(separator: ", ")) }
        }
        lines.append("")
        lines.append("baseline, same run, in process (\(baseline.plan), medians): \(baseline.coreName) "
                     + "\(C.fixed(baseline.coreNanoseconds, 0)) ns + \(baseline.codecName) \(C.fixed(baseline.codecNanoseconds, 0)) ns = "
                     + "\(C.fixed(baseline.perMessageNanoseconds, 0)) ns per message: a ceiling of "
                     + "\(C.fixed(baseline.ceilingMessagesPerSecond / 1e6, 2)) M msgs/s on one core")
        for scenario in scenarios {
            guard let perMessage = scenario.serverMicrosecondsPerMessage else { continue }
            let share = baseline.perMessageNanoseconds / 1e3 / perMessage * 100
            lines.append("\(scenario.name): the server spent \(C.fixed(perMessage, 2)) µs of CPU per relayed message; core + codec "
                         + "are \(C.fixed(share, 1))% of it, the rest is TLS, WebSocket framing, system calls and the lws adapter")
        }
        lines.append("")
        if !goals.isEmpty {
            lines.append(C.left("goal", 36) + C.right("measured", 12) + "  verdict")
            for goal in goals {
                lines.append(C.left(goal.name, 36) + C.right(goal.measured, 12) + "  " + (goal.met ? "met" : "MISSED"))
            }
        }
        lines.append("reference: " + RelayReport.reference)
        if !problems.isEmpty {
            lines.append("")
            lines.append("unexpected events (first \(problems.count)):")
            lines.append(contentsOf: problems.map { "  " + $0 })
        }
        lines.append(contentsOf: serverLogLines(serverLog))
        return lines.joined(separator: "\n")
    }

}
