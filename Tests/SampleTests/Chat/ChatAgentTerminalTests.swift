import Foundation
import XCTest

/// parley-chat in a terminal calling a parley-agent (the headless device), over a real
/// parley-signal: what a person sees, checked against what the agent reports.
final class ChatAgentTerminalTests: ChatTerminalTestCase {
    func testChatCallsAnAgentExchangesMessagesAndAFileAndHangsUp() throws {
        let received = scratch.file("agent-files")
        try FileManager.default.createDirectory(atPath: received, withIntermediateDirectories: false)
        let agent = try ChildProcess(try SampleLayout.executable("parley-agent"),
                                     ["serve", "--server", server.url, "--pin", server.pin, "--identity", scratch.file("agent.key"),
                                      "--ice-address", "127.0.0.1", "--answer", "all", "--messages", "echo", "--receive-dir", received,
                                      "--no-audio"],
                                     environment: ["PARLEY_SECURITY_CODE": "2468-1357"])
        defer { agent.stop() }
        let online = try agent.line { $0.contains("\"event\":\"online\"") }
        let agentID = try XCTUnwrap(online.firstMatch(of: /"device":"([a-z2-7]{36})"/)?.1, online)

        let alice = try makeUser("alice")
        try writeConfig(alice, contacts: [("agent", String(agentID))])
        try startChat(alice)
        try tmux.waitFor("alice", "the agent online") { $0.contains { $0.hasPrefix(" ● agent ") } }

        try tmux.type("alice", "/call agent")
        try tmux.waitFor("alice", text: "Security code (Enter for none):")
        try tmux.type("alice", "2468 1357")
        let sas = try connectedSAS("alice", peer: "agent")
        let agentSAS = try agent.line { $0.contains("\"event\":\"sas\"") }
        XCTAssertTrue(agentSAS.contains("\"sas\":\"\(sas)\""), "the agent reports the SAS the screen shows (\(sas)): \(agentSAS)")
        XCTAssertTrue(try tmux.screen("alice").contains { $0.contains("[direct]") })

        try tmux.type("alice", "ping from the terminal")
        try tmux.waitFor("alice", text: "you: ping from the terminal ✓✓")
        try tmux.waitFor("alice", text: "agent: ping from the terminal")

        let file = (0..<250_000).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ $0 >> 10) }
        try scratch.write("report.bin", file)
        try tmux.type("alice", "/send \(scratch.file("report.bin"))")
        try tmux.waitFor("alice", text: "Sent report.bin (250.0 KB) ✓✓")
        let fileEvent = try agent.line { $0.contains("\"event\":\"file\"") }
        XCTAssertTrue(fileEvent.contains("\"digest_ok\":true"), fileEvent)
        let savedPath = try XCTUnwrap(fileEvent.firstMatch(of: /"saved":"([^"]+)"/)?.1, fileEvent)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: String(savedPath).replacingOccurrences(of: "\\/", with: "/"))), Data(file))

        try tmux.type("alice", "/hangup")
        try tmux.waitFor("alice", text: "You hung up the call with agent.")
        let ended = try agent.line { $0.contains("\"event\":\"ended\"") }
        XCTAssertTrue(ended.contains("\"keys_erased\":true"), ended)
        try tmux.type("alice", "/quit")
        try tmux.waitFor("alice", text: "[exit 0]")
    }
}
