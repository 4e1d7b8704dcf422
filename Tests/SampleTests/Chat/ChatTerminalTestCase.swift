import Foundation
import XCTest

/// What the terminal tests share: a parley-signal on loopback, a private tmux server, a
/// scratch directory, and chat users with their identities and config files.
class ChatTerminalTestCase: XCTestCase {
    /// One chat user: identity, config file, download directory.
    struct User {
        var name: String
        var configPath: String
        var downloads: String
        var deviceID: String
    }

    var scratch: SampleScratch!
    var server: SignalServerProcess!
    var tmux: TmuxTerminal!

    override func setUpWithError() throws {
        scratch = try SampleScratch()
        server = try SignalServerProcess(stateDirectory: scratch.file("state"))
        tmux = try TmuxTerminal()
    }

    override func tearDown() {
        tmux?.stop()
        server?.stop()
        scratch?.remove()
    }

    /// A user with a fresh identity; `contacts` are (name, device ID) lines for the config.
    func makeUser(_ name: String) throws -> User {
        let identity = scratch.file("\(name).key")
        let show = try ChildProcess(try SampleLayout.executable("parley-chat"), ["--show-id", "--identity", identity])
        let id = try show.line { $0.count == 36 }
        XCTAssertEqual(show.waitForExit(), 0)
        return User(name: name, configPath: scratch.file("\(name).conf"), downloads: scratch.file("downloads-\(name)"), deviceID: id)
    }

    func writeConfig(_ user: User, contacts: [(String, String)]) throws {
        var text = """
            # \(user.name)'s chat
            server = \(server.url)
            pin = \(server.pin)
            identity = \(scratch.file("\(user.name).key"))
            ice_address = 127.0.0.1
            download_dir = "\(user.downloads)"

            """
        for (name, id) in contacts { text += "contact = \(name) \(id)\n" }
        try scratch.write("\(user.name).conf", Array(text.utf8))
    }

    func startChat(_ user: User, width: Int = 120, height: Int = 40) throws {
        try tmux.start(user.name, width: width, height: height,
                       command: [try SampleLayout.executable("parley-chat"), "--config", user.configPath],
                       environment: ["HOME": scratch.path])
        try tmux.waitFor(user.name, text: "● online")
    }

    /// The SAS in the call bar ("SAS 123 456"), once the call is connected.
    func connectedSAS(_ name: String, peer: String) throws -> String {
        let rows = try tmux.waitFor(name, "a connected call with \(peer)") { rows in
            rows.contains { $0.contains("☎ \(peer) · connected") && $0.contains("SAS ") }
        }
        let bar = rows.first { $0.contains("☎ \(peer) · connected") }!  // the wait found it
        return String(bar.firstMatch(of: /SAS (\d{3} \d{3})/)!.1)  // the wait saw "SAS " and the model prints 6 digits
    }
}
