import Glibc
import Logging
import Parley
import ParleyCrypto
import ParleyProtocol
import Synchronization

/// The real `parley-signal` (a child process, so its memory and CPU are not the bench's)
/// and a factory of `ParleyClient`s that log in to it on 127.0.0.1 with host candidates
/// on 127.0.0.1 only.
final class CallBenchNetwork {
    let server: SignalServerProcess
    private let pin: [UInt8]
    private var clients: [ParleyClient] = []

    /// How long a client may take to come online, and a call to connect.
    static let onlineTimeout: Duration = .seconds(10)
    static let connectTimeout: Duration = .seconds(10)

    init(executable: String) throws {
        // The per-connection limiter (50 messages/s by default) would throttle 50 calls placed
        // back to back by one device; the bench measures calls, not the limiter's verdicts.
        server = try SignalServerProcess(executable: executable, settings: [
            ("max_connections", "256"), ("messages_per_second", "1000000"), ("message_burst", "1000000"),
            ("bytes_per_second", "1GiB"), ("byte_burst", "1GiB"),
        ])
        guard let pin = Hex.decode(server.pin) else {
            throw BenchmarkError(workload: "call setup", problem: "parley-signal printed a pin that is not hex: \(server.pin)")
        }
        self.pin = pin
    }

    /// A started client, online. `checkPacing` is ICE's Ta (libnice's default is 20 ms).
    func client(checkPacing: Duration = .milliseconds(20)) async throws -> ParleyClient {
        let signalling = SignallingClientConfiguration(url: "wss://127.0.0.1:\(server.port)/", trust: .pinned(sha256: pin),
                                                       realm: "bench", connectTimeout: .seconds(5))
        var ice = IceConfiguration()
        ice.localAddresses = ["127.0.0.1"]
        ice.checkPacing = checkPacing
        let client = try ParleyClient(configuration: ParleyConfiguration(signalling: signalling, ice: ice),
                                      identity: DeviceIdentity(), logger: CallBenchNetwork.quietLogger)
        clients.append(client)
        try client.start()
        try await waitUntil("client \(client.deviceID.fingerprint) online", within: CallBenchNetwork.onlineTimeout) {
            client.connectionState.isOnline
        }
        return client
    }

    /// Stops `client` (hanging up its calls).
    func stop(_ client: ParleyClient) {
        client.stop()
        clients.removeAll { $0 === client }
    }

    /// Stops every client, then the server; returns what the server logged at warning or worse.
    @discardableResult
    func shutdown() -> [String] {
        clients.forEach { $0.stop() }
        clients = []
        return server.stop()
    }

    /// Client logs at error level and above, on stderr.
    static var quietLogger: Logger {
        var logger = Logger(label: "parley-bench.call") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .error
        return logger
    }
}

/// The callee side of a client: accepts every incoming call with `media` and keeps it.
final class AutoAnswer: Sendable {
    private let calls = Locked<[CallID: Call]>([:])
    private let task = Locked<Task<Void, Never>?>(nil)

    /// `onCall` runs for each accepted call, on the consuming task, right after `accept`.
    init(_ client: ParleyClient, media: MediaPreferences = .default, onCall: @escaping @Sendable (Call) -> Void = { _ in }) {
        let stream = client.incomingCalls()
        let calls = calls
        task.withLock {
            $0 = Task {
                for await call in stream {
                    do {
                        try call.accept(media: media)
                    } catch {
                        continue  // it ended meanwhile; the caller sees why
                    }
                    calls.withLock { $0[call.id] = call }
                    onCall(call)
                }
            }
        }
    }

    deinit { task.withLock { $0?.cancel() } }

    /// The accepted call with this ID, if it rang here.
    func call(_ id: CallID) -> Call? { calls.withLock { $0[id] } }

    /// Forgets a call (after it ended).
    func forget(_ id: CallID) { _ = calls.withLock { $0.removeValue(forKey: id) } }
}

/// A value behind a lock, shareable between tasks and threads.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) { mutex = Mutex(value) }

    func withLock<T: Sendable>(_ body: (inout Value) -> T) -> T {
        mutex.withLock { body(&$0) }
    }

    var value: Value { mutex.withLock { $0 } }
}

/// `caller` calls `callee` (answered by `answer`); returns both ends once both are connected.
func connectedCall(_ caller: ParleyClient, _ callee: ParleyClient, answer: AutoAnswer,
                   media: MediaPreferences = .default) async throws -> (Call, Call) {
    let call = try caller.call(callee.deviceID, media: media)
    try await connected(call, within: CallBenchNetwork.connectTimeout)
    var answered: Call?
    try await waitUntil("the callee answered call \(call.id)", within: CallBenchNetwork.connectTimeout) {
        answered = answer.call(call.id)
        return answered?.state == .connected
    }
    // waitUntil returned, so the condition saw a connected call.
    return (call, answered!)
}

/// Waits until `call` is connected; hangs it up and throws when it fails or `limit` passes.
func connected(_ call: Call, within limit: Duration) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await call.connected() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw BenchmarkError(workload: "call \(call.id)", problem: "not connected within \(limit) (state \(call.state))")
        }
        defer { group.cancelAll() }
        do {
            try await group.next()
        } catch {
            call.hangUp()
            throw error
        }
    }
}

/// Polls `condition` every millisecond; throws when it is still false after `limit`.
func waitUntil(_ what: String, within limit: Duration, _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + limit
    while !condition() {
        guard ContinuousClock.now < deadline else {
            throw BenchmarkError(workload: "wait", problem: "timed out after \(limit) waiting until \(what)")
        }
        try await Task.sleep(for: .milliseconds(1))
    }
}

/// Nearest-rank quantiles of a small sample (milliseconds, microseconds, ...).
struct SampleQuantiles {
    let sorted: [Double]

    init(_ values: [Double]) { sorted = values.sorted() }

    /// The value at rank ceil(q x n); nil when empty.
    func quantile(_ q: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let rank = max(1, Int((q * Double(sorted.count)).rounded(.up)))
        return sorted[min(rank, sorted.count) - 1]
    }

    var median: Double? { quantile(0.5) }
    var maximum: Double? { sorted.last }
}

/// This process's resident memory (VmRSS), in bytes.
func ownResidentBytes() -> Int {
    (ProcFS.memory(of: getpid())?.residentKiB ?? 0) * 1024
}

/// Sleeps the task until `deadline` (CLOCK_MONOTONIC nanoseconds, as `Monotonic.now()`).
func sleep(until deadline: UInt64) async throws {
    let now = Monotonic.now()
    guard deadline > now else { return }
    try await Task.sleep(for: .nanoseconds(deadline - now))
}
