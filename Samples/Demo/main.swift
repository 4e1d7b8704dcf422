// parley-demo (`make demo`): parley-signal on loopback and two parley-agents; one calls the
// other with a security code, they exchange messages, a few seconds of Opus audio and a
// file, hang up, and this prints a report from the agents' JSON-lines events.
// `--code-mismatch` (make demo CODE_MISMATCH=1) gives the caller a different code and
// shows the error both sides report instead.
//
// Exit status: 0 when the demo showed what it promises (a call with matching SAS, every
// check passed, keys erased on both sides; or, with --code-mismatch, the mismatch on both
// sides with no call and no key left), 1 otherwise, with the reason.

import Foundation
import Glibc

/// How long each step may take before the demo gives up (it never waits forever).
enum DemoLimits {
    static let serverStart: TimeInterval = 20
    static let agentOnline: TimeInterval = 30
    static let call: TimeInterval = 60
    static let callSeconds = 4
    static let fileBytes = 2_000_000
}

let securityCode = "482-915"
let wrongCode = "915-482"
let messages = ["hello from A", "the SAS on my screen matches yours", "sending you a file now"]

struct DemoFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A child process whose stdout and stderr go to files in the demo's directory.
final class Child {
    let name: String
    let process = Process()
    let stdoutPath: String
    let stderrPath: String

    init(name: String, executable: String, arguments: [String], directory: String, environment: [String: String] = [:]) throws {
        self.name = name
        stdoutPath = directory + "/\(name).out"
        stderrPath = directory + "/\(name).err"
        FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var merged = ProcessInfo.processInfo.environment
        merged["SWIFT_BACKTRACE"] = "enable=no"
        for (key, value) in environment { merged[key] = value }
        process.environment = merged
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        try process.run()
    }

    var stdoutText: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderrText: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// The JSON events printed so far (parley-agent's stdout).
    var events: [[String: Any]] {
        stdoutText.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
    }

    func event(_ name: String) -> [String: Any]? { events.first { $0["event"] as? String == name } }
    func allEvents(_ name: String) -> [[String: Any]] { events.filter { $0["event"] as? String == name } }

    /// Polls `condition` every 20 ms for up to `limit` seconds.
    func wait<T>(_ what: String, limit: TimeInterval, _ condition: () -> T?) throws -> T {
        let deadline = Date().addingTimeInterval(limit)
        while Date() < deadline {
            if let value = condition() { return value }
            if !process.isRunning, let value = condition() { return value }
            if !process.isRunning {
                throw DemoFailure("\(name) exited (status \(process.terminationStatus)) before \(what); its log:\n\(stderrText)")
            }
            usleep(20_000)
        }
        throw DemoFailure("\(name): no \(what) within \(Int(limit)) s; its log:\n\(stderrText)")
    }

    /// Waits for the process to exit; returns its status (nil when it had to be killed).
    func waitForExit(limit: TimeInterval) -> Int32? {
        let deadline = Date().addingTimeInterval(limit)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        if process.isRunning {
            stop()
            return nil
        }
        return process.terminationStatus
    }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// The executables built beside this one.
func sibling(_ name: String) throws -> String {
    let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    let path = me.deletingLastPathComponent().appendingPathComponent(name).path
    guard FileManager.default.isExecutableFile(atPath: path) else {
        throw DemoFailure("\(name) is not built beside \(me.path); run `swift build` first (make demo does)")
    }
    return path
}

func text(_ value: Any?) -> String {
    switch value {
    case let string as String: return string
    case let number as NSNumber: return number.stringValue
    case nil: return "-"
    default: return "\(value!)"
    }
}

func number(_ value: Any?) -> Int { (value as? NSNumber)?.intValue ?? 0 }

func grouped(_ value: Int) -> String {
    let digits = Array(String(value))
    var out = ""
    for (index, digit) in digits.enumerated() {
        if index > 0, (digits.count - index) % 3 == 0 { out.append(" ") }
        out.append(digit)
    }
    return out
}

func row(_ label: String, _ caller: String, _ callee: String, _ note: String = "") -> String {
    func pad(_ text: String, _ width: Int) -> String { text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count) }
    return "  " + pad(label, 26) + pad(caller, 24) + pad(callee, 24) + note
}

func run(codeMismatch: Bool) throws -> [String] {
    var template = Array((NSTemporaryDirectory() + "/parley-demo-XXXXXX").utf8CString)
    guard let created = mkdtemp(&template) else { throw DemoFailure("cannot create a temporary directory") }
    let directory = String(cString: created)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try FileManager.default.createDirectory(atPath: directory + "/received", withIntermediateDirectories: true)

    // The server: loopback, a port the system picks, a state directory of its own.
    let server = try Child(name: "parley-signal", executable: try sibling("parley-signal"),
                           arguments: ["serve", "--listen", "127.0.0.1", "--port", "0", "--state-dir", directory + "/state",
                                       "--metrics", "off"],
                           directory: directory)
    defer { server.stop() }
    let (port, pin) = try server.wait("its listening address", limit: DemoLimits.serverStart) { () -> (String, String)? in
        let log = server.stderrText
        guard let portMatch = log.firstMatch(of: /address=127\.0\.0\.1:(\d+)/),
              let pinMatch = log.firstMatch(of: /pin=([0-9a-f]{64})/) else { return nil }
        return (String(portMatch.1), String(pinMatch.1))
    }
    let url = "wss://127.0.0.1:\(port)/"
    let common = ["--server", url, "--pin", pin, "--ice-address", "127.0.0.1"]

    // The file the caller sends: pseudo-random bytes, so nothing compresses or repeats.
    var generator = SystemRandomNumberGenerator()
    let fileBytes = (0..<DemoLimits.fileBytes).map { _ in UInt8.random(in: 0...255, using: &generator) }
    let filePath = directory + "/demo-file.bin"
    try Data(fileBytes).write(to: URL(fileURLWithPath: filePath))

    // B answers one call with the code, echoes messages, saves files and records audio.
    let agent = try sibling("parley-agent")
    let callee = try Child(name: "callee", executable: agent,
                           arguments: ["serve", "--identity", directory + "/b.key", "--calls", "1", "--answer", "all",
                                       "--messages", "echo", "--receive-dir", directory + "/received",
                                       "--record", directory + "/b.wav", "--tone", "440"] + common,
                           directory: directory, environment: ["PARLEY_SECURITY_CODE": securityCode])
    defer { callee.stop() }
    let calleeID = try callee.wait("online event", limit: DemoLimits.agentOnline) { callee.event("online")?["device"] as? String }

    // A calls B, sends the messages and the file, plays a tone, hangs up after a few seconds.
    let caller = try Child(name: "caller", executable: agent,
                           arguments: ["call", calleeID, "--identity", directory + "/a.key", "--duration", "\(DemoLimits.callSeconds)",
                                       "--tone", "660", "--record", directory + "/a.wav", "--send", filePath]
                           + messages.flatMap { ["--send-message", $0] } + common,
                           directory: directory,
                           environment: ["PARLEY_SECURITY_CODE": codeMismatch ? wrongCode : securityCode])
    defer { caller.stop() }
    let callerStatus = caller.waitForExit(limit: DemoLimits.call)
    let calleeStatus = callee.waitForExit(limit: 15)

    guard let callerEnd = caller.event("ended"), let calleeEnd = callee.event("ended") else {
        throw DemoFailure("the call did not end on both sides (caller status \(text(callerStatus)), callee status \(text(calleeStatus)))\n"
                          + "caller log:\n\(caller.stderrText)\ncallee log:\n\(callee.stderrText)")
    }
    var lines: [String] = []
    var problems: [String] = []
    let callerErased = callerEnd["keys_erased"] as? Bool == true
    let calleeErased = calleeEnd["keys_erased"] as? Bool == true
    let erasedRow = row("keys erased", callerErased ? "yes" : "NO", calleeErased ? "yes" : "NO",
                        "(live secrets \(text(callerEnd["live_secrets_before"]))→\(text(callerEnd["live_secrets_after"])) and "
                        + "\(text(calleeEnd["live_secrets_before"]))→\(text(calleeEnd["live_secrets_after"])))")
    if !callerErased { problems.append("the caller's keys were not all erased") }
    if !calleeErased { problems.append("the callee's keys were not all erased") }

    lines.append("Parley demo: parley-signal on \(url), two parley-agents, one call")
    lines.append(row("", "caller (A)", "callee (B)"))
    let callerID = caller.event("online")?["device"] as? String ?? "?"
    lines.append(row("device", String(callerID.prefix(9)) + "…", String(calleeID.prefix(9)) + "…"))

    if codeMismatch {
        lines.append(row("security code", "a different one", "the agreed one"))
        let outcome: ([String: Any]) -> String = { $0["error"] as? Int == 5001 ? "code mismatch" : text($0["reason"]) }
        lines.append(row("ended", outcome(callerEnd), outcome(calleeEnd)))
        lines.append(row("error code", text(callerEnd["error"]), text(calleeEnd["error"])))
        lines.append(row("exit status", text(callerStatus), text(calleeStatus), "(77 = security code mismatch)"))
        lines.append(row("SAS shown", caller.event("sas") == nil ? "none" : "YES", callee.event("sas") == nil ? "none" : "YES"))
        lines.append(erasedRow)
        if callerEnd["error"] as? Int != 5001 || calleeEnd["error"] as? Int != 5001 {
            problems.append("expected securityCodeMismatch (5001) on both sides")
        }
        if callerStatus != 77 || calleeStatus != 77 { problems.append("expected exit status 77 on both sides") }
        if caller.event("sas") != nil || callee.event("sas") != nil || caller.event("path") != nil {
            problems.append("a call with different codes must never get keys, a SAS or a path")
        }
        lines.append("")
        lines.append("  what the caller saw: \(text(callerEnd["reason"]))")
        lines.append(problems.isEmpty
            ? "OK: the codes differed, both devices refused the call (securityCodeMismatch, 5001) and kept no key."
            : "FAILED: " + problems.joined(separator: "; "))
        if !problems.isEmpty { throw DemoFailure(lines.joined(separator: "\n")) }
        return lines
    }

    let callerSAS = text(caller.event("sas")?["sas"])
    let calleeSAS = text(callee.event("sas")?["sas"])
    let sasMatch = callerSAS != "-" && callerSAS == calleeSAS
    if !sasMatch { problems.append("the SAS differs (\(callerSAS) vs \(calleeSAS))") }
    lines.append(row("SAS", callerSAS, calleeSAS, sasMatch ? "match" : "DIFFERENT"))
    let path = caller.event("path")
    lines.append(row("path", text(path?["type"]), text(callee.event("path")?["type"]), "\(text(path?["local"])) ⇄ \(text(path?["remote"]))"))
    let callerStats = caller.allEvents("stats").last ?? [:]
    let calleeStats = callee.allEvents("stats").last ?? [:]
    lines.append(row("setup (invite→connected)", "\(text(callerStats["setup_ms"])) ms", "\(text(calleeStats["setup_ms"])) ms"))
    lines.append(row("messages sent / received", "\(number(callerStats["messages_sent"])) / \(number(callerStats["messages_received"]))",
                     "\(number(calleeStats["messages_sent"])) / \(number(calleeStats["messages_received"]))", "(B echoes each one)"))
    let echoed = caller.allEvents("message").compactMap { $0["text"] as? String }
    if echoed != messages { problems.append("the caller got back \(echoed), expected \(messages)") }

    let received = callee.event("file")
    var fileNote = "missing"
    if let received, received["digest_ok"] as? Bool == true, let saved = received["saved"] as? String {
        let savedPath = saved.hasPrefix("/") ? saved : directory + "/" + saved
        let savedBytes = (try? Data(contentsOf: URL(fileURLWithPath: savedPath))).map { [UInt8]($0) }
        fileNote = savedBytes == fileBytes ? "digest ok, identical" : "DIFFERS"
        if savedBytes != fileBytes { problems.append("the saved file differs from the one sent") }
    } else {
        problems.append("the callee did not receive the file whole")
    }
    lines.append(row("file", "sent \(grouped(DemoLimits.fileBytes)) B", "received: \(fileNote)"))
    let callerAudio = "\(number(callerStats["audio_frames_sent"])) / \(number(callerStats["audio_frames_received"]))"
    let calleeAudio = "\(number(calleeStats["audio_frames_sent"])) / \(number(calleeStats["audio_frames_received"]))"
    lines.append(row("Opus frames sent / recv", callerAudio, calleeAudio, "(20 ms each)"))
    if number(callerStats["audio_frames_received"]) == 0 || number(calleeStats["audio_frames_received"]) == 0 {
        problems.append("audio did not arrive both ways")
    }
    lines.append(row("frames sent / received", "\(grouped(number(callerStats["frames_sent"]))) / \(grouped(number(callerStats["frames_received"])))",
                     "\(grouped(number(calleeStats["frames_sent"]))) / \(grouped(number(calleeStats["frames_received"])))"))
    lines.append(row("bytes sent / received", "\(grouped(number(callerStats["bytes_sent"]))) / \(grouped(number(callerStats["bytes_received"])))",
                     "\(grouped(number(calleeStats["bytes_sent"]))) / \(grouped(number(calleeStats["bytes_received"])))"))
    lines.append(row("ended", text(callerEnd["reason"]), text(calleeEnd["reason"])))
    lines.append(erasedRow)
    if callerStatus != 0 || calleeStatus != 0 {
        problems.append("exit statuses \(text(callerStatus)) and \(text(calleeStatus)), expected 0 and 0")
    }
    lines.append("")
    lines.append(problems.isEmpty
        ? "OK: same SAS on both sides, \(text(path?["type"])) path, messages, audio and the file arrived, every key erased."
        : "FAILED: " + problems.joined(separator: "; "))
    if !problems.isEmpty { throw DemoFailure(lines.joined(separator: "\n")) }
    return lines
}

signal(SIGPIPE, SIG_IGN)
let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.contains("--help") || arguments.contains("-h") {
    print("usage: parley-demo [--code-mismatch]\n  A call between two parley-agents through a parley-signal on loopback, with a report.")
    exit(0)
}
if let unknown = arguments.first(where: { $0 != "--code-mismatch" }) {
    FileHandle.standardError.write(Data("parley-demo: error: unknown argument '\(unknown)' (usage: parley-demo [--code-mismatch])\n".utf8))
    exit(64)
}
do {
    let report = try run(codeMismatch: arguments.contains("--code-mismatch"))
    print(report.joined(separator: "\n"))
    exit(0)
} catch {
    FileHandle.standardError.write(Data("parley-demo: \(error)\n".utf8))
    exit(1)
}
