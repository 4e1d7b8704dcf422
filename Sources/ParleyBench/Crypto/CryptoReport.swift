/// Everything `parley-bench crypto` measured, as printed in the table and encoded
/// for `--json`. Times are nanoseconds per operation; throughputs are at the median.
struct CryptoReport: Codable, JSONReport {
    struct Plan: Codable {
        let runs: Int
        let secondsPerRun: Double?
        let iterationsPerRun: Int?
        let warmUpRuns: Int
    }

    struct Environment: Codable {
        let date: String
        let processors: Int
        let cpuModel: String?
        let libsodium: String
        /// False for a debug build, whose figures say nothing about release performance.
        let optimizedBuild: Bool
    }

    struct Row: Codable {
        let name: String
        let displayUnit: DisplayUnit
        let nanosecondsPerRun: [Double]
        let nanoseconds: Summary
        let operationsPerSecond: Double
        /// Payload bytes (10^6 B) per second, for workloads with a payload.
        let megabytesPerSecond: Double?
    }

    /// Wrapper time divided by baseline time. Their batches alternate, so batch i of
    /// the wrapper and batch i of the baseline ran back to back under the same load.
    struct Ratio: Codable {
        let name: String
        let wrapper: String
        let baseline: String
        /// Per run: the median over the run's batch pairs of wrapper batch / baseline
        /// batch. A batch that another process preempted is an outlier the median drops.
        let perRun: [Double]
        /// min/median/max of `perRun`; the median is the figure judged against the goal.
        let ratio: Summary
        /// Per run: wrapper run time / baseline run time (every batch counted).
        let perRunOfTotals: [Double]
        let goal: Double
        /// The median ratio is at or below the goal.
        let withinGoal: Bool
    }

    /// Frame sealing and opening may cost at most this much more than raw libsodium.
    static let ratioGoal = 1.10

    var benchmark = "crypto"
    let plan: Plan
    let environment: Environment
    private(set) var rows: [Row] = []
    private(set) var ratios: [Ratio] = []

    init(plan: RunPlan, environment: Environment) {
        switch plan.budget {
        case let .seconds(seconds): self.plan = Plan(runs: plan.runs, secondsPerRun: seconds, iterationsPerRun: nil, warmUpRuns: Sampler.warmUpRuns)
        case let .iterations(count): self.plan = Plan(runs: plan.runs, secondsPerRun: nil, iterationsPerRun: count, warmUpRuns: Sampler.warmUpRuns)
        }
        self.environment = environment
    }

    mutating func add(_ workloads: [any Workload], samples: [Sampler.Samples]) {
        for (workload, sample) in zip(workloads, samples) {
            let summary = Summary(sample.perRun)
            rows.append(Row(name: workload.name, displayUnit: workload.displayUnit, nanosecondsPerRun: sample.perRun, nanoseconds: summary,
                            operationsPerSecond: 1e9 / summary.median,
                            megabytesPerSecond: workload.payloadBytes.map { Double($0) * 1e3 / summary.median }))
        }
    }

    /// Records wrapper/baseline for `workloads[0]` over `workloads[1]`, run by run.
    mutating func addRatio(_ name: String, _ workloads: [any Workload], samples: [Sampler.Samples]) {
        let (wrapper, baseline) = (samples[0], samples[1])
        let perRun = zip(wrapper.batchesPerRun, baseline.batchesPerRun).map { wrapperBatches, baselineBatches in
            Summary(zip(wrapperBatches, baselineBatches).map { $0 / $1 }).median
        }
        let summary = Summary(perRun)
        ratios.append(Ratio(name: name, wrapper: workloads[0].name, baseline: workloads[1].name, perRun: perRun, ratio: summary,
                            perRunOfTotals: zip(wrapper.perRun, baseline.perRun).map { $0 / $1 },
                            goal: CryptoReport.ratioGoal, withinGoal: summary.median <= CryptoReport.ratioGoal))
    }
}
