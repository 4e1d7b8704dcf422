/// Latencies in nanoseconds in log-linear buckets: exact below 256 ns, then 128 buckets
/// per power of two, so a quantile is within 1/128 (0.8%) of the recorded value. Fixed
/// memory (7424 counters) whatever the count. Zero value: `LatencyHistogram()`; not
/// thread-safe.
struct LatencyHistogram: Sendable {
    private static let exactLimit: UInt64 = 256
    private static let subBuckets = 128
    private static let bucketCount = Int(exactLimit) + 56 * subBuckets

    private var counts = [UInt64](repeating: 0, count: LatencyHistogram.bucketCount)
    private(set) var total: UInt64 = 0
    private(set) var maximum: UInt64 = 0

    mutating func record(_ nanoseconds: UInt64) {
        counts[LatencyHistogram.bucket(of: nanoseconds)] += 1
        total += 1
        maximum = max(maximum, nanoseconds)
    }

    mutating func merge(_ other: LatencyHistogram) {
        for index in counts.indices { counts[index] += other.counts[index] }
        total += other.total
        maximum = max(maximum, other.maximum)
    }

    /// The latency at or below which a fraction `q` (0 < q <= 1) of the recordings fall,
    /// as the upper bound of its bucket (never above the maximum); nil when empty.
    func quantile(_ q: Double) -> UInt64? {
        guard total > 0 else { return nil }
        let rank = max(1, UInt64((q * Double(total)).rounded(.up)))
        var seen: UInt64 = 0
        for (index, count) in counts.enumerated() where count > 0 {
            seen += count
            if seen >= rank { return min(LatencyHistogram.upperBound(of: index), maximum) }
        }
        return maximum
    }

    private static func bucket(of value: UInt64) -> Int {
        guard value >= exactLimit else { return Int(value) }
        let shift = (64 - value.leadingZeroBitCount) - 8
        let top = Int(value >> UInt64(shift))  // 128...255
        return Int(exactLimit) + (shift - 1) * subBuckets + (top - subBuckets)
    }

    private static func upperBound(of index: Int) -> UInt64 {
        guard index >= Int(exactLimit) else { return UInt64(index) }
        let shift = (index - Int(exactLimit)) / subBuckets + 1
        let top = UInt64((index - Int(exactLimit)) % subBuckets + subBuckets)
        return ((top + 1) << UInt64(shift)) - 1
    }
}
