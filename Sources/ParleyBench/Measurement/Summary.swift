/// Minimum, median and maximum of a set of per-run figures.
struct Summary: Codable, Sendable {
    let min: Double
    let median: Double
    let max: Double

    /// `values` must not be empty (a plan has at least one run).
    init(_ values: [Double]) {
        precondition(!values.isEmpty, "a summary needs at least one run")
        let sorted = values.sorted()
        let middle = sorted.count / 2
        min = sorted[0]
        max = sorted[sorted.count - 1]
        median = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}
