import Foundation
import XCTest

/// parley-chat used as a person uses it: typed into and read back from a real terminal
/// (tmux), two chats against a real parley-signal on loopback.
final class ChatTerminalTests: ChatTerminalTestCase {
    // MARK: Two chats

    func testTwoPeopleCallVerifySASChatSendAFileResizeAndHangUp() throws {
        let alice = try makeUser("alice"), bob = try makeUser("bob")
        try writeConfig(alice, contacts: [("bob", bob.deviceID)])
        try writeConfig(bob, contacts: [("alice", alice.deviceID)])
        try startChat(alice)
        try startChat(bob, width: 100, height: 30)
        try tmux.waitFor("alice", "bob online in the contact list") { $0.contains { $0.hasPrefix(" ● bob ") } }

        // Alice calls; the code is asked for at a masked prompt.
        try tmux.type("alice", "/call bob")
        try tmux.waitFor("alice", text: "Security code (Enter for none):")
        try tmux.type("alice", "4711-2")
        try tmux.waitFor("bob", text: "alice is calling — accept? [y/n]")
        try tmux.key("bob", "y")
        try tmux.waitFor("bob", text: "Security code (Enter for none):")
        try tmux.type("bob", "4711 2", enter: false)
        // Waits for the redraw: reading the screen at once raced the chat's handling of the keys.
        try tmux.waitFor("bob", "the code shown as dots while typed") { $0.last?.hasSuffix("••••••") == true }
        try tmux.key("bob", "Enter")

        let sasAlice = try connectedSAS("alice", peer: "bob")
        let sasBob = try connectedSAS("bob", peer: "alice")
        XCTAssertEqual(sasAlice, sasBob, "both screens show the same security string")
        for name in ["alice", "bob"] {
            let screen = try tmux.screen(name).joined(separator: "\n")
            XCTAssertTrue(screen.contains("[direct]"), "\(name): the path badge on loopback is direct")
            XCTAssertFalse(screen.contains("4711"), "\(name): the security code is never on screen")
        }

        // Messages, with delivery marks.
        try tmux.type("alice", "hello bob")
        try tmux.waitFor("bob", text: "alice: hello bob")
        try tmux.waitFor("alice", text: "you: hello bob ✓✓")
        try tmux.type("bob", "hi alice, got it")
        try tmux.waitFor("alice", text: "bob: hi alice, got it")

        // Escape sequences typed by bob are keys, never text: they do not travel. (What a
        // hostile peer sends directly is shown inert: ChatModelTests.)
        try tmux.type("bob", "evil\u{1B}[2J\u{1B}]0;owned\u{07}end")
        try tmux.waitFor("alice", text: "bob: evil]0;ownedend")
        XCTAssertTrue(try tmux.screen("alice").contains { $0.contains("bob: hi alice, got it") }, "the screen was not cleared")

        // A file, with its progress, saved under bob's download directory.
        let file = (0..<400_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
        try scratch.write("notes for bob.txt", file)
        try tmux.type("alice", "/send \(scratch.file("notes for bob.txt"))")
        try tmux.waitFor("alice", text: "Sent notes for bob.txt (400.0 KB) ✓✓")
        let saved = bob.downloads + "/notes for bob.txt"
        try tmux.waitFor("bob", text: "Received notes for bob.txt (400.0 KB), saved as")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: saved)), Data(file))

        // Resize: the whole layout is redrawn for the new size.
        try tmux.resize("alice", width: 90, height: 20)
        let resized = try tmux.waitFor("alice", "the layout redrawn at 90x20") { rows in
            rows.count == 20 && rows[19].hasPrefix("›") && rows[17].contains("☎ bob · connected") && rows[0].contains("parley-chat")
        }
        XCTAssertTrue(resized[0].hasSuffix("● online"), "the header spans the new width: \(resized[0])")

        // Bob hangs up; alice sees it; alice quits and the terminal is given back.
        try tmux.type("bob", "/hangup")
        try tmux.waitFor("alice", text: "bob hung up.")
        try tmux.waitFor("alice", text: "no call")
        try tmux.type("alice", "/quit")
        try tmux.waitFor("alice", text: "[exit 0]")
        XCTAssertFalse(try tmux.screen("alice").contains { $0.contains("parley-chat  you") }, "the alternate screen is gone")
    }

    func testDifferentSecurityCodesFailTheCallOnBothScreens() throws {
        let alice = try makeUser("alice"), bob = try makeUser("bob")
        try writeConfig(alice, contacts: [("bob", bob.deviceID)])
        try writeConfig(bob, contacts: [])
        try startChat(alice)
        try startChat(bob)
        try tmux.waitFor("alice", "bob online") { $0.contains { $0.hasPrefix(" ● bob ") } }
        try tmux.type("alice", "/call bob 1111")
        try tmux.waitFor("bob", text: "\(String(alice.deviceID.prefix(4)))-\(String(alice.deviceID.dropFirst(4).prefix(4))) is calling — accept? [y/n]")
        try tmux.key("bob", "y")
        try tmux.type("bob", "2222")
        for name in ["alice", "bob"] {
            try tmux.waitFor(name, "the mismatch on the status line") { rows in
                rows.count >= 2 && rows[rows.count - 2].contains("✗ call failed: security codes differ")
            }
            XCTAssertTrue(try tmux.screen(name).contains { $0.contains("no call") })
        }
    }

    func testErrorsAreOneLineAndBadConfigIsAClearMessage() throws {
        let alice = try makeUser("alice")
        try writeConfig(alice, contacts: [])
        try startChat(alice, width: 80, height: 24)
        try tmux.type("alice", "/call nobody")
        try tmux.waitFor("alice", text: "✗ no contact named \"nobody\"")
        try tmux.type("alice", "/send /etc/hostname")
        try tmux.waitFor("alice", text: "✗ not in a connected call; /call NAME first")
        try tmux.key("alice", "C-c")
        try tmux.waitFor("alice", text: "[exit 0]")

        try scratch.write("bad.conf", Array("server = wss://127.0.0.1:1/\ncolour = blue\n".utf8))
        let bad = try ChildProcess(try SampleLayout.executable("parley-chat"), ["--config", scratch.file("bad.conf")])
        XCTAssertNotEqual(bad.waitForExit(), 0)
        let message = bad.stderr.filter { !$0.isEmpty }
        XCTAssertEqual(message.count, 1, "one line: \(message)")
        XCTAssertTrue(message.first?.contains("bad.conf:2: unknown key \"colour\"") == true, "\(message)")

        try writeConfig(alice, contacts: [])
        let noTerminal = try ChildProcess(try SampleLayout.executable("parley-chat"), ["--config", alice.configPath])
        XCTAssertNotEqual(noTerminal.waitForExit(), 0)
        XCTAssertTrue(noTerminal.stderr.joined().contains("run it in a terminal"), noTerminal.transcript)
    }
}
