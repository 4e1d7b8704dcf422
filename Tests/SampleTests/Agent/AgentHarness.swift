import Foundation
import ParleyCrypto
import XCTest

/// One parley-agent process and its JSON-lines events.
final class AgentProcess: @unchecked Sendable {
    let child: ChildProcess
    let name: String

    init(_ name: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        self.name = name
        child = try ChildProcess(try SampleLayout.executable("parley-agent"), arguments, environment: environment)
    }

    /// Every stdout line parsed (a line that is not a JSON object fails the test).
    var events: [[String: Any]] {
        child.stdout.compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                XCTFail("\(name) printed a stdout line that is not a JSON object: \(line)")
                return nil
            }
            return object
        }
    }

    func events(_ event: String) -> [[String: Any]] { events.filter { $0["event"] as? String == event } }

    /// The first event named `event` that satisfies `match`, waiting up to `limit`.
    @discardableResult
    func event(_ event: String, within limit: Duration = .seconds(20), file: StaticString = #filePath, line: UInt = #line,
               where match: @escaping ([String: Any]) -> Bool = { _ in true }) throws -> [String: Any] {
        let found = try child.line(within: limit, file: file, line: line) { text in
            guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { return false }
            return object["event"] as? String == event && match(object)
        }
        // `line` matched a JSON object above, so it parses again here.
        return try JSONSerialization.jsonObject(with: Data(found.utf8)) as! [String: Any]
    }

    /// The device ID of its `online` event (the first line it prints once online).
    func deviceID(file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let online = try event("online", file: file, line: line)
        return try XCTUnwrap(online["device"] as? String)
    }

    func waitForExit(within limit: Duration = .seconds(40), file: StaticString = #filePath, line: UInt = #line) -> Int32? {
        child.waitForExit(within: limit, file: file, line: line)
    }

    func stop() { child.stop() }
}

/// Base of the agent's process tests: a real parley-signal on 127.0.0.1 and a scratch
/// directory, both removed in tearDown, and agents started against them.
class AgentTestCase: XCTestCase {
    var scratch: SampleScratch!
    var server: SignalServerProcess!
    private var agents: [AgentProcess] = []

    override func setUpWithError() throws {
        try super.setUpWithError()
        scratch = try SampleScratch()
        server = try SignalServerProcess(stateDirectory: scratch.file("server-state"))
    }

    override func tearDown() {
        agents.forEach { $0.stop() }
        agents = []
        server?.stop()
        scratch?.remove()
        super.tearDown()
    }

    /// The flags every agent of a test gets: the server, its pin, an identity of its own, loopback ICE.
    func connection(_ name: String) -> [String] {
        ["--server", server.url, "--pin", server.pin, "--identity", scratch.file("\(name).key"), "--ice-address", "127.0.0.1"]
    }

    /// `parley-agent serve ...` as `name`, online.
    func serve(_ name: String, _ arguments: [String], environment: [String: String] = [:]) throws -> AgentProcess {
        let agent = try AgentProcess(name, ["serve"] + connection(name) + arguments, environment: environment)
        agents.append(agent)
        _ = try agent.deviceID()
        return agent
    }

    /// `parley-agent call DEVICE ...` as `name`.
    func call(_ name: String, _ device: String, _ arguments: [String], environment: [String: String] = [:]) throws -> AgentProcess {
        let agent = try AgentProcess(name, ["call", device] + connection(name) + arguments, environment: environment)
        agents.append(agent)
        return agent
    }

    /// `parley-agent ARGUMENTS` with no server setup of its own.
    func run(_ name: String, _ arguments: [String], environment: [String: String] = [:]) throws -> AgentProcess {
        let agent = try AgentProcess(name, arguments, environment: environment)
        agents.append(agent)
        return agent
    }

    /// A device identity saved at `scratch/name.key`; returns its printable ID.
    func makeIdentity(_ name: String) throws -> String {
        let identity = DeviceIdentity()
        try identity.save(path: scratch.file("\(name).key"))
        return identity.deviceID.printable
    }

    /// The call's `ended` event of `agent`, checked: keys erased (live-secrets counter back where it was).
    @discardableResult
    func assertEndedWithKeysErased(_ agent: AgentProcess, code: Int, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let ended = try agent.event("ended", file: file, line: line)
        XCTAssertEqual(ended["code"] as? Int, code, "\(agent.name): \(ended)", file: file, line: line)
        XCTAssertEqual(ended["keys_erased"] as? Bool, true, "\(agent.name): \(ended)", file: file, line: line)
        XCTAssertEqual(ended["live_secrets_before"] as? Int, ended["live_secrets_after"] as? Int, file: file, line: line)
        return ended
    }
}
