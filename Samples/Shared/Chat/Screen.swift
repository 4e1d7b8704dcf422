/// How a run of text looks. The renderer turns these into SGR escapes; nothing else
/// produces escapes, and the text of a span is never interpreted by the terminal.
public struct TextStyle: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let bold = TextStyle(rawValue: 1 << 0)
    public static let dim = TextStyle(rawValue: 1 << 1)
    public static let inverse = TextStyle(rawValue: 1 << 2)
    public static let red = TextStyle(rawValue: 1 << 3)
    public static let green = TextStyle(rawValue: 1 << 4)
    public static let yellow = TextStyle(rawValue: 1 << 5)
    public static let cyan = TextStyle(rawValue: 1 << 6)
}

/// A run of text in one style.
public struct Span: Equatable, Sendable {
    public var text: String
    public var style: TextStyle

    public init(_ text: String, _ style: TextStyle = []) {
        self.text = text
        self.style = style
    }
}

/// One row of the screen, exactly as wide as the screen.
public struct ScreenLine: Equatable, Sendable {
    public var spans: [Span]

    public init(_ spans: [Span]) { self.spans = spans }

    /// The characters of the row without styles.
    public var text: String { spans.map(\.text).joined() }
}

/// A whole frame: one line per row and where the cursor goes (nil: hidden).
public struct Screen: Equatable, Sendable {
    public var lines: [ScreenLine]
    public var cursor: (row: Int, column: Int)?

    public init(lines: [ScreenLine], cursor: (row: Int, column: Int)?) {
        self.lines = lines
        self.cursor = cursor
    }

    public static func == (lhs: Screen, rhs: Screen) -> Bool {
        lhs.lines == rhs.lines && lhs.cursor?.row == rhs.cursor?.row && lhs.cursor?.column == rhs.cursor?.column
    }

    /// The bytes that draw this frame over the previous one: every row rewritten from
    /// column 1 and cleared to its end, inside a synchronized update so the terminal
    /// shows the frame at once.
    public func ansi() -> String {
        var out = "\u{1B}[?2026h\u{1B}[?25l"
        for (row, line) in lines.enumerated() {
            out += "\u{1B}[\(row + 1);1H"
            for span in line.spans {
                let codes = Self.sgr(span.style)
                if codes.isEmpty {
                    out += span.text
                } else {
                    out += "\u{1B}[\(codes)m" + span.text + "\u{1B}[0m"
                }
            }
            out += "\u{1B}[K"
        }
        if let cursor {
            out += "\u{1B}[\(cursor.row + 1);\(cursor.column + 1)H\u{1B}[?25h"
        }
        return out + "\u{1B}[?2026l"
    }

    private static func sgr(_ style: TextStyle) -> String {
        var codes: [String] = []
        if style.contains(.bold) { codes.append("1") }
        if style.contains(.dim) { codes.append("2") }
        if style.contains(.inverse) { codes.append("7") }
        if style.contains(.red) { codes.append("31") }
        if style.contains(.green) { codes.append("32") }
        if style.contains(.yellow) { codes.append("33") }
        if style.contains(.cyan) { codes.append("36") }
        return codes.joined(separator: ";")
    }
}
