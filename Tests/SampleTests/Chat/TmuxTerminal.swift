import Foundation
import XCTest

/// A private tmux server (its own socket, no user config) holding terminals a test types
/// into and reads back, as a person would: `send-keys` and `capture-pane`. Every wait has
/// a limit and fails the test with the screen as it was. `stop()` (also on deinit) kills
/// the server and everything running in it.
final class TmuxTerminal: @unchecked Sendable {
    let socket = "parley-test-\(UInt32.random(in: 0...UInt32.max))"
    private var stopped = false

    init() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.tmux) else {
            XCTFail("tmux is not installed (make deps installs it)")
            throw CocoaError(.executableNotLoadable)
        }
    }

    deinit { stop() }

    static let tmux = "/usr/bin/tmux"

    /// Starts `command` (an argument vector) in a new session `name` of `width` x `height`.
    /// When the command exits the pane shows "[exit STATUS]" and stays, so its last
    /// screen and its status can be read.
    func start(_ name: String, width: Int, height: Int, command: [String], environment: [String: String] = [:]) throws {
        let env = (["SWIFT_BACKTRACE": "enable=no", "TERM": "xterm-256color", "LANG": "C.UTF-8"].merging(environment) { $1 })
            .map { "\($0.key)=\(Self.quote($0.value))" }.sorted().joined(separator: " ")
        let line = "env \(env) \(command.map(Self.quote).joined(separator: " ")); echo \"[exit $?]\"; sleep 600"
        try run(["-f", "/dev/null", "new-session", "-d", "-s", name, "-x", "\(width)", "-y", "\(height)", "sh", "-c", line])
    }

    /// Types `text` literally (no key names), then Enter unless `enter` is false.
    func type(_ name: String, _ text: String, enter: Bool = true) throws {
        try run(["send-keys", "-t", name, "-l", text])
        if enter { try key(name, "Enter") }
    }

    /// Presses keys by tmux name ("Enter", "C-c", "Escape", "y").
    func key(_ name: String, _ keys: String...) throws {
        try run(["send-keys", "-t", name] + keys)
    }

    /// The visible screen, one string per row.
    func screen(_ name: String) throws -> [String] {
        let text = try run(["capture-pane", "-p", "-t", name])
        var rows = text.components(separatedBy: "\n")
        if rows.last == "" { rows.removeLast() }
        return rows
    }

    func resize(_ name: String, width: Int, height: Int) throws {
        try run(["resize-window", "-t", name, "-x", "\(width)", "-y", "\(height)"])
    }

    /// Waits up to `limit` until `match` holds for the screen; returns that screen.
    @discardableResult
    func waitFor(_ name: String, _ what: String, within limit: Duration = .seconds(20),
                 file: StaticString = #filePath, line: UInt = #line, where match: ([String]) -> Bool) throws -> [String] {
        let deadline = ContinuousClock.now + limit
        var rows: [String] = []
        while ContinuousClock.now < deadline {
            rows = try screen(name)
            if match(rows) { return rows }
            usleep(50_000)
        }
        XCTFail("\(name): no \(what) within \(limit); the screen:\n\(rows.joined(separator: "\n"))", file: file, line: line)
        throw CocoaError(.executableLoad)
    }

    /// Waits until `text` shows anywhere on the screen.
    @discardableResult
    func waitFor(_ name: String, text: String, within limit: Duration = .seconds(20),
                 file: StaticString = #filePath, line: UInt = #line) throws -> [String] {
        try waitFor(name, "\"\(text)\"", within: limit, file: file, line: line) { $0.contains { $0.contains(text) } }
    }

    func stop() {
        guard !stopped else { return }
        stopped = true
        _ = try? run(["kill-server"])
    }

    /// Runs tmux with `arguments` and returns what it printed. posix_spawn and waitpid
    /// rather than Foundation's Process: the tmux client that starts the server exits at
    /// once, but Process did not always notice (its waitUntilExit hung with the client a
    /// zombie). Output goes to a file: the server inherits it and would hold a pipe open.
    @discardableResult
    private func run(_ arguments: [String]) throws -> String {
        let outputPath = NSTemporaryDirectory() + "/\(socket)-\(UInt32.random(in: 0...UInt32.max)).out"
        defer { unlink(outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([Self.tmux, "-L", socket] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, Self.tmux, &actions, nil, argv, environ)
        guard spawned == 0 else {
            XCTFail("cannot start tmux: \(String(cString: strerror(spawned)))")
            throw CocoaError(.executableLoad)
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        let text = String(decoding: (try? Data(contentsOf: URL(fileURLWithPath: outputPath))) ?? Data(), as: UTF8.self)
        let exitedCleanly = (status & 0x7F) == 0 && (status >> 8) & 0xFF == 0
        guard exitedCleanly || arguments.first == "kill-server" else {
            XCTFail("tmux \(arguments.joined(separator: " ")) failed (status \(status)): \(text)")
            throw CocoaError(.executableLoad)
        }
        return text
    }

    /// Single-quotes `text` for sh.
    static func quote(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}
