import Glibc
import Parley
import ParleyProtocol
import Synchronization

/// Call setup on loopback: from `client.call(...)` to the callee's `received()` yielding
/// the first message, which the caller sends as soon as `connected()` returns. Calls run
/// one after another between one pair of clients; each is hung up, and the callee's end
/// seen, before the next. The caller's `events()` stream, read by a task that stamps each
/// event on arrival, splits the time into phases.
enum CallSetupBench {
    /// One call's timeline, in nanoseconds after the invite.
    struct Timeline {
        var ringing: UInt64?
        var secured: UInt64?
        var connecting: UInt64?
        var connected: UInt64
        var delivered: UInt64
    }

    struct Result {
        let checkPacing: Duration
        let timelines: [Timeline]

        /// Milliseconds of each phase over the calls that saw both of its ends.
        func phase(_ from: (Timeline) -> UInt64?, _ to: (Timeline) -> UInt64?) -> SampleQuantiles {
            SampleQuantiles(timelines.compactMap { timeline in
                guard let start = from(timeline), let end = to(timeline), end >= start else { return nil }
                return Double(end - start) / 1e6
            })
        }
    }

    static let warmUpCalls = 3
    static let firstMessage = Array("first message".utf8)
    /// How long the first message and the callee's end of a hung-up call may take.
    static let deliveryTimeout: Duration = .seconds(5)

    static func measure(network: CallBenchNetwork, checkPacing: Duration, calls: Int) async throws -> Result {
        let caller = try await network.client(checkPacing: checkPacing)
        let callee = try await network.client(checkPacing: checkPacing)
        defer {
            network.stop(caller)
            network.stop(callee)
        }
        let deliveries = Locked<[CallID: UInt64]>([:])
        let answer = AutoAnswer(callee) { call in
            let stream = call.received()
            Task {
                for await data in stream {
                    if case .message = data {
                        let now = Monotonic.now()
                        deliveries.withLock { $0[call.id] = now }
                        return
                    }
                }
            }
        }
        var timelines: [Timeline] = []
        for index in 0..<(warmUpCalls + calls) {
            let timeline = try await oneCall(caller, callee, answer: answer, deliveries: deliveries)
            if index >= warmUpCalls { timelines.append(timeline) }
        }
        return Result(checkPacing: checkPacing, timelines: timelines)
    }

    private static func oneCall(_ caller: ParleyClient, _ callee: ParleyClient, answer: AutoAnswer,
                                deliveries: Locked<[CallID: UInt64]>) async throws -> Timeline {
        let stamps = Locked<[String: UInt64]>([:])
        let start = Monotonic.now()
        let call = try caller.call(callee.deviceID)
        let events = call.events()
        let watcher = Task {
            for await event in events {
                let now = Monotonic.now()
                let name: String?
                switch event {
                case .stateChanged(.ringing): name = "ringing"
                case .secured: name = "secured"
                case .stateChanged(.connecting): name = "connecting"
                default: name = nil
                }
                if let name { stamps.withLock { $0[name] = $0[name] ?? now } }
            }
        }
        defer { watcher.cancel() }
        try await connected(call, within: CallBenchNetwork.connectTimeout)
        let connectedAt = Monotonic.now()
        try call.send(message: firstMessage)
        var deliveredAt: UInt64?
        try await waitUntil("the first message of call \(call.id) arrived", within: deliveryTimeout) {
            deliveredAt = deliveries.withLock { $0.removeValue(forKey: call.id) }
            return deliveredAt != nil
        }
        call.hangUp()
        try await waitUntil("the callee saw call \(call.id) end", within: deliveryTimeout) {
            answer.call(call.id)?.end != nil
        }
        answer.forget(call.id)
        let seen = stamps.value
        func offset(_ name: String) -> UInt64? { seen[name].map { $0 >= start ? $0 - start : 0 } }
        // waitUntil returned, so deliveredAt is set.
        return Timeline(ringing: offset("ringing"), secured: offset("secured"), connecting: offset("connecting"),
                        connected: connectedAt - start, delivered: deliveredAt! - start)
    }
}
