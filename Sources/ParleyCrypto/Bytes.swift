/// Bounded big-endian reader over wire bytes. Every read checks the remaining
/// length first and throws `CryptoError.malformed` instead of trapping.
public struct ByteReader {
    private let bytes: [UInt8]
    private(set) var offset: Int

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.offset = 0
    }

    public var remaining: Int { bytes.count - offset }

    public mutating func readByte(_ what: String) throws -> UInt8 {
        try require(1, what)
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func readBytes(_ count: Int, _ what: String) throws -> [UInt8] {
        try require(count, what)
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    public mutating func readUInt16(_ what: String) throws -> UInt16 {
        try require(2, what)
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    public mutating func readUInt32(_ what: String) throws -> UInt32 {
        try require(4, what)
        var value: UInt32 = 0
        for index in 0..<4 { value = value << 8 | UInt32(bytes[offset + index]) }
        offset += 4
        return value
    }

    public mutating func readUInt64(_ what: String) throws -> UInt64 {
        try require(8, what)
        var value: UInt64 = 0
        for index in 0..<8 { value = value << 8 | UInt64(bytes[offset + index]) }
        offset += 8
        return value
    }

    /// Throws unless every byte was consumed: trailing bytes are an error, not ignored.
    public func expectEnd(_ what: String) throws {
        guard remaining == 0 else {
            throw CryptoError.malformed("\(remaining) trailing bytes after \(what)")
        }
    }

    private func require(_ count: Int, _ what: String) throws {
        guard count >= 0, remaining >= count else {
            throw CryptoError.malformed("truncated: \(what) needs \(count) bytes, \(remaining) left")
        }
    }
}

extension Array where Element == UInt8 {
    mutating func appendUInt16(_ value: UInt16) {
        append(UInt8(value >> 8))
        append(UInt8(truncatingIfNeeded: value))
    }

    mutating func appendUInt32(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) { append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    mutating func appendUInt64(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }
}

/// Lowercase hexadecimal, for test vectors, fingerprints and logs of public values.
public enum Hex {
    public static func encode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let digits: [Character] = Array("0123456789abcdef")
        var text = ""
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return text
    }

    /// Decodes hex (either case, whitespace ignored). Returns nil on any other character
    /// or an odd number of digits.
    public static func decode(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count / 2)
        var high: UInt8?
        for char in text.utf8 {
            let nibble: UInt8
            switch char {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = char - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = char - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = char - UInt8(ascii: "A") + 10
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\t"), UInt8(ascii: "\r"): continue
            default: return nil
            }
            if let pending = high {
                bytes.append(pending << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        return high == nil ? bytes : nil
    }
}
