/// An IPv4 or IPv6 address literal as it appears in SDP (`c=`, candidate addresses).
///
/// Parsing is strict: IPv4 is four decimal octets without leading zeros; IPv6 is the
/// RFC 4291 text form (hex groups, at most one `::`, an optional dotted IPv4 tail), without
/// a zone (`%eth0`) or brackets. `text` writes the form glibc's `inet_ntop` writes (RFC 5952:
/// lowercase, the longest run of two or more zero groups shortened to `::`, the first one on
/// a tie; `::ffff:a.b.c.d` and `::a.b.c.d` for IPv4-mapped and -compatible addresses), so
/// an address libnice printed comes back byte for byte.
public struct CandidateAddress: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// 4 bytes for IPv4, 16 for IPv6, network order.
    public let bytes: [UInt8]

    public var isIPv6: Bool { bytes.count == 16 }

    /// Parses an IPv4 or IPv6 literal; nil for anything else (names included).
    public init?<S: StringProtocol>(_ text: S) {
        let utf8 = Array(text.utf8)
        guard !utf8.isEmpty, utf8.count <= 45 else { return nil }
        if utf8.contains(UInt8(ascii: ":")) {
            guard let bytes = CandidateAddress.parseIPv6(utf8) else { return nil }
            self.bytes = bytes
        } else {
            guard let bytes = CandidateAddress.parseIPv4(utf8[...]) else { return nil }
            self.bytes = bytes
        }
    }

    /// An IPv4 (4 bytes) or IPv6 (16 bytes) address; nil for any other length.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    public var text: String {
        isIPv6 ? CandidateAddress.formatIPv6(bytes) : CandidateAddress.formatIPv4(bytes[...])
    }

    public var description: String { text }

    // MARK: IPv4

    static func parseIPv4(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        let parts = text.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy(SDPText.isDigit),
                  part.count == 1 || part.first != UInt8(ascii: "0") else { return nil }
            let value = part.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
            guard value <= 255 else { return nil }
            bytes.append(UInt8(value))
        }
        return bytes
    }

    static func formatIPv4(_ bytes: ArraySlice<UInt8>) -> String {
        bytes.map { String($0) }.joined(separator: ".")
    }

    // MARK: IPv6

    static func parseIPv6(_ text: [UInt8]) -> [UInt8]? {
        let colon = UInt8(ascii: ":")
        // Split around the one "::" allowed.
        var head = text[...]
        var tail: ArraySlice<UInt8>? = nil
        if let index = (0..<max(0, text.count - 1)).first(where: { text[$0] == colon && text[$0 + 1] == colon }) {
            head = text[..<index]
            tail = text[(index + 2)...]
        }
        guard let headWords = parseGroups(head, allowIPv4Tail: tail == nil) else { return nil }
        var words: [UInt16]
        if let tail {
            guard let tailWords = parseGroups(tail, allowIPv4Tail: true), headWords.count + tailWords.count <= 7 else { return nil }
            words = headWords + [UInt16](repeating: 0, count: 8 - headWords.count - tailWords.count) + tailWords
        } else {
            guard headWords.count == 8 else { return nil }
            words = headWords
        }
        return words.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
    }

    /// Colon-separated hex groups (possibly none), the last of which may be a dotted IPv4
    /// address (two groups). Empty groups (a stray or third colon) fail.
    private static func parseGroups(_ text: ArraySlice<UInt8>, allowIPv4Tail: Bool) -> [UInt16]? {
        if text.isEmpty { return [] }
        let groups = text.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        var words: [UInt16] = []
        for (index, group) in groups.enumerated() {
            if index == groups.count - 1, group.contains(UInt8(ascii: ".")) {
                guard allowIPv4Tail, let v4 = parseIPv4(group) else { return nil }
                words.append(UInt16(v4[0]) << 8 | UInt16(v4[1]))
                words.append(UInt16(v4[2]) << 8 | UInt16(v4[3]))
                continue
            }
            guard (1...4).contains(group.count) else { return nil }
            var value: UInt16 = 0
            for byte in group {
                guard let digit = SDPText.hexValue(byte) else { return nil }
                value = value << 4 | UInt16(digit)
            }
            words.append(value)
        }
        return words
    }

    static func formatIPv6(_ bytes: [UInt8]) -> String {
        let words = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
        // Longest run of zero words (first on a tie); runs of one are not shortened.
        var best = (start: -1, count: 0)
        var index = 0
        while index < 8 {
            if words[index] == 0 {
                var end = index
                while end < 8 && words[end] == 0 { end += 1 }
                if end - index > best.count { best = (index, end - index) }
                index = end
            } else {
                index += 1
            }
        }
        if best.count < 2 { best = (-1, 0) }
        var text = ""
        index = 0
        while index < 8 {
            if index == best.start {
                text += "::"
                index += best.count
                continue
            }
            // An IPv4 tail after "::" (IPv4-compatible, or ::ffff: IPv4-mapped), as inet_ntop writes it.
            if index == 6, best.start == 0, best.count == 6 || (best.count == 5 && words[5] == 0xffff) {
                text += (text.hasSuffix(":") ? "" : ":") + formatIPv4(bytes[12...])
                break
            }
            if !text.isEmpty && !text.hasSuffix(":") { text += ":" }
            text += String(words[index], radix: 16)
            index += 1
        }
        return text
    }
}
