import ArgumentParser

/// `parley-bench`: performance harnesses for Parley. Each subcommand measures one
/// layer and prints, in the same run, the baseline it is judged against, so a
/// noisy machine shifts both figures alike. Timings are reported, never asserted:
/// no test depends on them.
@main
struct ParleyBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parley-bench",
        abstract: "Benchmarks of Parley's layers, each printed beside its baseline from the same run.",
        subcommands: [CryptoCommand.self, SignallingCoreCommand.self, RelayCommand.self, ConnectionsCommand.self,
                      ConnectionsWorkerCommand.self,
                      CallPeerCommand.self,
                      CallCommand.self,
                      LinkCommand.self]
    )
}
