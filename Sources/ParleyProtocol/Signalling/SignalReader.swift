import ParleyCrypto

/// Bounded big-endian reader of one signalling message. Every read checks the
/// remaining length first and throws `SignalCodecError` instead of trapping; a
/// length-prefixed field's declared length is checked against its limit before
/// its bytes are looked for.
struct SignalReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    private var remaining: Int { bytes.count - offset }

    private func require(_ count: Int, _ what: String) throws(SignalCodecError) {
        guard remaining >= count else {
            throw .malformed("truncated: \(what) needs \(count) bytes, \(remaining) left")
        }
    }

    mutating func uint8(_ what: String) throws(SignalCodecError) -> UInt8 {
        try require(1, what)
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func uint16(_ what: String) throws(SignalCodecError) -> UInt16 {
        UInt16(truncatingIfNeeded: try uint(2, what))
    }

    mutating func uint32(_ what: String) throws(SignalCodecError) -> UInt32 {
        UInt32(truncatingIfNeeded: try uint(4, what))
    }

    mutating func uint64(_ what: String) throws(SignalCodecError) -> UInt64 {
        try uint(8, what)
    }

    private mutating func uint(_ count: Int, _ what: String) throws(SignalCodecError) -> UInt64 {
        try require(count, what)
        var value: UInt64 = 0
        for index in offset..<offset + count { value = value << 8 | UInt64(bytes[index]) }
        offset += count
        return value
    }

    mutating func bytes(_ count: Int, _ what: String) throws(SignalCodecError) -> [UInt8] {
        try require(count, what)
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    mutating func deviceID(_ what: String) throws(SignalCodecError) -> DeviceID {
        let raw = try bytes(DeviceID.byteCount, what)
        guard let id = try? DeviceID(rawBytes: raw) else { throw .malformed("\(what) is not a device ID") }
        return id
    }

    mutating func callID() throws(SignalCodecError) -> CallID {
        let raw = try bytes(CallID.byteCount, "call ID")
        guard let id = try? CallID(bytes: raw) else { throw .malformed("call ID is not 16 bytes") }
        return id
    }

    /// lv8 UTF-8 text of `minBytes...maxBytes` bytes.
    mutating func string(_ what: String, minBytes: Int = 0, maxBytes: Int) throws(SignalCodecError) -> String {
        let count = Int(try uint8("\(what) length"))
        guard count <= maxBytes else { throw .malformed("\(what) of \(count) bytes exceeds the limit of \(maxBytes)") }
        guard count >= minBytes else { throw .malformed("\(what) of \(count) bytes is shorter than \(minBytes)") }
        try require(count, what)
        defer { offset += count }
        guard let text = String(validating: bytes[offset..<offset + count], as: UTF8.self) else {
            throw .malformed("\(what) is not valid UTF-8")
        }
        return text
    }

    /// lv16 opaque payload of at most `maxBytes` bytes.
    mutating func payload(maxBytes: Int) throws(SignalCodecError) -> [UInt8] {
        let count = Int(try uint16("payload length"))
        guard count <= maxBytes else { throw .tooLarge("payload length", limit: maxBytes, actual: count) }
        return try bytes(count, "payload")
    }

    /// Throws unless every byte was consumed: trailing bytes are an error, not ignored.
    func expectEnd(_ what: SignalType) throws(SignalCodecError) {
        guard remaining == 0 else { throw .malformed("\(remaining) trailing bytes after \(what)") }
    }
}
