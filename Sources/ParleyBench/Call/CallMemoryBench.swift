import Glibc
import Parley
import ParleyProtocol

/// Memory per call: this process's VmRSS, threads and descriptors before the clients,
/// with the clients online, with every call connected (idle), after each call carried
/// messages both ways, and after every call was hung up. Both ends of every call live in
/// this process, so "per call" is the cost of both ends; the server is another process.
/// The server lets a device be in at most 4 calls, and rings no device that is in a call
/// already, so each caller calls 4 callees of its own: 5 clients per 4 calls.
enum CallMemoryBench {
    struct Sample {
        let residentBytes: Int
        let threads: Int
        let descriptors: Int

        static func now() -> Sample {
            let threads = ProcFS.read("/proc/self/status")?.split(separator: "\n")
                .first { $0.hasPrefix("Threads:") }
                .flatMap { line in line.split(whereSeparator: { $0 == " " || $0 == "\t" }).last.flatMap { Int($0) } } ?? 0
            return Sample(residentBytes: ownResidentBytes(), threads: threads, descriptors: ProcFS.openDescriptors(of: getpid()) ?? 0)
        }
    }

    struct Result {
        let callers: Int
        let callsPerCaller: Int
        let trafficBytesPerCall: Int
        let start: Sample
        let online: Sample
        let connected: Sample
        let afterTraffic: Sample
        let hungUp: Sample
        /// Calls that had not carried their messages both ways when the traffic wait ended.
        let stalledCalls: Int

        var clients: Int { callers * (1 + callsPerCaller) }
        var calls: Int { callers * callsPerCaller }
        var perClientBytes: Double { Double(online.residentBytes - start.residentBytes) / Double(clients) }
        var perIdleCallBytes: Double { Double(connected.residentBytes - online.residentBytes) / Double(calls) }
        var perBusyCallBytes: Double { Double(afterTraffic.residentBytes - online.residentBytes) / Double(calls) }
    }

    /// The server's default `max_calls_per_device`.
    static let callsPerCaller = 4
    /// Messages each end sends on each call before the "after traffic" sample.
    static let trafficMessages = 4
    static let trafficMessageBytes = 65_536
    static let settle: Duration = .milliseconds(300)
    static let trafficTimeout: Duration = .seconds(10)

    static func measure(network: CallBenchNetwork, callers: Int) async throws -> Result {
        try await Task.sleep(for: settle)
        let start = Sample.now()
        var groups: [(caller: ParleyClient, callees: [ParleyClient])] = []
        for _ in 0..<callers {
            let caller = try await network.client()
            var callees: [ParleyClient] = []
            for _ in 0..<callsPerCaller { callees.append(try await network.client()) }
            groups.append((caller, callees))
        }
        defer {
            for group in groups {
                network.stop(group.caller)
                group.callees.forEach { network.stop($0) }
            }
        }
        try await Task.sleep(for: settle)
        let online = Sample.now()

        let calleeCounters = Locked<[CallID: CallDataCounter]>([:])
        var calls: [(caller: Call, callee: Call, counter: CallDataCounter)] = []
        for group in groups {
            for callee in group.callees {
                let answer = AutoAnswer(callee) { call in
                    let counter = CallDataCounter(call)
                    calleeCounters.withLock { $0[call.id] = counter }
                }
                let (call, answered) = try await connectedCall(group.caller, callee, answer: answer)
                calls.append((call, answered, CallDataCounter(call)))
            }
        }
        defer {
            for call in calls {
                call.caller.hangUp()
                call.counter.stop()
            }
            calleeCounters.value.values.forEach { $0.stop() }
        }
        try await Task.sleep(for: settle)
        let connected = Sample.now()

        let message = [UInt8](repeating: 0x5A, count: trafficMessageBytes)
        for call in calls {
            for _ in 0..<trafficMessages {
                try call.caller.send(message: message)
                try call.callee.send(message: message)
            }
        }
        let expected = UInt64(trafficMessages * trafficMessageBytes)
        func complete() -> Int {
            let counters = calleeCounters.value
            return calls.filter { call in
                call.counter.messageBytes.load(ordering: .relaxed) >= expected
                    && (counters[call.caller.id]?.messageBytes.load(ordering: .relaxed) ?? 0) >= expected
            }.count
        }
        // A call whose channel stops sending (a library fault) is counted, not waited for.
        try? await waitUntil("every call carried its messages both ways", within: trafficTimeout) { complete() == calls.count }
        let stalledCalls = calls.count - complete()
        try await Task.sleep(for: settle)
        let afterTraffic = Sample.now()

        for call in calls { call.caller.hangUp() }
        try await waitUntil("every callee saw its call end", within: CallBenchNetwork.connectTimeout) {
            calls.allSatisfy { $0.callee.end != nil }
        }
        try await Task.sleep(for: settle)
        let hungUp = Sample.now()
        return Result(callers: callers, callsPerCaller: callsPerCaller, trafficBytesPerCall: 2 * Int(expected), start: start,
                      online: online, connected: connected, afterTraffic: afterTraffic, hungUp: hungUp,
                      stalledCalls: stalledCalls)
    }
}
