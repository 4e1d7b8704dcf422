import ParleyCrypto

/// A JSON value whose objects keep their keys in the order they were written,
/// so the vector file is byte-for-byte stable between runs. Output only: the
/// tool never parses JSON, and the core it links must not pull in Foundation.
enum JSON {
    case string(String)
    case integer(Int)
    case null
    case array([JSON])
    case object([(String, JSON)])

    /// Lowercase hex of public bytes (the encoding every byte string in the file uses).
    static func hex(_ bytes: [UInt8]) -> JSON { .string(Hex.encode(bytes)) }

    /// Pretty-printed with two-space indentation and a final newline.
    var rendered: String {
        var text = ""
        render(into: &text, indent: 0)
        text.append("\n")
        return text
    }

    private func render(into text: inout String, indent: Int) {
        switch self {
        case let .string(value):
            JSON.appendQuoted(value, to: &text)
        case let .integer(value):
            text.append(String(value))
        case .null:
            text.append("null")
        case let .array(elements):
            guard !elements.isEmpty else { return text.append("[]") }
            text.append("[\n")
            for (index, element) in elements.enumerated() {
                text.append(JSON.spaces(indent + 1))
                element.render(into: &text, indent: indent + 1)
                text.append(index == elements.count - 1 ? "\n" : ",\n")
            }
            text.append(JSON.spaces(indent) + "]")
        case let .object(members):
            guard !members.isEmpty else { return text.append("{}") }
            text.append("{\n")
            for (index, (key, value)) in members.enumerated() {
                text.append(JSON.spaces(indent + 1))
                JSON.appendQuoted(key, to: &text)
                text.append(": ")
                value.render(into: &text, indent: indent + 1)
                text.append(index == members.count - 1 ? "\n" : ",\n")
            }
            text.append(JSON.spaces(indent) + "}")
        }
    }

    private static func spaces(_ level: Int) -> String { String(repeating: "  ", count: level) }

    /// RFC 8259 string escaping: quote, backslash, control characters, and every
    /// scalar outside printable ASCII as \uXXXX (UTF-16, surrogate pairs above
    /// U+FFFF), so the file is plain ASCII and invisible characters stay visible.
    private static func appendQuoted(_ value: String, to text: inout String) {
        text.append("\"")
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": text.append("\\\"")
            case "\\": text.append("\\\\")
            case "\n": text.append("\\n")
            case "\r": text.append("\\r")
            case "\t": text.append("\\t")
            case _ where scalar.value < 0x20 || scalar.value > 0x7e:
                for unit in String(scalar).utf16 {
                    let digits = String(unit, radix: 16)
                    text.append("\\u" + String(repeating: "0", count: 4 - digits.count) + digits)
                }
            default:
                text.unicodeScalars.append(scalar)
            }
        }
        text.append("\"")
    }
}
