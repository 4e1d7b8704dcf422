/// The printed output of `parley-bench call`: one section per scenario as it finishes
/// (each figure beside its baseline from the same run), then the goals.
final class CallReport {
    let environment: CryptoReport.Environment
    let loadAverage: String?
    let server: String
    private var goals: [(goal: String, measured: String, met: Bool)] = []

    init(environment: CryptoReport.Environment, loadAverage: String?, server: String) {
        self.environment = environment
        self.loadAverage = loadAverage
        self.server = server
    }

    func printHeader(quick: Bool) {
        emit("parley-bench call: ParleyClients in this process calling through parley-signal (child process) on 127.0.0.1;"
             + " host candidates on 127.0.0.1 only")
        emit("reproduce: swift build -c release --product parley-signal && swift run -c release parley-bench call"
             + (quick ? " --quick" : ""))
        emit("\(environment.date), \(environment.processors) processors, \(environment.cpuModel ?? "unknown CPU"), "
             + "libsodium \(environment.libsodium), load average \(loadAverage ?? "unknown")")
        emit("server: \(server)")
        if !environment.optimizedBuild {
            emit("WARNING: debug build; these figures are meaningless. Use: swift run -c release parley-bench call")
        }
        if quick { emit("--quick: a smoke test; do not quote these figures") }
    }

    // MARK: Scenarios

    func print(memory result: CallMemoryBench.Result) {
        emit("")
        emit("Memory: \(result.clients) clients online, then \(result.calls) connected calls (\(result.callers) callers, each calling "
             + "\(result.callsPerCaller) callees; both ends of each call in this process), VmRSS of this process")
        emit(col("step", 46) + num("RSS MB", 9) + num("threads", 9) + num("fds", 6))
        let rows: [(String, CallMemoryBench.Sample)] = [
            ("before the clients (server is another process)", result.start), ("\(result.clients) clients online", result.online),
            ("\(result.calls) calls connected, idle", result.connected),
            ("after \(result.trafficBytesPerCall / 1024) KiB of messages per call", result.afterTraffic),
            ("every call hung up", result.hungUp),
        ]
        for (name, sample) in rows {
            emit(col(name, 46) + num(fixed(Double(sample.residentBytes) / 1e6, 1), 9) + num("\(sample.threads)", 9)
                 + num("\(sample.descriptors)", 6))
        }
        let threadsPerClient = Double(result.online.threads - result.start.threads) / Double(result.clients)
        let fdsPerCall = Double(result.connected.descriptors - result.online.descriptors) / Double(result.calls)
        emit("per client (signalling connection, engine, ICE loop): \(kilobytes(result.perClientBytes)), "
             + "\(fixed(threadsPerClient, 1)) threads")
        emit("per call, both ends: \(kilobytes(result.perIdleCallBytes)) idle, \(kilobytes(result.perBusyCallBytes)) after traffic; "
             + "\(fixed(fdsPerCall, 1)) descriptors")
        emit("per call end (one device): \(kilobytes(result.perIdleCallBytes / 2)) idle, \(kilobytes(result.perBusyCallBytes / 2)) after traffic")
        if result.stalledCalls > 0 {
            emit("\(result.stalledCalls) of \(result.calls) calls had not carried their messages after \(CallMemoryBench.trafficTimeout): "
                 + "their channel stopped sending (a library fault); the after-traffic figure includes them")
        }
        emit("after hang-up, \(kilobytes(Double(result.hungUp.residentBytes - result.online.residentBytes))) above the online clients stay resident (allocator caches)")
        let worst = max(result.perIdleCallBytes, result.perBusyCallBytes) / 2
        goals.append(("memory per call end <= 1 MB", kilobytes(worst) + " (both ends: \(kilobytes(2 * worst)))", worst <= 1_000_000))
    }

    func print(setup results: [(CallSetupBench.Result, [Double])], calls: Int) {
        emit("")
        emit("Call setup: client.call() to the callee's received() yielding the first message (sent as soon as connected()"
             + " returned); \(calls) sequential calls after \(CallSetupBench.warmUpCalls) warm-up, one client pair per pacing, ms")
        emit(col("ICE check pacing", 18) + num("p50", 8) + num("p90", 8) + num("p99", 8) + num("max", 8)
             + "   p50 of the phases: ring, keys, sdp, ice checks, first message")
        for (result, raw) in results {
            let total = result.phase({ _ in 0 }, { $0.delivered })
            let phases = [
                result.phase({ _ in 0 }, { $0.ringing }), result.phase({ $0.ringing }, { $0.secured }),
                result.phase({ $0.secured }, { $0.connecting }), result.phase({ $0.connecting }, { $0.connected }),
                result.phase({ $0.connected }, { $0.delivered }),
            ]
            let pacing = "\(milliseconds(result.checkPacing)) ms"
            emit(col(pacing, 18) + num(ms(total.median), 8) + num(ms(total.quantile(0.9)), 8) + num(ms(total.quantile(0.99)), 8)
                 + num(ms(total.maximum), 8) + "   " + phases.map { ms($0.median) }.joined(separator: ", "))
            let rawTimes = SampleQuantiles(raw)
            emit(col("  baseline", 18) + num(ms(rawTimes.median), 8) + num(ms(rawTimes.quantile(0.9)), 8) + num("", 8)
                 + num(ms(rawTimes.maximum), 8)
                 + "   ICE alone: 2 IceTransports in process, gather() to both connected, \(raw.count) runs (no signalling, no keys)")
            if let median = total.median {
                goals.append(("call setup p50 < 50 ms (pacing \(pacing))", ms(median) + " ms", median < 50))
            }
        }
        emit("phases, from the caller's events() as a task saw them: ring = invite to ringing; keys = ringing to secured "
             + "(accept, key confirmation; ICE gathering starts here); sdp = secured to connecting (sealed offer and answer "
             + "through the server); ice checks = connecting to connected; first message = connected to delivered")
        emit("reference (DESIGN.md section 8, minimal C, not this run): libnice gathering to READY 21 ms at 20 ms pacing, 6 ms at 5 ms")
    }

    func print(audio result: AudioCallCPUBench.Result) {
        emit("")
        emit("Audio-only call: \(AudioCallCPUBench.framesPerSecond) frames/s of \(AudioCallCPUBench.payloadBytes)-byte payloads "
             + "each way for \(fixed(result.seconds, 0)) s; CPU of this process (every thread, both ends), % of one core")
        emit(col("", 46) + num("CPU", 9) + num("frames", 16))
        emit(col("baseline: 2 clients online, no call", 46) + num(fixed(result.idleCorePercent, 2) + "%", 9))
        emit(col("one audio call (both ends)", 46) + num(fixed(result.callCorePercent, 2) + "%", 9)
             + num("\(result.framesReceived.callee)+\(result.framesReceived.caller)/\(2 * result.framesSent)", 16))
        emit(col("the call alone: difference", 46) + num(fixed(result.netCorePercent, 2) + "%", 9))
        emit(col("  per call end", 46) + num(fixed(result.netCorePercent / 2, 2) + "%", 9))
        if !result.sendErrors.isEmpty { emit("send errors: " + result.sendErrors.joined(separator: "; ")) }
    }

    func print(stalls: [String]) {
        guard !stalls.isEmpty else { return }
        emit("")
        emit("\(stalls.count) call\(stalls.count == 1 ? "" : "s") stopped delivering messages before the measurement and "
             + "\(stalls.count == 1 ? "was" : "were") replaced by a new call (a library fault, not a slow path):")
        stalls.forEach { emit("  " + $0) }
    }

    func print(sealed: [CallThroughputBench.Result], raw: RawIceBaseline.Result, costs: [DataPathCosts.Result]) {
        emit("")
        emit("Throughput on the direct path, one call, loopback: sealed messages as fast as the reliable channel takes them "
             + "(after 0.5 s of warm-up); payload delivered to the callee's received()")
        emit(col("", 34) + num("Gbit/s", 8) + num("msgs/s", 10) + num("wire Gb/s", 10) + num("CPU", 7) + num("retx", 7)
             + num("lost", 7) + num("srtt µs", 9) + num("dropped", 9))
        for result in sealed {
            emit(col("sealed \(sizeName(result.messageBytes)) messages", 34) + num(fixed(result.gigabitsPerSecond, 2), 8)
                 + num(fixed(Double(result.deliveredMessages) / result.seconds, 0), 10) + num(fixed(result.wireGigabitsPerSecond, 2), 10)
                 + num(fixed(result.cores * 100, 0) + "%", 7) + num("\(result.retransmitted)", 7) + num("\(result.lost)", 7)
                 + num(result.smoothedRTTMicroseconds.map { fixed($0, 0) } ?? "-", 9) + num("\(result.droppedDeliveries)", 9))
            if !result.sendErrors.isEmpty { emit("  send errors: " + result.sendErrors.joined(separator: "; ")) }
            goals.append(("sealed throughput >= 1 Gbit/s (\(sizeName(result.messageBytes)))", fixed(result.gigabitsPerSecond, 2) + " Gbit/s",
                          result.gigabitsPerSecond >= 1))
        }
        emit(col("baseline: raw 1200 B datagrams", 34) + num(fixed(raw.gigabitsPerSecond, 2), 8)
             + num(fixed(Double(raw.received) / raw.seconds, 0), 10) + num(fixed(raw.gigabitsPerSecond, 2), 10)
             + num(fixed(raw.cores * 100, 0) + "%", 7)
             + "   unsealed, 2 IceTransports, send(batch:) of 64, \(fixed(raw.seconds, 1)) s; \(fixed(raw.lossPercent, 1))% dropped by the socket")
        emit("(CPU: this process, % of one core; wire: sealed datagram bytes the callee's transport received; retx/lost: "
             + "the caller's channel in the window; dropped: deliveries a slow received() consumer lost)")
        for result in sealed {
            let ceiling = result.smoothedRTTMicroseconds.map { Double(result.congestionWindowBytes) * 8 / ($0 * 1e3) } ?? 0
            emit("sealed \(sizeName(result.messageBytes)): the caller's channel ended with cwnd \(fixed(Double(result.congestionWindowBytes) / 1024, 1)) KiB, "
                 + "pacing \(fixed(result.pacingGigabitsPerSecond, 2)) Gbit/s, min RTT \(result.minRTTMicroseconds.map { fixed($0, 0) } ?? "-") µs, "
                 + "srtt \(result.smoothedRTTMicroseconds.map { fixed($0, 0) } ?? "-") µs: cwnd / srtt allows \(fixed(ceiling, 2)) Gbit/s on the wire")
        }
        for result in sealed {
            emit("sealed \(sizeName(result.messageBytes)): \(fixed(result.gigabitsPerSecond / raw.gigabitsPerSecond * 100, 0))% of the raw path's payload rate")
        }

        emit("")
        emit("Where the time goes: the same per-packet steps in one thread, no sockets (\(costs.first.map { "\($0.dataPackets)" } ?? "?") "
             + "data packets per size), ns per data packet")
        emit(col("stage", 42) + costs.map { num(sizeName($0.messageBytes), 10) }.joined())
        for stage in DataPathCosts.Stage.allCases {
            emit(col(stage.label, 42) + costs.map { num(fixed($0.nanosecondsPerPacket[stage] ?? 0, 0), 10) }.joined())
        }
        emit(col("total", 42) + costs.map { num(fixed($0.totalNanoseconds, 0), 10) }.joined())
        emit(col("one core's ceiling, Gbit/s of payload", 42) + costs.map { num(fixed($0.oneCoreGigabitsPerSecond, 2), 10) }.joined())
        emit(col("acks per data packet", 42) + costs.map { num(fixed(Double($0.ackPackets) / Double($0.dataPackets), 2), 10) }.joined())
        emit("(the live path adds the sockets, libnice, two threads per end handing packets over, and the received() streams)")
    }

    func printGoals() {
        guard !goals.isEmpty else { return }
        emit("")
        emit(col("goal", 46) + num("measured", 30) + "  verdict")
        for goal in goals {
            emit(col(goal.goal, 46) + num(goal.measured, 30) + "  " + (goal.met ? "met" : "MISSED"))
        }
    }

    // MARK: Formatting

    private func emit(_ line: String) { Swift.print(line) }
    private func col(_ text: String, _ width: Int) -> String { TextColumns.left(text, width) }
    private func num(_ text: String, _ width: Int) -> String { TextColumns.right(text, width) }
    private func fixed(_ value: Double, _ decimals: Int) -> String { TextColumns.fixed(value, decimals) }
    private func ms(_ value: Double?) -> String { value.map { fixed($0, 1) } ?? "-" }
    private func kilobytes(_ bytes: Double) -> String { fixed(bytes / 1000, 0) + " KB" }
    private func sizeName(_ bytes: Int) -> String { bytes % 1024 == 0 ? "\(bytes / 1024) KiB" : "\(bytes) B" }
    private func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }
}
