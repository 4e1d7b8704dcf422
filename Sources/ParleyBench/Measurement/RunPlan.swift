/// How much each workload runs: `runs` measured runs after one discarded warm-up
/// run, each lasting either a measured time or a number of operations.
struct RunPlan: Sendable {
    enum Budget: Sendable {
        /// Keep running batches until this much time has been measured.
        case seconds(Double)
        /// Exactly this many operations per run.
        case iterations(Int)
    }

    var runs: Int
    var budget: Budget

    static let standard = RunPlan(runs: 7, budget: .seconds(0.2))
    /// A smoke test: every code path once, figures too short to quote.
    static let quick = RunPlan(runs: 3, budget: .seconds(0.01))
}
