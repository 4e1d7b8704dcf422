/// A line typed at the chat prompt: a command (`/call bob`) or a message.
public enum ChatCommand: Equatable, Sendable {
    /// `/call NAME [code]`: the code may hold spaces ("482 915").
    case call(name: String, securityCode: String?)
    case hangUp
    case send(path: String)
    /// `/add NAME [DEVICE_ID]`: without an ID, the peer of the current call.
    case add(name: String, device: String?)
    case contacts
    case id
    case help
    case quit
    /// Plain text, or a line starting with "//" (sent with one slash).
    case message(String)

    /// Why a line is not a command the chat knows, as one line for the status area.
    public struct ParseError: Error, Equatable, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Parses one input line (already free of control characters).
    public static func parse(_ line: String) throws(ParseError) -> ChatCommand {
        if line.hasPrefix("//") { return .message(String(line.dropFirst())) }
        guard line.hasPrefix("/") else { return .message(line) }
        let words = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        let verb = words[0].lowercased()
        let arguments = Array(words.dropFirst())
        /// The text after the verb, spaces kept (paths and codes may hold them).
        let rest = String(line.dropFirst(words[0].count)).trimmingSpaces()
        switch verb {
        case "/call":
            guard let name = arguments.first else { throw ParseError(description: "usage: /call NAME [security code]") }
            let code = arguments.count > 1 ? String(rest.dropFirst(name.count)).trimmingSpaces() : nil
            return .call(name: name, securityCode: code)
        case "/hangup", "/bye":
            guard arguments.isEmpty else { throw ParseError(description: "usage: /hangup") }
            return .hangUp
        case "/send":
            guard !rest.isEmpty else { throw ParseError(description: "usage: /send PATH (a file to send to the other person)") }
            return .send(path: rest)
        case "/add":
            guard (1...2).contains(arguments.count) else { throw ParseError(description: "usage: /add NAME [DEVICE_ID] (no ID: the device you are talking to)") }
            return .add(name: arguments[0], device: arguments.count == 2 ? arguments[1] : nil)
        case "/contacts":
            return .contacts
        case "/id":
            return .id
        case "/help", "/?":
            return .help
        case "/quit", "/exit":
            return .quit
        default:
            throw ParseError(description: "unknown command \(verb.prefix(24)); /help lists the commands")
        }
    }

    /// What /help shows, one line each.
    public static let helpLines: [String] = [
        "/call NAME [code]   call a contact (no code: you are asked; Enter for none, then compare the SAS)",
        "/hangup             end the call",
        "/send PATH          send a file to the other person (progress in the status line)",
        "/add NAME [ID]      add a contact for this session (not saved: put contact = NAME ID in --config)",
        "/contacts           list contacts with their device IDs and presence",
        "/id                 show your own device ID (give it to the people who call you)",
        "/quit               hang up and leave (also Ctrl-C, or Ctrl-D on an empty line)",
        "text                sends a message (//text sends \"/text\"); PgUp/PgDn scroll, ↑/↓ history",
    ]
}
