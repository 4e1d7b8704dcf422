import ParleyCrypto
import ParleySampleKit
import XCTest

/// The chat as a value: keys and network events in, actions and screens out, no terminal.
final class ChatModelTests: XCTestCase {
    let me = try! DeviceID(rawBytes: Array(repeating: 1, count: 20))  // 20 bytes: cannot fail
    let bob = try! DeviceID(rawBytes: Array(repeating: 2, count: 20))  // 20 bytes: cannot fail
    let stranger = try! DeviceID(rawBytes: Array(repeating: 3, count: 20))  // 20 bytes: cannot fail

    func model() -> ChatModel { ChatModel(me: me, contacts: [ChatContact(name: "bob", device: bob)]) }

    /// Types `text` and presses Enter; returns the actions of the last key.
    @discardableResult
    func type(_ text: String, into model: inout ChatModel, enter: Bool = true) -> [ChatAction] {
        var actions: [ChatAction] = []
        for character in text { actions = model.handle(key: .character(character)) }
        if enter { actions = model.handle(key: .enter) }
        return actions
    }

    func screenText(_ model: ChatModel, width: Int = 100, height: Int = 24) -> String {
        model.render(width: width, height: height).lines.map(\.text).joined(separator: "\n")
    }

    /// A model in a connected call with bob, placed with a code given inline.
    func connectedModel() -> (ChatModel, CallToken) {
        var model = model()
        let actions = type("/call bob 482 915", into: &model)
        guard case let .placeCall(token, _, _)? = actions.first else {
            XCTFail("no call placed: \(actions)")
            return (model, .outgoing(0))
        }
        _ = model.handle(.callPhase(token, .securing))
        _ = model.handle(.callSecured(token, sas: "123 456"))
        _ = model.handle(.callPath(token, relayed: false))
        _ = model.handle(.callPhase(token, .connected))
        return (model, token)
    }

    // MARK: Commands

    func testCallWithInlineCodePlacesTheCallAndNeverShowsTheCode() {
        var model = model()
        type("/call bob 482 915", into: &model, enter: false)
        XCTAssertFalse(screenText(model).contains("482"), "the code is masked while typed")
        let actions = model.handle(key: .enter)
        XCTAssertEqual(actions, [.placeCall(.outgoing(1), peer: bob, securityCode: "482 915")])
        XCTAssertFalse(screenText(model).contains("482"))
        XCTAssertTrue(screenText(model).contains("bob · calling…"))
    }

    func testCallWithoutCodePromptsForItMasked() {
        var model = model()
        XCTAssertEqual(type("/call BOB", into: &model), [], "names match without case")
        XCTAssertEqual(model.prompt, .securityCode(outgoingTo: bob))
        type("s3cret", into: &model, enter: false)
        let screen = screenText(model)
        XCTAssertTrue(screen.contains("Security code (Enter for none): ••••••"), screen)
        XCTAssertFalse(screen.contains("s3cret"))
        XCTAssertEqual(model.handle(key: .enter), [.placeCall(.outgoing(1), peer: bob, securityCode: "s3cret")])
        XCTAssertTrue(model.input.isEmpty)
    }

    func testEnterAtTheCodePromptCallsWithoutACode() {
        var model = model()
        type("/call bob", into: &model)
        XCTAssertEqual(model.handle(key: .enter), [.placeCall(.outgoing(1), peer: bob, securityCode: nil)])
        XCTAssertTrue(model.transcript.contains { $0.text.contains("compare the SAS") })
    }

    func testEscapeCancelsTheCodePrompt() {
        var model = model()
        type("/call bob", into: &model)
        type("12", into: &model, enter: false)
        XCTAssertEqual(model.handle(key: .escape), [])
        XCTAssertEqual(model.prompt, .command)
        XCTAssertNil(model.call)
    }

    func testBadCommandsAreOneLineErrorsAndDoNothing() {
        for line in ["/call", "/call nobody", "/frobnicate", "/send", "/add", "/add bad name! x", "/add eve notanid", "/hangup",
                     "/hangup now", "hello"] {
            var model = model()
            let actions = type(line, into: &model)
            XCTAssertEqual(actions, [], line)
            XCTAssertEqual(model.notice?.isError, true, "\(line) gives an error")
            let status = model.render(width: 100, height: 24).lines[22].text
            XCTAssertTrue(status.hasPrefix(" ✗ "), "\(line): the error is on the status line: \(status)")
            XCTAssertFalse(status.contains("\n"))
        }
        var model = model()
        type("/frobnicate", into: &model)
        XCTAssertEqual(model.notice?.text, "unknown command /frobnicate; /help lists the commands")
        type("hello", into: &model)
        XCTAssertEqual(model.notice?.text, "not in a call: /call NAME first (or /help)")
    }

    func testCallByDeviceIDOfAStrangerShowsItsShortID() {
        var model = model()
        XCTAssertEqual(type("/call \(stranger.printable) 1", into: &model), [.placeCall(.outgoing(1), peer: stranger, securityCode: "1")])
        XCTAssertTrue(screenText(model).contains("☎ \(stranger.fingerprint)"))
    }

    func testAddContactAtRuntimeAndDuringACall() {
        var model = model()
        type("/add carol \(stranger.printable)", into: &model)
        XCTAssertEqual(model.contacts.last, ChatContact(name: "carol", device: stranger))
        XCTAssertNil(model.notice)
        type("/add bob \(stranger.printable)", into: &model)
        XCTAssertEqual(model.notice?.isError, true, "a name already used for another device is refused")

        var (inCall, _) = connectedModel()
        type("/add robert", into: &inCall)
        XCTAssertEqual(inCall.contacts, [ChatContact(name: "robert", device: bob)], "the peer's entry is renamed")
    }

    func testHelpListsEveryCommandAndSaysAddIsNotSaved() {
        var model = model()
        type("/help", into: &model)
        let text = model.transcript.map(\.text).joined(separator: "\n")
        for command in ["/call", "/hangup", "/send", "/add", "/contacts", "/quit"] { XCTAssertTrue(text.contains(command), command) }
        XCTAssertTrue(text.contains("not saved"))
    }

    func testQuitHangsUpTheCallFirst() {
        var (model, token) = connectedModel()
        XCTAssertEqual(type("/quit", into: &model), [.hangUp(token), .quit])
        var idle = self.model()
        XCTAssertEqual(idle.handle(key: .control("c")), [.quit])
        XCTAssertEqual(idle.handle(key: .control("d")), [.quit], "Ctrl-D on an empty line quits")
        type("x", into: &idle, enter: false)
        XCTAssertEqual(idle.handle(key: .control("d")), [], "Ctrl-D with text deletes instead")
    }

    // MARK: Calls

    func testIncomingCallPromptAcceptThenCode() {
        var model = model()
        XCTAssertEqual(model.handle(.incomingCall(.incoming(1), peer: bob)), [])
        XCTAssertEqual(model.render(width: 80, height: 20).lines[19].text.trimmingSpaces(), "bob is calling — accept? [y/n]")
        XCTAssertEqual(model.handle(key: .character("x")), [], "other keys do nothing")
        XCTAssertEqual(model.handle(key: .character("y")), [])
        XCTAssertEqual(model.prompt, .securityCode(outgoingTo: nil))
        type("9 9", into: &model, enter: false)
        XCTAssertEqual(model.handle(key: .enter), [.accept(.incoming(1), securityCode: "9 9")])
        XCTAssertEqual(model.call?.phase, .securing)
    }

    func testIncomingCallRejected() {
        var model = model()
        _ = model.handle(.incomingCall(.incoming(7), peer: stranger))
        XCTAssertTrue(screenText(model).contains("\(stranger.fingerprint) is calling — accept? [y/n]"), "unknown devices show their short ID")
        XCTAssertEqual(model.handle(key: .character("n")), [.reject(.incoming(7))])
        XCTAssertNil(model.call)
        XCTAssertEqual(model.prompt, .command)
    }

    func testASecondIncomingCallIsRejectedAsBusy() {
        var (model, token) = connectedModel()
        XCTAssertEqual(model.handle(.incomingCall(.incoming(3), peer: stranger)), [.reject(.incoming(3))])
        XCTAssertEqual(model.call?.token, token)
    }

    func testCallerCancellingClearsTheAnswerPrompt() {
        var model = model()
        _ = model.handle(.incomingCall(.incoming(1), peer: bob))
        _ = model.handle(key: .character("y"))
        type("12", into: &model, enter: false)
        _ = model.handle(.callEnded(.incoming(1), byPeer: true, failure: nil))
        XCTAssertEqual(model.prompt, .command)
        XCTAssertTrue(model.input.isEmpty, "the half-typed code is dropped")
        XCTAssertTrue(model.transcript.last?.text == "bob hung up.")
    }

    func testConnectedCallShowsSASProminentlyWithPathBadge() throws {
        let (model, _) = connectedModel()
        let screen = model.render(width: 100, height: 24)
        let bar = screen.lines[21]
        XCTAssertTrue(bar.text.hasPrefix(" ☎ bob · connected   SAS 123 456   [direct]"), bar.text)
        let sas = try XCTUnwrap(bar.spans.first { $0.text.contains("123 456") })
        XCTAssertEqual(sas.style, [.bold, .inverse])
        var relayed = model
        _ = relayed.handle(.callPath(model.call!.token, relayed: true))  // connectedModel has a call
        XCTAssertTrue(relayed.render(width: 100, height: 24).lines[21].text.contains("[relayed]"))
    }

    func testFailedCallIsOneLineWithTheReason() {
        var (model, token) = connectedModel()
        _ = model.handle(.callEnded(token, byPeer: false, failure: "security codes differ (5001)"))
        XCTAssertNil(model.call)
        XCTAssertEqual(model.render(width: 100, height: 24).lines[22].text.trimmingSpaces(), "✗ call failed: security codes differ (5001)")
    }

    func testEventsOfAnOldCallAreIgnored() {
        var (model, token) = connectedModel()
        type("/hangup", into: &model)
        _ = model.handle(.messageReceived(token, text: "late"))
        _ = model.handle(.callPhase(token, .connected))
        XCTAssertNil(model.call)
        XCTAssertFalse(model.transcript.contains { $0.text == "late" })
    }

    // MARK: Messages and files

    func testMessagesShowDeliveryMarks() {
        var (model, token) = connectedModel()
        XCTAssertEqual(type("hello there", into: &model), [.sendMessage(token, localID: 1, text: "hello there")])
        XCTAssertTrue(screenText(model).contains("you: hello there ✓"))
        XCTAssertFalse(screenText(model).contains("✓✓"))
        _ = model.handle(.messageDelivered(token, localID: 1))
        XCTAssertTrue(screenText(model).contains("you: hello there ✓✓"))
        XCTAssertEqual(type("//slash", into: &model), [.sendMessage(token, localID: 2, text: "/slash")])
        _ = model.handle(.messageFailed(token, localID: 2, reason: "the call is not connected"))
        XCTAssertTrue(screenText(model).contains("you: /slash ✗"))
        _ = model.handle(.messageReceived(token, text: "hi"))
        XCTAssertTrue(screenText(model).contains("bob: hi"))
    }

    func testFileProgressBarThenSavedPath() {
        var (model, token) = connectedModel()
        XCTAssertEqual(type("/send ~/my photo.jpg", into: &model), [.sendFile(token, path: "~/my photo.jpg")])
        _ = model.handle(.fileProgress(token, outgoing: true, name: "my photo.jpg", done: 500, size: 1000))
        let bar = model.render(width: 100, height: 24).lines[21].text
        XCTAssertTrue(bar.contains("↑ my photo.jpg ▕"), bar)
        XCTAssertTrue(bar.contains("▏ 50%"), bar)
        _ = model.handle(.fileSent(token, name: "my photo.jpg", size: 1000))
        XCTAssertNil(model.call?.transfer)
        _ = model.handle(.fileProgress(token, outgoing: false, name: "notes.txt", done: 10, size: 20))
        XCTAssertTrue(model.render(width: 100, height: 24).lines[21].text.contains("↓ notes.txt"))
        _ = model.handle(.fileReceived(token, name: "notes.txt", size: 20, savedAs: "/home/a/Downloads/parley/notes.txt"))
        XCTAssertTrue(screenText(model).contains("Received notes.txt (20 B), saved as /home/a/Downloads/parley/notes.txt"))
    }

    // MARK: Hostile text

    func testControlCharactersFromAPeerNeverReachTheTerminal() {
        var (model, token) = connectedModel()
        let hostile = "hi\u{1B}]0;owned\u{07}\u{1B}[2J\u{1B}[31mred\u{9B}1;1H\r\u{202E}txt.exe\u{08}"
        _ = model.handle(.messageReceived(token, text: hostile))
        _ = model.handle(.fileReceived(token, name: "a\u{1B}[2Jb", size: 1, savedAs: "/x/a\u{1B}b"))
        _ = model.handle(.fileProgress(token, outgoing: false, name: "\u{1B}[H", done: 0, size: 1))
        let screen = model.render(width: 100, height: 24)
        for line in screen.lines {
            for scalar in line.text.unicodeScalars {
                XCTAssertFalse(scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || (0x202A...0x202E).contains(scalar.value),
                               "a raw control character U+\(String(scalar.value, radix: 16)) would reach the terminal: \(line.text)")
            }
        }
        let ansi = screen.ansi()
        XCTAssertFalse(ansi.contains("\u{1B}]"), "no OSC sequence")
        XCTAssertFalse(ansi.contains("\u{1B}[2J"), "no clear-screen sequence")
        XCTAssertFalse(ansi.contains("\u{1B}[31m"), "no colour but ours")
        XCTAssertTrue(screenText(model).contains("bob: hi\u{FFFD}]0;owned\u{FFFD}\u{FFFD}[2J"))
    }

    func testAMultiLineMessageStaysInsideTheTranscript() {
        var (model, token) = connectedModel()
        _ = model.handle(.messageReceived(token, text: "one\ntwo"))
        let lines = model.render(width: 100, height: 24).lines.map(\.text)
        let one = lines.firstIndex { $0.contains("bob: one") }
        XCTAssertNotNil(one)
        XCTAssertTrue(lines[one! + 1].contains("│   two"), lines[one! + 1])  // the line after it exists: 24 rows
    }

    // MARK: Layout

    func testEveryRowIsExactlyTheScreenWidthAtManySizes() {
        var (model, token) = connectedModel()
        _ = model.handle(.messageReceived(token, text: String(repeating: "long-word-without-spaces-", count: 20)))
        _ = model.handle(.messageReceived(token, text: "漢字とemoji 🎉🎉 wide"))
        _ = model.handle(.fileProgress(token, outgoing: true, name: String(repeating: "n", count: 200), done: 3, size: 9))
        type(String(repeating: "typed ", count: 40), into: &model, enter: false)
        for (width, height) in [(1, 1), (5, 2), (10, 3), (20, 4), (40, 8), (59, 10), (60, 10), (80, 24), (200, 60)] {
            let screen = model.render(width: width, height: height)
            XCTAssertEqual(screen.lines.count, height, "\(width)x\(height)")
            for line in screen.lines {
                XCTAssertEqual(TerminalText.width(line.text), width, "\(width)x\(height): \(line.text)")
            }
            let cursor = try? XCTUnwrap(screen.cursor)
            XCTAssertEqual(cursor?.row, height - 1, "the input line is the last row")
            XCTAssertLessThan(cursor?.column ?? width, width)
        }
    }

    func testNarrowTerminalDropsTheContactColumn() {
        let model = model()
        XCTAssertTrue(screenText(model, width: 80).contains("Contacts"))
        XCTAssertFalse(screenText(model, width: 40).contains("Contacts"))
    }

    func testLongTranscriptShowsTheNewestAndScrolls() {
        var (model, token) = connectedModel()
        for index in 0..<50 { _ = model.handle(.messageReceived(token, text: "message \(index)")) }
        XCTAssertTrue(screenText(model).contains("bob: message 49"))
        XCTAssertFalse(screenText(model).contains("bob: message 20 "))
        _ = model.handle(key: .pageUp)
        XCTAssertFalse(screenText(model).contains("bob: message 49"))
        _ = model.handle(key: .pageDown)
        XCTAssertTrue(screenText(model).contains("bob: message 49"))
    }

    func testPresenceDotsAndOnlineFirst() {
        var model = ChatModel(me: me, contacts: [ChatContact(name: "zed", device: stranger), ChatContact(name: "bob", device: bob)])
        _ = model.handle(.presence([stranger]))
        let rows = model.render(width: 80, height: 10).lines.map(\.text)
        XCTAssertTrue(rows[2].hasPrefix(" ● zed"), rows[2])
        XCTAssertTrue(rows[3].hasPrefix(" ○ bob"), rows[3])
    }

    func testHistoryAndEditingKeys() {
        var (model, _) = connectedModel()
        type("first", into: &model)
        type("second", into: &model)
        _ = model.handle(key: .up)
        XCTAssertEqual(model.input.text, "second")
        _ = model.handle(key: .up)
        XCTAssertEqual(model.input.text, "first")
        _ = model.handle(key: .down)
        _ = model.handle(key: .down)
        XCTAssertEqual(model.input.text, "")
        type("abc def", into: &model, enter: false)
        _ = model.handle(key: .control("w"))
        XCTAssertEqual(model.input.text, "abc ")
        _ = model.handle(key: .home)
        _ = model.handle(key: .character(">"))
        XCTAssertEqual(model.input.text, ">abc ")
        XCTAssertEqual(model.render(width: 80, height: 10).cursor?.column, 3, "after the prompt \"› \" and one character")
    }

    func testTabCompletesAContactName() {
        var model = model()
        type("/call b", into: &model, enter: false)
        _ = model.handle(key: .tab)
        XCTAssertEqual(model.input.text, "/call bob ")
    }
}
