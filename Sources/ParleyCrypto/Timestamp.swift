/// A point on a monotonic clock, in nanoseconds since an origin the caller chooses.
/// The crypto and protocol cores never read a clock: callers pass `now`, so tests
/// drive them on a virtual clock and production code on `ContinuousClock`.
public struct Timestamp: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var nanoseconds: UInt64

    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    public static let zero = Timestamp(nanoseconds: 0)

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    /// Saturates at the end of time instead of trapping.
    /// The earlier of two optional deadlines (nil: none), without building a collection.
    public static func earliest(_ lhs: Timestamp?, _ rhs: Timestamp?) -> Timestamp? {
        guard let lhs else { return rhs }
        guard let rhs else { return lhs }
        return min(lhs, rhs)
    }

    public static func + (lhs: Timestamp, rhs: Duration) -> Timestamp {
        let (sum, overflow) = lhs.nanoseconds.addingReportingOverflow(rhs.nanosecondsClamped)
        return Timestamp(nanoseconds: overflow ? .max : sum)
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    public func since(_ earlier: Timestamp) -> Duration {
        guard nanoseconds > earlier.nanoseconds else { return .zero }
        return .nanoseconds(Int64(clamping: nanoseconds - earlier.nanoseconds))
    }

    public var description: String { "t+\(nanoseconds)ns" }
}

extension Duration {
    /// Whole nanoseconds, clamped to 0...UInt64.max.
    var nanosecondsClamped: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return .max }
        return whole &+ UInt64(max(0, attoseconds) / 1_000_000_000)
    }
}
