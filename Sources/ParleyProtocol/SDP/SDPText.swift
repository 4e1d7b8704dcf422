/// Character classes and small text helpers of the SDP grammar (ASCII only, no Foundation).
enum SDPText {
    static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// RFC 8866 token-char: visible ASCII except space, `"`, `(`, `)`, `,`, `/`, `:`, `;`, `<`-`@`, `[`-`]`.
    static func isTokenChar(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x21, 0x23...0x27, 0x2a, 0x2b, 0x2d, 0x2e, 0x30...0x39, 0x41...0x5a, 0x5e...0x7e: return true
        default: return false
        }
    }

    static func isToken<S: StringProtocol>(_ text: S) -> Bool { !text.utf8.isEmpty && text.utf8.allSatisfy(isTokenChar) }

    /// RFC 8839 ice-char: ALPHA / DIGIT / "+" / "/".
    static func isIceChar(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "+"), UInt8(ascii: "/"):
            return true
        default:
            return false
        }
    }

    /// Splits on single spaces; nil when a field is empty (double, leading or trailing space).
    static func spaceSeparated<S: StringProtocol>(_ text: S) -> [Substring]? {
        let fields = Substring(text).split(separator: " ", omittingEmptySubsequences: false)
        return fields.contains(where: \.isEmpty) ? nil : fields
    }

    /// ASCII-only lowercasing (SDP tokens are ASCII; no locale, no Foundation).
    static func lowercased<S: StringProtocol>(_ text: S) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { scalar in
            (0x41...0x5a).contains(scalar.value) ? Unicode.Scalar(UInt8(scalar.value + 0x20)) : scalar
        }))
    }

    /// A short, printable rendering of untrusted text for an error reason: at most 24
    /// characters, anything outside printable ASCII shown as `?`.
    static func quoted<S: StringProtocol>(_ text: S) -> String {
        var result = "\""
        for (index, scalar) in text.unicodeScalars.enumerated() {
            if index == 24 {
                result += "..."
                break
            }
            result.unicodeScalars.append((0x20..<0x7f).contains(scalar.value) ? scalar : "?")
        }
        return result + "\""
    }
}
