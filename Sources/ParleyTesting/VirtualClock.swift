import ParleyCrypto

/// A clock that moves only when a test or simulation moves it. Sans-IO cores take
/// `now:` as a parameter; a simulation reads it from here, so runs are repeatable.
/// Not thread-safe: one simulation drives it from one thread.
public final class VirtualClock {
    public private(set) var now: Timestamp

    public init(start: Timestamp = Timestamp(nanoseconds: 1_000_000_000)) { now = start }

    /// Moves the clock forward by `duration` (never backward).
    public func advance(by duration: Duration) { now = now + duration }

    /// Moves the clock to `time` when that is later than now; earlier times are ignored.
    public func advance(to time: Timestamp) { if time > now { now = time } }
}
