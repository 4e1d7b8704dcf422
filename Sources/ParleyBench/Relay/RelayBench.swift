import Glibc
import Logging
import Parley
import ParleyCrypto

/// The clients of `parley-bench relay` and the scenarios run with them: `pairs` pairs spread
/// over `loops` `SignallingLoop`s (both clients of a pair on the same loop), each pair in
/// one connected call through the server.
final class RelayBench {
    let run = RelayRun()
    private let server: SignalServerProcess
    private let loops: [SignallingLoop]
    private let recorders: [RelayRecorder]
    private let pairs: [RelayPair]
    private var shutDown = false

    /// How long setup steps and the drain after a scenario may take.
    static let setupTimeout: Duration = .seconds(60)
    static let drainTimeout: Duration = .seconds(10)

    init(server: SignalServerProcess, pairs count: Int, loops loopCount: Int, logger: Logger) throws {
        self.server = server
        let pairsPerLoop = (count + loopCount - 1) / loopCount
        loops = try (0..<loopCount).map { _ in try SignallingLoop(maxConnections: 2 * pairsPerLoop + 8, logger: logger) }
        recorders = (0..<loopCount).map { _ in RelayRecorder() }
        guard let pin = Hex.decode(server.pin) else {
            throw BenchmarkError(workload: "relay setup", problem: "parley-signal printed a pin that is not hex: \(server.pin)")
        }
        let url = "wss://127.0.0.1:\(server.port)/"
        var pairs: [RelayPair] = []
        for index in 0..<count {
            pairs.append(try RelayPair(index: index, url: url, pin: pin, loop: loops[index % loopCount], run: run,
                                       recorder: recorders[index % loopCount], logger: logger))
        }
        self.pairs = pairs
    }

    deinit { shutdown() }

    /// Every client online, then every call connected.
    func connect() throws {
        pairs.forEach { $0.start() }
        try wait(for: "\(2 * pairs.count) clients online") { run.online.load(ordering: .relaxed) == 2 * pairs.count }
        for pair in pairs { try pair.invite() }
        try wait(for: "\(pairs.count) calls connected") { run.callsConnected.load(ordering: .relaxed) == pairs.count }
    }

    /// Stops every client (close frames) and the loops. Idempotent.
    func shutdown() {
        guard !shutDown else { return }
        shutDown = true
        loops.forEach { $0.shutdown() }
    }

    /// One scenario: `rate` msgs/s in total on a schedule, or (nil) a closed loop with
    /// `window` messages in flight per caller; `warmUp` seconds, then `seconds` measured.
    /// Throws if the server exits meanwhile.
    func measure(rate: Double?, window: Int, warmUp: Double, seconds: Double) throws -> RelayReport.Scenario {
        let before = (failures: run.sendFailures.load(ordering: .relaxed), errors: run.serverErrors.load(ordering: .relaxed),
                      lost: run.connectionsLost.load(ordering: .relaxed))
        recorders.forEach { _ = $0.take() }
        let start = Monotonic.now()
        let windowStart = start + Monotonic.nanoseconds(warmUp)
        let windowEnd = windowStart + Monotonic.nanoseconds(seconds)
        run.windowStart.store(windowStart, ordering: .relaxed)
        run.windowEnd.store(windowEnd, ordering: .relaxed)
        var pacer: JoinableThread<Pacer.Outcome>?
        if let rate {
            pacer = Pacer(pairs: pairs, rate: rate, start: start, end: windowEnd).launch()
        } else {
            run.refillUntil.store(windowEnd, ordering: .relaxed)
            for _ in 0..<window {
                for pair in pairs { pair.send(due: Monotonic.now()) }
            }
        }

        Monotonic.sleep(until: windowStart)
        let first = try ServerSample(server)
        Monotonic.sleep(until: windowEnd)
        let last = try ServerSample(server)
        let pacerOutcome = pacer?.join()

        let drainDeadline = ContinuousClock.now + RelayBench.drainTimeout
        while run.received.load(ordering: .relaxed) < run.sent.load(ordering: .relaxed) && ContinuousClock.now < drainDeadline {
            usleep(10_000)
        }
        var histogram = LatencyHistogram(), fromHandOff = LatencyHistogram()
        for recorder in recorders {
            let latencies = recorder.take()
            histogram.merge(latencies.fromDue)
            fromHandOff.merge(latencies.fromHandOff)
        }
        run.windowStart.store(.max, ordering: .relaxed)

        let elapsed = Double(last.at - first.at) / 1e9
        let serverCPU = last.serverCPU - first.serverCPU
        let generatorCPU = last.ownCPU - first.ownCPU
        var otherLoad: RelayReport.OtherLoad?
        if let firstMachine = first.machine, let lastMachine = last.machine {
            let machine = lastMachine - firstMachine
            otherLoad = .init(otherProcessesPercent: max(0, machine.busy - serverCPU - generatorCPU) / elapsed * 100,
                              stealPercent: machine.steal / elapsed * 100)
        }
        let received = Int(histogram.total)
        var systemCalls: RelayReport.SystemCallsPerMessage?
        if let firstActivity = first.activity, let lastActivity = last.activity, received > 0 {
            let activity = lastActivity - firstActivity
            systemCalls = .init(reads: Double(activity.readCalls) / Double(received), writes: Double(activity.writeCalls) / Double(received),
                                contextSwitches: Double(activity.contextSwitches) / Double(received))
        }
        return RelayReport.Scenario(
            name: rate.map { "paced \(Int($0))/s" } ?? "max throughput, window \(window)",
            targetRate: rate, window: rate == nil ? window : nil, measuredSeconds: seconds, received: received,
            messagesPerSecond: Double(received) / seconds, latency: RelayReport.Latency(histogram),
            latencyFromHandOff: rate == nil ? nil : RelayReport.Latency(fromHandOff),
            serverCPUPercent: serverCPU / elapsed * 100,
            serverMicrosecondsPerMessage: received > 0 ? serverCPU / Double(received) * 1e6 : nil,
            serverSystemCalls: systemCalls, serverMemory: last.memory, generatorCPUPercent: generatorCPU / elapsed * 100, otherLoad: otherLoad,
            pacer: pacerOutcome,
            sendFailures: run.sendFailures.load(ordering: .relaxed) - before.failures,
            serverErrors: run.serverErrors.load(ordering: .relaxed) - before.errors,
            connectionsLost: run.connectionsLost.load(ordering: .relaxed) - before.lost,
            undelivered: max(0, run.sent.load(ordering: .relaxed) - run.received.load(ordering: .relaxed)))
    }

    /// What the server (and the machine, and this process) had used at one moment.
    private struct ServerSample {
        let at = Monotonic.now()
        let serverCPU: Double
        let ownCPU = ProcFS.ownCPUSeconds()
        let activity: ProcFS.Activity?
        let machine = ProcFS.machineCPU()
        let memory: ProcFS.Memory?

        init(_ server: SignalServerProcess) throws {
            try server.checkRunning()
            guard let cpu = ProcFS.cpuSeconds(of: server.pid) else {
                throw BenchmarkError(workload: "relay", problem: "cannot read /proc/\(server.pid)/stat")
            }
            serverCPU = cpu
            activity = ProcFS.activity(of: server.pid)
            memory = ProcFS.memory(of: server.pid)
        }
    }

    private func wait(for what: String, _ done: () -> Bool) throws {
        let deadline = ContinuousClock.now + RelayBench.setupTimeout
        while !done() {
            guard ContinuousClock.now < deadline else {
                let problems = run.problems.withLock { $0 }
                throw BenchmarkError(workload: "relay setup", problem: "timed out waiting for \(what)"
                                     + (problems.isEmpty ? "" : "; " + problems.joined(separator: "; ")))
            }
            usleep(10_000)
        }
    }
}
