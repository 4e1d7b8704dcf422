/// One operation being timed, such as "seal a 1200-byte frame".
///
/// `measure(_:)` performs `count` operations (never more than `batchSize`) and
/// returns only the time spent in its timed part, so a workload can prepare its
/// inputs outside the clock: an opener is handed freshly sealed packets, because
/// it rightly rejects replays.
protocol Workload: AnyObject {
    /// Row label in the report.
    var name: String { get }
    /// Largest `count` that `measure` accepts; its inputs for one batch stay in cache.
    var batchSize: Int { get }
    /// Payload bytes per operation, for throughput in MB/s; nil when throughput means nothing.
    var payloadBytes: Int? { get }
    /// How the report shows one operation's time.
    var displayUnit: DisplayUnit { get }

    func measure(_ count: Int) throws -> Duration
}

/// The unit a row of the table is printed in (JSON always carries nanoseconds).
enum DisplayUnit: String, Codable, Sendable {
    case nanoseconds = "ns"
    case microseconds = "µs"

    var nanosecondsPerUnit: Double { self == .nanoseconds ? 1 : 1_000 }
}

/// A workload saw a result that a correct run cannot produce; the figures would be meaningless.
struct BenchmarkError: Error, CustomStringConvertible {
    let workload: String
    let problem: String

    var description: String { "\(workload): \(problem)" }
}

extension Duration {
    /// The duration in nanoseconds, as a floating-point figure for statistics.
    var inNanoseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1e9 + Double(attoseconds) / 1e9
    }
}
