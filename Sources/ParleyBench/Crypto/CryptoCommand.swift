import ArgumentParser
import CSodium

/// `parley-bench crypto`: the call handshake, frame sealing and opening against raw
/// libsodium in the same run, and sealed blobs.
struct CryptoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crypto",
        abstract: "Time the call handshake, frames (against raw libsodium, interleaved) and sealed blobs.",
        discussion: """
            Build in release: swift run -c release parley-bench crypto. Every benchmark gets one \
            warm-up run, then --runs measured runs; the table shows min/median/max over runs. \
            Frame seal/open are compared run by run with libsodium's ChaCha20-Poly1305 on the same \
            1200-byte payload; the goal is a ratio of at most 1.10.
            """
    )

    @Flag(help: "Short runs (3 runs of 10 ms) as a smoke test; the figures are not worth quoting.")
    var quick = false

    @Option(help: "Measured seconds per run of each benchmark (default 0.2).")
    var seconds: Double?

    @Option(help: "Operations per run of each benchmark, instead of --seconds.")
    var iterations: Int?

    @Option(help: "Measured runs per benchmark (default 7).")
    var runs: Int?

    @Option(help: "Measure only this group (for profiling one part).")
    var only: Group?

    @Flag(help: "Print the results as JSON instead of a table.")
    var json = false

    /// Benchmarks that run interleaved with each other and are selected together.
    enum Group: String, CaseIterable, ExpressibleByArgument {
        case handshake, frames, blobs
    }

    func validate() throws {
        if let seconds, !(seconds > 0) { throw ValidationError("--seconds must be greater than 0") }
        if let iterations, iterations < 1 { throw ValidationError("--iterations must be at least 1") }
        if let runs, runs < 1 { throw ValidationError("--runs must be at least 1") }
        if seconds != nil, iterations != nil { throw ValidationError("give --seconds or --iterations, not both") }
    }

    /// The plan the flags ask for: --quick or the standard plan, overridden by explicit knobs.
    var plan: RunPlan {
        var plan = quick ? RunPlan.quick : RunPlan.standard
        if let runs { plan.runs = runs }
        if let seconds { plan.budget = .seconds(seconds) }
        if let iterations { plan.budget = .iterations(iterations) }
        return plan
    }

    func run() throws {
        guard sodium_init() >= 0 else { throw BenchmarkError(workload: "setup", problem: "sodium_init failed") }
        let sampler = Sampler(plan: plan)
        var report = CryptoReport(plan: plan, environment: .current(libsodium: String(cString: sodium_version_string())))
        let fixture = CallFixture()
        let groups = only.map { [$0] } ?? Group.allCases
        if groups.contains(.handshake) { try measureHandshakes(fixture, sampler, into: &report) }
        if groups.contains(.frames) { try measureFrames(fixture, sampler, into: &report) }
        if groups.contains(.blobs) { try measureBlobs(fixture, sampler, into: &report) }
        print(json ? try report.json() : report.table)
    }

    /// Full handshake, both sides, without and with a security code.
    private func measureHandshakes(_ fixture: CallFixture, _ sampler: Sampler, into report: inout CryptoReport) throws {
        let handshakes: [any Workload] = [
            try HandshakeWorkload(fixture: fixture, securityCode: nil),
            try HandshakeWorkload(fixture: fixture, securityCode: "123456"),
        ]
        report.add(handshakes, samples: try sampler.measureInterleaved(handshakes))
    }

    /// Frame seal and open, each interleaved with raw libsodium on the same payload.
    private func measureFrames(_ fixture: CallFixture, _ sampler: Sampler, into report: inout CryptoReport) throws {
        let payload = FrameBench.makePayload()
        let seal: [any Workload] = [FrameSealWorkload(keys: try fixture.establish().caller, payload: payload),
                                    try RawSealWorkload(payload: payload)]
        let sealSamples = try sampler.measureInterleaved(seal)
        report.add(seal, samples: sealSamples)

        let open: [any Workload] = [FrameOpenWorkload(call: try fixture.establish(), payload: payload),
                                    try RawOpenWorkload(payload: payload)]
        let openSamples = try sampler.measureInterleaved(open)
        report.add(open, samples: openSamples)
        report.addRatio("frame seal", seal, samples: sealSamples)
        report.addRatio("frame open", open, samples: openSamples)
    }

    /// Sealed blobs of 1 KiB, as SDP travels through the signalling server.
    private func measureBlobs(_ fixture: CallFixture, _ sampler: Sampler, into report: inout CryptoReport) throws {
        let blobs: [any Workload] = [BlobWorkload(.seal, call: try fixture.establish()),
                                     BlobWorkload(.open, call: try fixture.establish()),
                                     BlobWorkload(.sealAndOpen, call: try fixture.establish())]
        report.add(blobs, samples: try sampler.measureInterleaved(blobs))
    }
}
