#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Logging
import SignallingServer

/// `--config` and `--state-dir`, shared by every subcommand, and the resolution of
/// settings: built-in defaults, then the config file, then flags.
struct StateOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Config file of 'key = value' lines (see parley-signal.conf.example).", valueName: "file"))
    var config: String?

    @Option(name: .customLong("state-dir"),
            help: ArgumentHelp("State directory (certificate, allowlist, enrollment codes, pid file).", valueName: "dir"))
    var stateDirectory: String?

    /// The options and log level after the config file and `flags` (key, value or nil when
    /// the flag is absent, flag name). A bad file is a configuration error (78); a bad flag
    /// value a usage error (64).
    func resolve(flags: [(ConfigFile.Key, String?, String)] = []) throws -> (options: ServerOptions, logLevel: Logger.Level) {
        var file = ConfigFile()
        if let config { file = try ConfigFile.load(path: config) }
        let given = ([(.stateDirectory, stateDirectory, "--state-dir")] + flags).compactMap { key, value, flag in
            value.map { (key: key, value: $0, flag: flag) }
        }
        do {
            file = try file.overriding(with: given)
        } catch let error as ConfigFileError {
            throw ValidationError(error.description)
        }
        var options = ServerOptions()
        try file.apply(to: &options)
        return (options, file.logLevel ?? .info)
    }

    /// The state directory the settings name.
    func openStateDirectory() throws -> (StateDirectory, ServerOptions) {
        let options = try resolve().options
        return (StateDirectory(path: options.stateDirectory), options)
    }
}

/// Telling a running server to re-read the state directory (SIGHUP).
enum RunningServer {
    /// Sends SIGHUP to the server the pid file names, if it is a live `parley-signal`, and
    /// says what happened (a note for stderr).
    static func reload(_ store: StateDirectory) -> String {
        switch store.serverProcess() {
        case .notRunning:
            return "no running server; takes effect at next start"
        case let .stale(pid, name):
            return "the pid file names pid \(pid), which is '\(name)', not parley-signal (a stale pid file); "
                + "not signalling it; takes effect at next start"
        case let .running(pid):
            guard kill(pid, SIGHUP) == 0 else {
                return "could not signal the running server pid \(pid) (\(String(cString: strerror(errno)))); run: kill -HUP \(pid)"
            }
            return "reloaded running server pid \(pid)"
        }
    }
}
