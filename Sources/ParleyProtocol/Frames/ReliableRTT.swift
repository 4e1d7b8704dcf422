/// RTT estimation as in RFC 9002 section 5, in nanoseconds.
struct ReliableRTTEstimator {
    private(set) var latest: UInt64 = 0
    private(set) var smoothed: UInt64?
    private(set) var variance: UInt64 = 0
    /// Least sample ever seen (RFC 9002 min_rtt, never expires; BBR keeps its own windowed one).
    private(set) var minimum: UInt64 = .max

    private static let granularity = ReliableConstants.timerGranularity.reliableNanoseconds
    private static let maxAckDelay = ReliableConstants.maxAckDelay.reliableNanoseconds

    /// Takes one sample: the time from sending the largest newly acknowledged packet to its
    /// ack, and the delay the receiver reported holding the ack (capped at `maxAckDelay`).
    mutating func update(sample: UInt64, ackDelay: UInt64) {
        latest = sample
        minimum = min(minimum, sample)
        let delay = min(ackDelay, ReliableRTTEstimator.maxAckDelay)
        let adjusted = sample >= minimum + delay ? sample - delay : sample
        guard let current = smoothed else {
            smoothed = sample
            variance = sample / 2
            return
        }
        let difference = current > adjusted ? current - adjusted : adjusted - current
        variance = (3 * variance + difference) / 4
        smoothed = (7 * current + adjusted) / 8
    }

    /// RTT used before the first sample is taken.
    var smoothedOrInitial: UInt64 { smoothed ?? ReliableConstants.initialRTT.reliableNanoseconds }

    /// How long after a later packet was acknowledged an earlier unacknowledged one counts as lost.
    var lossDelay: UInt64 {
        let base = max(smoothedOrInitial, latest)
        return max(base * ReliableConstants.timeThresholdNumerator / ReliableConstants.timeThresholdDenominator,
                   ReliableRTTEstimator.granularity)
    }

    /// The probe timeout after `backoff` consecutive expiries.
    func probeTimeout(backoff: Int) -> UInt64 {
        let base: UInt64
        if let smoothed {
            base = smoothed + max(4 * variance, ReliableRTTEstimator.granularity) + ReliableRTTEstimator.maxAckDelay
        } else {
            base = 2 * ReliableConstants.initialRTT.reliableNanoseconds
        }
        let floor = max(base, ReliableConstants.minProbeTimeout.reliableNanoseconds)
        let ceiling = ReliableConstants.maxProbeTimeout.reliableNanoseconds
        return min(floor << UInt64(min(backoff, 16)), ceiling)
    }
}

extension Duration {
    /// Whole nanoseconds, clamped to 0...UInt64.max (for durations of the reliable channel).
    var reliableNanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return .max }
        return whole &+ UInt64(max(0, attoseconds) / 1_000_000_000)
    }
}
