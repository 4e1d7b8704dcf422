import Foundation
import Glibc

/// `parley-signal serve` run as a child process for a benchmark: a fresh state directory
/// under /tmp (the server makes its certificate there on start), a free port on
/// 127.0.0.1, metrics off, open enrollment, log level warning, and a config file with the
/// benchmark's settings. Its output goes to a log file in that directory. `stop()` ends it
/// (SIGTERM, then SIGKILL) and removes the directory; deinit does too.
final class SignalServerProcess {
    let executable: String
    let port: Int
    /// The certificate pin the server printed (64 hex digits).
    let pin: String
    private let process: ChildProcess
    private let directory: String
    private var stopped = false

    var pid: pid_t { process.pid }

    /// Throws if the server has exited: figures read from /proc after that are meaningless.
    func checkRunning() throws {
        guard process.isRunning else {
            throw BenchmarkError(workload: "parley-signal", problem: "pid \(pid) exited (\(process.exitDescription)); "
                                 + "its log: \(logLines.prefix(3).joined(separator: " | "))")
        }
    }

    /// The file the server was started with, in its state directory.
    static let configFileName = "bench.conf"
    static let logFileName = "server.log"
    /// Drain time after SIGTERM (config `drain_timeout`), and how much longer `stop` waits.
    static let drainTimeout = "1s"
    static let stopGrace: Duration = .seconds(5)
    static let startTimeout: Duration = .seconds(20)

    /// `parley-signal` in the directory of the running executable (the same build), or `path`.
    static func locate(_ path: String?) throws -> String {
        let candidate: String
        if let path {
            candidate = path
        } else {
            let own = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
            candidate = (own as NSString).deletingLastPathComponent + "/parley-signal"
        }
        guard access(candidate, X_OK) == 0 else {
            throw BenchmarkError(workload: "parley-signal", problem: "no executable at \(candidate); build it in the same "
                                 + "configuration (swift build -c release --product parley-signal) or pass --server PATH")
        }
        return candidate
    }

    /// Starts the server with `settings` (config file keys and values) and waits until it
    /// listens: its pin is printed and its pid file written.
    init(executable: String, settings: [(key: String, value: String)]) throws {
        self.executable = executable
        var template = Array("/tmp/parley-bench-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw BenchmarkError(workload: "parley-signal", problem: "cannot create a state directory in /tmp: \(String(cString: strerror(errno)))")
        }
        directory = String(cString: made)
        var started: ChildProcess?
        do {
            port = try SignalServerProcess.freePort()
            let config = ([("drain_timeout", SignalServerProcess.drainTimeout)] + settings)
                .map { "\($0.0) = \($0.1)\n" }.joined()
            try config.write(toFile: directory + "/" + SignalServerProcess.configFileName, atomically: true, encoding: .utf8)
            let log = directory + "/" + SignalServerProcess.logFileName
            let process = try ChildProcess(
                executable: executable,
                arguments: ["serve", "--config", directory + "/" + SignalServerProcess.configFileName, "--state-dir", directory + "/state",
                            "--port", "\(port)", "--metrics", "off", "--enrollment", "open", "--log-level", "warning"],
                standardOutput: .file(directory + "/server.out"), standardError: .file(log))
            started = process
            pin = try SignalServerProcess.waitUntilListening(process, log: log, pidFile: directory + "/state/parley-signal.pid")
            self.process = process
        } catch {
            started?.stop(grace: SignalServerProcess.stopGrace)
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
    }

    deinit { stop() }

    /// Lines the server logged (warnings and worse; the pin note excluded), as of now.
    var logLines: [String] {
        let text = (try? String(contentsOfFile: directory + "/" + SignalServerProcess.logFileName, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("certificate pin") }
    }

    /// Stops the server (SIGTERM, a drain of `drainTimeout`, SIGKILL after `stopGrace`) and
    /// removes its directory. Returns its log lines. Idempotent.
    @discardableResult
    func stop() -> [String] {
        guard !stopped else { return [] }
        stopped = true
        process.stop(grace: SignalServerProcess.stopGrace)
        let lines = logLines
        try? FileManager.default.removeItem(atPath: directory)
        return lines
    }

    private static func waitUntilListening(_ process: ChildProcess, log: String, pidFile: String) throws -> String {
        let deadline = ContinuousClock.now + startTimeout
        var pin: String?
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                throw BenchmarkError(workload: "parley-signal", problem: "exited at start (\(process.exitDescription)): \(text)")
            }
            if pin == nil, let text = try? String(contentsOfFile: log, encoding: .utf8),
               let line = text.split(separator: "\n").first(where: { $0.hasPrefix("certificate pin (SHA-256): ") }) {
                pin = line.dropFirst("certificate pin (SHA-256): ".count).split(separator: " ").first.map(String.init)
            }
            if let pin, access(pidFile, F_OK) == 0 { return pin }
            usleep(10_000)
        }
        throw BenchmarkError(workload: "parley-signal", problem: "not listening after \(startTimeout) (log: \(log))")
    }

    /// A TCP port that was free on 127.0.0.1 a moment ago (bound to port 0, then closed).
    static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw BenchmarkError(workload: "parley-signal", problem: "socket: \(String(cString: strerror(errno)))") }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(socket, pointer, length) == 0 && getsockname(socket, pointer, &length) == 0
            }
        }
        guard bound else { throw BenchmarkError(workload: "parley-signal", problem: "cannot find a free port: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
