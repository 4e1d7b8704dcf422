/// Text made safe and measurable for a terminal. Everything a peer sends (messages, file
/// names) and everything read from a file passes through `sanitize` before it reaches the
/// screen: a hostile peer must not be able to move the cursor, retitle the window or
/// rewrite earlier lines with escape sequences.
public enum TerminalText {
    /// The character shown in place of one a terminal would interpret.
    public static let replacement: Character = "\u{FFFD}"

    /// `text` with every control character (C0, DEL, C1) and every bidirectional override
    /// or isolate replaced by U+FFFD, and tabs turned into a space. Line feeds are kept
    /// when `keepNewlines` (the caller splits on them), replaced otherwise.
    public static func sanitize(_ text: String, keepNewlines: Bool = false) -> String {
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x0A where keepNewlines: result.append(scalar)
            case 0x09: result.append(" ")
            case 0x00...0x1F, 0x7F...0x9F, 0x202A...0x202E, 0x2066...0x2069:
                result.append(contentsOf: String(replacement).unicodeScalars)
            default: result.append(scalar)
            }
        }
        return String(result)
    }

    /// The columns `character` takes on a terminal: 0 for combining marks and zero-width
    /// characters, 2 for East Asian wide characters and emoji, 1 otherwise.
    public static func width(_ character: Character) -> Int {
        let scalars = character.unicodeScalars
        guard let first = scalars.first else { return 0 }
        if scalars.contains(where: { $0.value == 0xFE0F }) { return 2 }
        return scalarWidth(first.value)
    }

    /// The columns `text` takes.
    public static func width(_ text: String) -> Int { text.reduce(0) { $0 + width($1) } }

    private static func scalarWidth(_ value: UInt32) -> Int {
        switch value {
        case 0x0300...0x036F, 0x200B...0x200D, 0x20D0...0x20FF, 0xFE00...0xFE0F: return 0
        case 0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF,
             0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60, 0xFFE0...0xFFE6,
             0x1F300...0x1F64F, 0x1F900...0x1F9FF, 0x20000...0x3FFFD:
            return 2
        default: return 1
        }
    }

    /// `text` cut to at most `columns` columns; a cut is marked with "…".
    public static func truncate(_ text: String, to columns: Int) -> String {
        guard columns > 0 else { return "" }
        guard width(text) > columns else { return text }
        var result = ""
        var used = 0
        for character in text {
            let next = width(character)
            if used + next > columns - 1 { break }
            result.append(character)
            used += next
        }
        return result + "…"
    }

    /// `text` cut or padded with spaces to exactly `columns` columns.
    public static func fit(_ text: String, to columns: Int) -> String {
        let cut = truncate(text, to: columns)
        return cut + String(repeating: " ", count: max(0, columns - width(cut)))
    }

    /// `text` broken into lines of at most `columns` columns: at spaces where possible,
    /// inside a word when the word alone is wider than a line. Never returns no line.
    public static func wrap(_ text: String, columns: Int) -> [String] {
        guard columns > 0 else { return [""] }
        var lines: [String] = []
        var line = ""
        var lineWidth = 0
        for word in text.split(separator: " ", omittingEmptySubsequences: false).map(String.init) {
            let wordWidth = width(word)
            let gap = line.isEmpty ? 0 : 1
            if lineWidth + gap + wordWidth <= columns {
                if gap == 1 { line.append(" ") }
                line += word
                lineWidth += gap + wordWidth
                continue
            }
            if !line.isEmpty {
                lines.append(line)
                line = ""
                lineWidth = 0
            }
            for character in word {
                let next = width(character)
                if lineWidth + next > columns, !line.isEmpty {
                    lines.append(line)
                    line = ""
                    lineWidth = 0
                }
                line.append(character)
                lineWidth += next
            }
        }
        lines.append(line)
        return lines
    }
}
