/// The two packet kinds of the reliable channel: the plaintext payloads of `.messageData`
/// and `.messageAck` frames (layouts in Signalling/spec-drafts/reliable.md, "Packets").
/// Decoders are total: any byte string either decodes or throws `malformedPacket`.

/// A `.messageData` payload: packet number | stream offset | stream bytes.
public struct ReliableDataHeader: Equatable, Sendable {
    /// Never reused: a retransmission of the same bytes gets a new number.
    public var packetNumber: UInt64
    /// Stream offset of the first byte carried.
    public var offset: UInt64
    /// Stream bytes carried (0 for a probe that only asks for an ack).
    public var length: Int

    public init(packetNumber: UInt64, offset: UInt64, length: Int) {
        self.packetNumber = packetNumber
        self.offset = offset
        self.length = length
    }

    /// Offset just past the carried bytes.
    public var end: UInt64 { offset + UInt64(length) }

    /// Reads the header of a data payload; the stream bytes follow at `dataHeaderBytes`.
    public static func decode(_ payload: UnsafeRawBufferPointer) throws(ReliableError) -> ReliableDataHeader {
        guard payload.count >= ReliableConstants.dataHeaderBytes else {
            throw .malformedPacket("data packet of \(payload.count) bytes is shorter than its \(ReliableConstants.dataHeaderBytes)-byte header")
        }
        guard payload.count <= ReliableConstants.maxFramePayloadBytes else {
            throw .malformedPacket("data packet of \(payload.count) bytes exceeds the frame payload limit \(ReliableConstants.maxFramePayloadBytes)")
        }
        let length = payload.count - ReliableConstants.dataHeaderBytes
        let header = ReliableDataHeader(packetNumber: WireBytes.u48(payload, at: 0), offset: WireBytes.u48(payload, at: 6), length: length)
        guard header.end < ReliableConstants.sequenceLimit else {
            throw .malformedPacket("data packet ends at stream offset \(header.end), beyond the u48 offset space")
        }
        return header
    }

    /// Writes the 12-byte header at the start of `buffer`.
    public func encode(into buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count >= ReliableConstants.dataHeaderBytes)
        WireBytes.putU48(packetNumber, into: buffer, at: 0)
        WireBytes.putU48(offset, into: buffer, at: 6)
    }
}

/// A range of acknowledged packet numbers, `low...high`.
public struct AckRange: Equatable, Sendable {
    public var low: UInt64
    public var high: UInt64

    public init(low: UInt64, high: UInt64) {
        self.low = low
        self.high = high
    }
}

/// A `.messageAck` payload.
public struct ReliableAckPacket: Equatable, Sendable {
    /// The largest packet number received (the high end of the first range).
    public var largest: UInt64 { ranges[0].high }
    /// Time from receiving `largest` to sending this ack, in microseconds.
    public var ackDelayMicroseconds: UInt32
    /// Every stream byte below this offset was received.
    public var receivedOffset: UInt64
    /// The peer may send stream bytes below this offset (flow-control credit).
    public var windowLimit: UInt64
    /// Received packet numbers, highest first, disjoint and not adjacent; 1...32 ranges.
    public var ranges: [AckRange]

    public init(ackDelayMicroseconds: UInt32, receivedOffset: UInt64, windowLimit: UInt64, ranges: [AckRange]) {
        self.ackDelayMicroseconds = ackDelayMicroseconds
        self.receivedOffset = receivedOffset
        self.windowLimit = windowLimit
        self.ranges = ranges
    }

    /// Encoded size with `rangeCount` ranges.
    public static func byteCount(rangeCount: Int) -> Int {
        ReliableConstants.ackFixedBytes + rangeCount * ReliableConstants.ackRangeBytes
    }

    public static func decode(_ payload: UnsafeRawBufferPointer) throws(ReliableError) -> ReliableAckPacket {
        var ranges: [AckRange] = []
        let fixed = try decode(payload, ranges: &ranges)
        return ReliableAckPacket(ackDelayMicroseconds: fixed.ackDelayMicroseconds, receivedOffset: fixed.receivedOffset,
                                 windowLimit: fixed.windowLimit, ranges: ranges)
    }

    /// Decodes into a caller's array (cleared first, capacity kept), so the channel's hot
    /// path does not allocate. Validates everything before returning.
    static func decode(_ payload: UnsafeRawBufferPointer, ranges: inout [AckRange]) throws(ReliableError)
        -> (ackDelayMicroseconds: UInt32, receivedOffset: UInt64, windowLimit: UInt64) {
        ranges.removeAll(keepingCapacity: true)
        guard payload.count >= ReliableConstants.ackFixedBytes else {
            throw .malformedPacket("ack of \(payload.count) bytes is shorter than its \(ReliableConstants.ackFixedBytes)-byte fixed part")
        }
        let count = Int(payload[22])
        guard count >= 1, count <= ReliableConstants.maxAckRanges else {
            throw .malformedPacket("ack range count \(count) is outside 1...\(ReliableConstants.maxAckRanges)")
        }
        guard payload.count == byteCount(rangeCount: count) else {
            throw .malformedPacket("ack with \(count) ranges must be \(byteCount(rangeCount: count)) bytes, not \(payload.count)")
        }
        let received = WireBytes.u48(payload, at: 10), limit = WireBytes.u48(payload, at: 16)
        guard limit >= received else {
            throw .malformedPacket("ack window limit \(limit) is below its received offset \(received)")
        }
        var high = WireBytes.u48(payload, at: 0)
        for index in 0..<count {
            let at = ReliableConstants.ackFixedBytes + index * ReliableConstants.ackRangeBytes
            let gap = UInt64(WireBytes.u32(payload, at: at)), length = UInt64(WireBytes.u32(payload, at: at + 4))
            if index == 0 {
                guard gap == 0 else { throw .malformedPacket("the first ack range has gap \(gap); it must be 0") }
            } else {
                guard gap >= 1 else { throw .malformedPacket("ack range \(index) has gap 0: adjacent ranges must be merged") }
                let below = ranges[index - 1].low
                guard below >= gap + 1 else { throw .malformedPacket("ack range \(index) lies below packet number 0") }
                high = below - gap - 1
            }
            guard length >= 1 else { throw .malformedPacket("ack range \(index) is empty") }
            guard high + 1 >= length else { throw .malformedPacket("ack range \(index) lies below packet number 0") }
            ranges.append(AckRange(low: high + 1 - length, high: high))
        }
        return (WireBytes.u32(payload, at: 6), received, limit)
    }

    /// Writes the ack into `buffer` and returns its length. The ranges must be valid
    /// (highest first, separated by at least one missing number, 1...32 of them).
    @discardableResult
    public func encode(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        precondition(!ranges.isEmpty && ranges.count <= ReliableConstants.maxAckRanges)
        let total = ReliableAckPacket.byteCount(rangeCount: ranges.count)
        precondition(buffer.count >= total)
        WireBytes.putU48(ranges[0].high, into: buffer, at: 0)
        WireBytes.putU32(ackDelayMicroseconds, into: buffer, at: 6)
        WireBytes.putU48(receivedOffset, into: buffer, at: 10)
        WireBytes.putU48(windowLimit, into: buffer, at: 16)
        buffer[22] = UInt8(ranges.count)
        for (index, range) in ranges.enumerated() {
            let at = ReliableConstants.ackFixedBytes + index * ReliableConstants.ackRangeBytes
            let gap = index == 0 ? 0 : ranges[index - 1].low - range.high - 1
            WireBytes.putU32(UInt32(gap), into: buffer, at: at)
            WireBytes.putU32(UInt32(range.high - range.low + 1), into: buffer, at: at + 4)
        }
        return total
    }

    /// The encoded bytes.
    public func encoded() -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: ReliableAckPacket.byteCount(rangeCount: ranges.count)) { buffer, count in
            count = encode(into: UnsafeMutableRawBufferPointer(buffer))
        }
    }
}

/// Big-endian reads and writes at fixed offsets (callers check the bounds first).
enum WireBytes {
    @inline(__always)
    static func u48(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in offset..<offset + 6 { value = value << 8 | UInt64(bytes[index]) }
        return value
    }

    @inline(__always)
    static func u32(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }

    @inline(__always)
    static func u64(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt64 {
        UInt64(u32(bytes, at: offset)) << 32 | UInt64(u32(bytes, at: offset + 4))
    }

    @inline(__always)
    static func putU48(_ value: UInt64, into bytes: UnsafeMutableRawBufferPointer, at offset: Int) {
        for index in 0..<6 { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (40 - 8 * index)) }
    }

    @inline(__always)
    static func putU32(_ value: UInt32, into bytes: UnsafeMutableRawBufferPointer, at offset: Int) {
        for index in 0..<4 { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (24 - 8 * index)) }
    }

    @inline(__always)
    static func putU64(_ value: UInt64, into bytes: UnsafeMutableRawBufferPointer, at offset: Int) {
        putU32(UInt32(truncatingIfNeeded: value >> 32), into: bytes, at: offset)
        putU32(UInt32(truncatingIfNeeded: value), into: bytes, at: offset + 4)
    }
}
