import ArgumentParser
import CSodium
import Glibc
import Parley

/// `parley-bench call`: whole Parley calls on loopback through the real parley-signal:
/// setup time, sealed message throughput beside the unsealed path, memory per call and
/// the CPU of an audio-only call, each printed with its baseline from the same run.
struct CallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call",
        abstract: "Calls between ParleyClients on loopback: setup time, sealed throughput, memory per call, audio CPU.",
        discussion: """
            Starts .../parley-signal (next to this executable, or --server) as a child process on \
            127.0.0.1 and runs ParleyClients in this process with host candidates on 127.0.0.1 only. \
            Scenarios, in order: memory (--callers clients each calling 4 others), setup (--calls \
            sequential calls at 20 ms and 5 ms ICE pacing, with raw IceTransport connects as the \
            baseline), audio (idle, then one audio-only call at 50 frames/s each way), throughput \
            (1100-byte and 64 KiB messages, raw 1200-byte datagrams on two IceTransports, and the \
            per-packet costs of the same steps in one thread). Build both in release: \
            swift build -c release --product parley-signal.
            """
    )

    enum Scenario: String, ExpressibleByArgument, CaseIterable {
        case memory, setup, audio, throughput
    }

    @Option(help: "Sequential calls per pacing for the setup figures, after 3 warm-up calls (default 50).")
    var calls = 50

    @Option(help: "Measured seconds per message size, after 0.5 s of warm-up (default 5).")
    var seconds: Double?

    @Option(help: "Seconds of the audio call and of the idle baseline before it (default 10).")
    var audioSeconds: Double?

    @Option(help: "Callers for the memory figures, each calling 4 callees of its own (default 5: 25 clients, 20 calls).")
    var callers: Int?

    @Option(help: "Run one scenario: memory, setup, audio or throughput (default: all).")
    var only: Scenario?

    @Option(help: ArgumentHelp("The parley-signal executable (default: next to this one).", valueName: "path"))
    var server: String?

    @Flag(help: "10 calls, 1 s per size, 2 s of audio, 1 caller: a smoke test, not figures to quote.")
    var quick = false

    func validate() throws {
        if calls < 1 || calls > 10_000 { throw ValidationError("--calls must be 1...10000") }
        if let seconds, !(seconds > 0 && seconds <= 600) { throw ValidationError("--seconds must be in (0, 600]") }
        if let audioSeconds, !(audioSeconds >= 1 && audioSeconds <= 600) { throw ValidationError("--audio-seconds must be 1...600") }
        if let callers, callers < 1 || callers > 20 { throw ValidationError("--callers must be 1...20") }
    }

    func run() async throws {
        guard sodium_init() >= 0 else { throw BenchmarkError(workload: "setup", problem: "sodium_init failed") }
        signal(SIGPIPE, SIG_IGN)
        let executable = try SignalServerProcess.locate(server)
        let report = CallReport(environment: .current(libsodium: String(cString: sodium_version_string())),
                                loadAverage: ProcFS.loadAverage(), server: executable)
        report.printHeader(quick: quick)
        let network = try CallBenchNetwork(executable: executable)
        defer { network.shutdown() }
        let scenarios = only.map { [$0] } ?? Scenario.allCases
        let setupCalls = quick ? min(calls, 10) : calls
        let throughputSeconds = seconds ?? (quick ? 1 : 5)
        let audioSeconds = self.audioSeconds ?? (quick ? 2 : 10)
        let callers = self.callers ?? (quick ? 1 : 5)

        for scenario in scenarios {
            switch scenario {
            case .memory:
                report.print(memory: try await CallMemoryBench.measure(network: network, callers: callers))
            case .setup:
                var results: [(CallSetupBench.Result, [Double])] = []
                for pacing: Duration in [.milliseconds(20), .milliseconds(5)] {
                    let raw = try await RawIceBaseline.connectTimes(checkPacing: pacing, count: quick ? 3 : 10)
                    results.append((try await CallSetupBench.measure(network: network, checkPacing: pacing, calls: setupCalls), raw))
                }
                report.print(setup: results, calls: setupCalls)
            case .audio:
                report.print(audio: try await AudioCallCPUBench.measure(network: network, seconds: audioSeconds))
            case .throughput:
                try await measureThroughput(network: network, report: report, seconds: throughputSeconds)
            }
        }
        try network.server.checkRunning()
        report.printGoals()
        let logs = network.shutdown()
        serverLogLines(logs).forEach { Swift.print($0) }
    }

    /// New calls tried when one stops delivering before the measurement.
    static let maxCallAttempts = 3

    private func measureThroughput(network: CallBenchNetwork, report: CallReport, seconds: Double) async throws {
        let caller = try await network.client()
        let callee = try await network.client()
        defer {
            network.stop(caller)
            network.stop(callee)
        }
        let answer = AutoAnswer(callee)
        var stalls: [String] = []
        var flowing: (call: Call, answered: Call, callerData: CallDataCounter, calleeData: CallDataCounter)?
        for _ in 0..<CallCommand.maxCallAttempts where flowing == nil {
            let (call, answered) = try await connectedCall(caller, callee, answer: answer)
            let callerData = CallDataCounter(call)
            let calleeData = CallDataCounter(answered)
            if let stall = try await CallThroughputBench.checkFlowing(caller: call, callerData: callerData, calleeData: calleeData) {
                stalls.append(stall)
                call.hangUp()
                callerData.stop()
                calleeData.stop()
            } else {
                flowing = (call, answered, callerData, calleeData)
            }
        }
        report.print(stalls: stalls)
        guard let (call, answered, callerData, calleeData) = flowing else {
            throw BenchmarkError(workload: "sealed throughput", problem: "\(stalls.count) calls in a row stopped delivering messages")
        }
        defer {
            call.hangUp()
            callerData.stop()
            calleeData.stop()
        }
        var sealed: [CallThroughputBench.Result] = []
        for size in [1100, 65_536] {
            sealed.append(try await CallThroughputBench.measure(caller: call, callee: answered, callerData: callerData,
                                                                calleeData: calleeData, messageBytes: size,
                                                                warmUp: 0.5, seconds: seconds))
        }
        call.hangUp()
        let raw = try await RawIceBaseline.measure(warmUp: 0.3, seconds: min(seconds, 3))
        let packets: UInt64 = quick ? 50_000 : 400_000
        let costs = try [1100, 65_536].map { try DataPathCosts.measure(messageBytes: $0, packets: packets) }
        report.print(sealed: sealed, raw: raw, costs: costs)
    }
}
