import Foundation

extension CryptoReport {
    /// The human-readable table.
    var table: String {
        var lines: [String] = []
        let planText = plan.secondsPerRun.map { "\(plan.runs) runs of \($0) s measured" }
            ?? "\(plan.runs) runs of \(plan.iterationsPerRun ?? 0) operations"
        lines.append("parley-bench \(benchmark): \(planText) per benchmark, after \(plan.warmUpRuns) warm-up run; "
                     + "compared benchmarks interleaved batch by batch")
        lines.append("\(environment.date), \(environment.processors) processors, \(environment.cpuModel ?? "unknown CPU"), "
                     + "libsodium \(environment.libsodium)")
        if !environment.optimizedBuild {
            lines.append("WARNING: debug build; these figures are meaningless. Use: swift run -c release parley-bench \(benchmark)")
        }
        lines.append("")
        lines.append(pad("benchmark", 36) + lpad("min", 11) + lpad("median", 11) + lpad("max", 11) + "  unit"
                     + lpad("ops/s", 12) + lpad("MB/s", 10))
        for row in rows {
            let scale = row.displayUnit.nanosecondsPerUnit
            lines.append(pad(row.name, 36)
                         + lpad(number(row.nanoseconds.min / scale), 11)
                         + lpad(number(row.nanoseconds.median / scale), 11)
                         + lpad(number(row.nanoseconds.max / scale), 11)
                         + "  " + pad(row.displayUnit.rawValue, 4)
                         + lpad(String(format: "%.0f", row.operationsPerSecond), 12)
                         + lpad(row.megabytesPerSecond.map { String(format: "%.1f", $0) } ?? "-", 10))
        }
        if !ratios.isEmpty {
            lines.append("")
            lines.append(pad("ParleyCrypto / raw libsodium", 36) + lpad("min", 11) + lpad("median", 11) + lpad("max", 11)
                         + "  goal")
            for ratio in ratios {
                lines.append(pad(ratio.name, 36)
                             + lpad(String(format: "%.3f", ratio.ratio.min), 11)
                             + lpad(String(format: "%.3f", ratio.ratio.median), 11)
                             + lpad(String(format: "%.3f", ratio.ratio.max), 11)
                             + "  <= \(String(format: "%.2f", ratio.goal))x " + (ratio.withinGoal ? "met" : "MISSED"))
            }
            lines.append("(per run: median over back-to-back batch pairs of wrapper time / raw time)")
        }
        return lines.joined(separator: "\n")
    }


    private func number(_ value: Double) -> String {
        String(format: value >= 100 ? "%.0f" : "%.1f", value)
    }

    private func pad(_ text: String, _ width: Int) -> String { TextColumns.left(text, width) }

    private func lpad(_ text: String, _ width: Int) -> String { TextColumns.right(text, width) }
}

extension CryptoReport.Environment {
    #if DEBUG
    static let isOptimizedBuild = false
    #else
    static let isOptimizedBuild = true
    #endif

    /// This machine, now.
    static func current(libsodium: String) -> Self {
        let cpuModel = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n")
            .first { $0.hasPrefix("model name") }
            .flatMap { $0.split(separator: ":", maxSplits: 1).last }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        return Self(date: ISO8601DateFormatter().string(from: Date()), processors: ProcessInfo.processInfo.activeProcessorCount,
                    cpuModel: cpuModel, libsodium: libsodium, optimizedBuild: isOptimizedBuild)
    }
}
