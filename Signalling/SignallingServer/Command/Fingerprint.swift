import ArgumentParser
import Foundation
import SignallingServer

/// `parley-signal fingerprint`: the pin devices must be given, without starting the server.
struct Fingerprint: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the certificate pin (SHA-256 of the certificate, hex) devices must be given.",
        discussion: "The certificate is --certificate, else the config file's, else the state directory's."
    )

    @OptionGroup var state: StateOptions

    @Option(help: ArgumentHelp("A certificate PEM file to pin instead.", valueName: "file"))
    var certificate: String?

    func run() throws {
        let (store, options) = try state.openStateDirectory()
        guard let path = certificate ?? options.certificatePath else {
            guard FileManager.default.fileExists(atPath: store.certificatePath) else {
                throw CommandFailure(.failure, "no certificate in \(store.path) yet: `parley-signal serve` creates one on first start")
            }
            return print(try StateDirectory.certificatePin(path: store.certificatePath))
        }
        print(try StateDirectory.certificatePin(path: path))
    }
}
