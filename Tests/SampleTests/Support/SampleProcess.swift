import Foundation
import Glibc
import Synchronization
import XCTest

/// Where the package's executables are: beside the test bundle (`swift build --build-tests`
/// builds every product), or under PARLEY_BUILD_DIR when set.
enum SampleLayout {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
            url.deleteLastPathComponent()
        }
        return FileManager.default.currentDirectoryPath
    }()

    /// The built executable `name` (parley-signal, parley-agent, parley-chat).
    static func executable(_ name: String) throws -> String {
        var candidates: [String] = []
        if let build = ProcessInfo.processInfo.environment["PARLEY_BUILD_DIR"], !build.isEmpty {
            let absolute = build.hasPrefix("/") ? build : root + "/" + build
            candidates += [absolute + "/" + name, absolute + "/debug/" + name]
        }
        if let executable = Bundle.main.executablePath ?? CommandLine.arguments.first {
            var directory = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
            while directory.pathExtension == "xctest" || directory.path.contains(".xctest/") { directory.deleteLastPathComponent() }
            candidates.append(directory.appendingPathComponent(name).path)
        }
        candidates.append(root + "/.build/debug/" + name)
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            XCTFail("\(name) is not built; run `swift build --build-tests` first (looked in: \(candidates.joined(separator: ", ")))")
            throw CocoaError(.fileNoSuchFile)
        }
        return found
    }
}

/// A temporary directory removed by `remove()`.
final class SampleScratch: @unchecked Sendable {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/parley-sample-XXXXXX").utf8CString)
        guard let created = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
        path = String(cString: created)
    }

    func file(_ name: String) -> String { path + "/" + name }

    func write(_ name: String, _ bytes: [UInt8], mode: Int = 0o600) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: file(name)))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: file(name))
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// A child process with its stdout and stderr collected line by line (each on a reader
/// thread, so a chatty child never blocks on a full pipe), stdin writable, and waits that
/// always have a limit. `stop()` (also run on deinit) ends it: stdin closed, SIGTERM, then
/// SIGKILL after two seconds.
final class ChildProcess: @unchecked Sendable {
    let name: String
    private let process = Process()
    private let input = Pipe()
    private let stdoutLines = LineStore()
    private let stderrLines = LineStore()
    private let readers = DispatchGroup()

    init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        name = URL(fileURLWithPath: executable).lastPathComponent
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment
        merged["SWIFT_BACKTRACE"] = "enable=no"
        for (key, value) in environment { merged[key] = value }
        process.environment = merged
        process.standardInput = input
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        Self.collect(output.fileHandleForReading, into: stdoutLines, group: readers)
        Self.collect(errors.fileHandleForReading, into: stderrLines, group: readers)
    }

    deinit { stop() }

    private static func collect(_ handle: FileHandle, into lines: LineStore, group: DispatchGroup) {
        group.enter()
        let thread = Thread {
            defer { group.leave() }
            var pending = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: 0x0A) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending = Data(pending[pending.index(after: newline)...])
                    lines.append(line)
                }
            }
            if !pending.isEmpty { lines.append(String(decoding: pending, as: UTF8.self)) }
        }
        thread.start()
    }

    var isRunning: Bool { process.isRunning }
    var processIdentifier: Int32 { process.processIdentifier }
    var stdout: [String] { stdoutLines.lines }
    var stderr: [String] { stderrLines.lines }

    /// Writes `text` to the child's stdin.
    func send(_ text: String) { input.fileHandleForWriting.write(Data(text.utf8)) }

    /// Closes the child's stdin.
    func closeInput() { try? input.fileHandleForWriting.close() }

    /// The first stdout line (or stderr line, with `stderr: true`) that satisfies `match`,
    /// waiting up to `limit`. Fails the test, with everything the child printed, otherwise.
    func line(within limit: Duration = .seconds(20), stderr useStderr: Bool = false,
              file: StaticString = #filePath, line testLine: UInt = #line,
              where match: (String) -> Bool) throws -> String {
        let deadline = ContinuousClock.now + limit
        while true {
            let lines = useStderr ? stderr : stdout
            if let found = lines.first(where: match) { return found }
            if !process.isRunning {
                // The readers may still hold the last lines; give them a moment.
                _ = readers.wait(timeout: .now() + 1)
                if let found = (useStderr ? stderr : stdout).first(where: match) { return found }
                XCTFail("\(name) exited (status \(process.terminationStatus)) without the expected line; \(transcript)", file: file, line: testLine)
                throw CocoaError(.executableLoad)
            }
            guard ContinuousClock.now < deadline else {
                XCTFail("\(name) printed no expected line within \(limit); \(transcript)", file: file, line: testLine)
                throw CocoaError(.executableLoad)
            }
            usleep(10_000)
        }
    }

    /// Waits up to `limit` for the child to exit and returns its status; fails and kills it otherwise.
    @discardableResult
    func waitForExit(within limit: Duration = .seconds(30), file: StaticString = #filePath, line: UInt = #line) -> Int32? {
        let deadline = ContinuousClock.now + limit
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                XCTFail("\(name) did not exit within \(limit); \(transcript)", file: file, line: line)
                stop()
                return nil
            }
            usleep(10_000)
        }
        _ = readers.wait(timeout: .now() + 2)
        return process.terminationStatus
    }

    /// Everything the child printed so far, for failure messages.
    var transcript: String {
        "stdout:\n" + stdout.joined(separator: "\n") + "\nstderr:\n" + stderr.joined(separator: "\n")
    }

    func signal(_ number: Int32) { if process.isRunning { kill(process.processIdentifier, number) } }

    func stop() {
        closeInput()
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(2)
        while process.isRunning, ContinuousClock.now < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// Lines read from one of a child's pipes.
final class LineStore: Sendable {
    private let storage = Mutex<[String]>([])
    func append(_ line: String) { storage.withLock { $0.append(line) } }
    var lines: [String] { storage.withLock { $0 } }
}

/// `parley-signal serve` on 127.0.0.1 at a port the system picks, with a state directory
/// of its own (open enrollment, metrics off). `url` and `pin` are what clients need.
final class SignalServerProcess: @unchecked Sendable {
    let process: ChildProcess
    let port: Int
    let pin: String
    var url: String { "wss://127.0.0.1:\(port)/" }

    init(stateDirectory: String, extraArguments: [String] = []) throws {
        process = try ChildProcess(try SampleLayout.executable("parley-signal"),
                                   ["serve", "--listen", "127.0.0.1", "--port", "0", "--state-dir", stateDirectory,
                                    "--metrics", "off"] + extraArguments)
        let started = try process.line(stderr: true) { $0.contains("msg=started") || $0.contains("msg=\"started\"") }
        guard let address = started.firstMatch(of: /address=127\.0\.0\.1:(\d+)/), let port = Int(address.1) else {
            XCTFail("no port in parley-signal's start line: \(started)")
            throw CocoaError(.executableLoad)
        }
        self.port = port
        let pinLine = try process.line(stderr: true) { $0.contains("certificate pin (SHA-256): ") }
        guard let pin = pinLine.firstMatch(of: /certificate pin \(SHA-256\): ([0-9a-f]{64})/) else {
            XCTFail("no pin in parley-signal's output: \(pinLine)")
            throw CocoaError(.executableLoad)
        }
        self.pin = String(pin.1)
    }

    func stop() { process.stop() }
}
