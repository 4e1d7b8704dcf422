/// Runs workloads under a `RunPlan`. Workloads that are compared with each other
/// run interleaved batch by batch (A B A B ..., each batch tens of microseconds for
/// frames), so a burst of noise from other processes lands on both rather than on
/// whichever ran second.
struct Sampler {
    /// Discarded runs before the measured ones: caches, branch predictors, lazily mapped pages.
    static let warmUpRuns = 1

    /// One workload's figures over all measured runs.
    struct Samples {
        /// Nanoseconds per operation of each run: all measured time over all operations.
        var perRun: [Double] = []
        /// Nanoseconds per operation of each batch, run by run, in the order measured.
        var batchesPerRun: [[Double]] = []
    }

    let plan: RunPlan

    /// The samples of each workload, in the order given.
    func measureInterleaved(_ workloads: [any Workload]) throws -> [Samples] {
        for _ in 0..<Sampler.warmUpRuns { _ = try run(workloads) }
        var samples = [Samples](repeating: Samples(), count: workloads.count)
        for _ in 0..<plan.runs {
            for (index, batches) in try run(workloads).enumerated() {
                let total = batches.reduce(0) { $0 + $1.nanoseconds }
                let operations = batches.reduce(0) { $0 + $1.operations }
                samples[index].perRun.append(total / Double(operations))
                samples[index].batchesPerRun.append(batches.map { $0.nanoseconds / Double($0.operations) })
            }
        }
        return samples
    }

    private struct Batch {
        let operations: Int
        let nanoseconds: Double
    }

    /// One run of every workload, batches alternating: each workload's batches.
    private func run(_ workloads: [any Workload]) throws -> [[Batch]] {
        var batches = [[Batch]](repeating: [], count: workloads.count)
        var operations = [Int](repeating: 0, count: workloads.count)
        var measured = [Duration](repeating: .zero, count: workloads.count)
        var unfinished = true
        while unfinished {
            unfinished = false
            for (index, workload) in workloads.enumerated() {
                let count: Int
                switch plan.budget {
                case let .iterations(total): count = min(workload.batchSize, total - operations[index])
                case let .seconds(seconds): count = measured[index] < .seconds(seconds) ? workload.batchSize : 0
                }
                guard count > 0 else { continue }
                let elapsed = try workload.measure(count)
                measured[index] += elapsed
                operations[index] += count
                batches[index].append(Batch(operations: count, nanoseconds: elapsed.inNanoseconds))
                unfinished = true
            }
        }
        return batches
    }
}
