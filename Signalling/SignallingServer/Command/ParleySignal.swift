import ArgumentParser
import Foundation
import SignallingServer

/// `parley-signal`: the signalling server and the commands that administer its state
/// directory (Signalling/SignallingServer/README.md).
///
/// Exit status (sysexits.h): 0 success; 1 runtime failure (I/O, a port in use, the
/// server stopped with an error); 64 usage (unknown flag, bad argument such as a
/// mistyped device ID); 78 configuration (a bad config file line, inconsistent
/// settings, an insecure or mismatched key, a malformed state file). Every failure is
/// one line on stderr, `parley-signal: error: ...`.
@main
struct ParleySignal: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parley-signal",
        abstract: "Parley's signalling server, and the commands that manage its devices and certificate.",
        discussion: """
            Without a subcommand, runs `serve`. Settings come from the built-in defaults, then \
            the config file (--config), then flags.

            Exit status: 0 success, 1 runtime failure, 64 usage error, 78 configuration error.
            """,
        subcommands: [Serve.self, DeviceCommand.self, Enroll.self, Fingerprint.self],
        defaultSubcommand: Serve.self
    )

    /// Parses, runs, and turns every error into one stderr line and a documented status.
    static func main() {
        var command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            if exitCode(for: error) == .success { exit(withError: error) }  // --help, --version
            Console.fail("\(message(for: error)) (see 'parley-signal help')", status: .usage)
        }
        do {
            try command.run()
        } catch {
            if exitCode(for: error) == .success { exit(withError: error) }  // help requested by the root command
            Console.fail(describe(error), status: status(for: error))
        }
    }

    static func describe(_ error: Error) -> String {
        if error is ValidationError { return message(for: error) }
        return "\(error)"
    }

    static func status(for error: Error) -> ExitStatus {
        switch error {
        case let failure as CommandFailure: return failure.status
        case is ValidationError: return .usage
        case is ConfigFileError: return .configuration
        case let error as StateDirectoryError:
            switch error.code {
            case .malformed, .tooLarge, .insecurePermissions, .keyDoesNotMatchCertificate, .incompleteCertificatePair:
                return .configuration
            case .invalidDisplayName, .invalidArgument:
                return .usage
            case .unreadable, .unwritable, .certificateGenerationFailed, .full:
                return .failure
            }
        default: return .failure
        }
    }
}

/// The documented exit statuses (sysexits.h values for usage and configuration).
enum ExitStatus: Int32 {
    case success = 0
    case failure = 1
    case usage = 64
    case configuration = 78
}

/// A failure found by a command itself, with its exit status.
struct CommandFailure: Error, CustomStringConvertible {
    let status: ExitStatus
    let description: String
    init(_ status: ExitStatus, _ description: String) {
        self.status = status
        self.description = description
    }
}

/// Standard output carries a command's result (a code, a pin, a device list); standard
/// error carries notes and errors, so scripts can capture the result alone.
enum Console {
    static func note(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    static func fail(_ line: String, status: ExitStatus) -> Never {
        note("parley-signal: error: \(line)")
        exit(status.rawValue)
    }
}
