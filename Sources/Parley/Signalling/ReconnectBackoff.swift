/// Exponential backoff with full jitter (as in "Exponential Backoff And Jitter", AWS
/// Architecture Blog, 2015): the delay before attempt n (from 1) is uniform in
/// `0 ... min(maxDelay, baseDelay × 2^(n-1))`. Full jitter spreads a crowd of devices
/// that lost the same server over the whole window instead of having them return in waves.
///
/// A value type without state: the caller counts attempts and supplies the random source,
/// so tests draw from a seeded generator and assert exact delays.
public struct ReconnectBackoff: Equatable, Sendable {
    public var baseDelay: Duration
    public var maxDelay: Duration

    public init(baseDelay: Duration = .milliseconds(500), maxDelay: Duration = .seconds(30)) {
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// The largest delay attempt `attempt` (1-based) can draw; saturates at `maxDelay`.
    public func ceiling(forAttempt attempt: Int) -> Duration {
        let base = baseDelay.clampedNanoseconds
        let cap = maxDelay.clampedNanoseconds
        let doublings = max(0, attempt - 1)
        guard base > 0 else { return .zero }
        guard doublings < 64 else { return .nanoseconds(Int64(clamping: cap)) }
        let (scaled, overflow) = base.multipliedReportingOverflow(by: 1 << UInt64(doublings))
        return .nanoseconds(Int64(clamping: overflow ? cap : min(scaled, cap)))
    }

    /// A delay for attempt `attempt`, uniform in `0...ceiling(forAttempt:)` at nanosecond resolution.
    public func delay<Random: RandomNumberGenerator>(forAttempt attempt: Int, using random: inout Random) -> Duration {
        let ceiling = ceiling(forAttempt: attempt).clampedNanoseconds
        return .nanoseconds(Int64(clamping: UInt64.random(in: 0...ceiling, using: &random)))
    }

    func validate() throws(SignallingClientError) {
        guard baseDelay >= .zero, maxDelay >= baseDelay else {
            throw SignallingClientError(.invalidConfiguration, "backoff needs 0 <= baseDelay <= maxDelay")
        }
    }
}

extension Duration {
    /// Whole nanoseconds, clamped to 0...UInt64.max.
    var clampedNanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return .max }
        let (sum, overflow2) = whole.addingReportingOverflow(UInt64(max(0, attoseconds) / 1_000_000_000))
        return overflow2 ? .max : sum
    }
}
