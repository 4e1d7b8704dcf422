/// The input line: characters, a cursor, and the usual editing keys.
public struct LineEditor: Equatable, Sendable {
    public private(set) var characters: [Character] = []
    /// Index in `characters` where the next character goes.
    public private(set) var cursor = 0
    /// Longest line accepted, in characters (a message is far smaller than the channel's limit).
    public static let maxLength = 4000

    public init() {}

    public var text: String { String(characters) }
    public var isEmpty: Bool { characters.isEmpty }

    /// Replaces the line (history recall) and puts the cursor at its end.
    public mutating func set(_ text: String) {
        characters = Array(text.prefix(Self.maxLength))
        cursor = characters.count
    }

    /// Clears the line, overwriting nothing else (the line is a value; its storage goes
    /// with it).
    public mutating func clear() {
        characters.removeAll()
        cursor = 0
    }

    /// Applies an editing key; false when the key is not an editing key.
    public mutating func apply(_ key: Key) -> Bool {
        switch key {
        case let .character(character):
            guard characters.count < Self.maxLength, TerminalText.sanitize(String(character)) == String(character) else { return true }
            characters.insert(character, at: cursor)
            cursor += 1
        case .backspace:
            if cursor > 0 {
                characters.remove(at: cursor - 1)
                cursor -= 1
            }
        case .delete, .control("d"):
            if cursor < characters.count { characters.remove(at: cursor) }
        case .left, .control("b"):
            cursor = max(0, cursor - 1)
        case .right, .control("f"):
            cursor = min(characters.count, cursor + 1)
        case .home, .control("a"):
            cursor = 0
        case .end, .control("e"):
            cursor = characters.count
        case .control("u"):
            characters.removeSubrange(0..<cursor)
            cursor = 0
        case .control("k"):
            characters.removeSubrange(cursor...)
        case .control("w"):
            var start = cursor
            while start > 0, characters[start - 1] == " " { start -= 1 }
            while start > 0, characters[start - 1] != " " { start -= 1 }
            characters.removeSubrange(start..<cursor)
            cursor = start
        default:
            return false
        }
        return true
    }
}
