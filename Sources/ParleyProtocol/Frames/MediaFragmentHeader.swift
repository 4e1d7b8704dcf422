import ParleyCrypto

/// The header in front of every audio and video fragment (spec-drafts/media.md,
/// "Fragment header"). All integers big-endian.
///
///     0      bit 7 F fragmented, bit 6 K keyframe, bit 5 M marker, bits 4-0 stream
///     1      bit 7 reserved (0), bits 6-0 payload type
///     2..4   sequence, u16
///     4..8   timestamp, u32
///     -- only when F = 1 --
///     8..11  total length of the frame, u24
///     11..13 fragment index, u16
///     13..15 fragment count, u16 (2...1024)
///
/// A frame of total length T in c fragments is cut in fragments of `s = ceil(T / c)`
/// bytes, the last one taking the rest; every fragment is non-empty. So the header
/// alone tells where a fragment's bytes go, whatever order fragments arrive in.
public struct MediaFragmentHeader: Equatable, Sendable {
    public var stream: UInt8
    public var payloadType: UInt8
    public var sequence: UInt16
    public var timestamp: UInt32
    public var flags: MediaFlags
    /// The whole frame's length (the media bytes of this fragment when `count` is 1).
    public var totalLength: Int
    /// 0 ..< count.
    public var index: Int
    /// 1 for a frame sent whole (the 8-byte form), 2...maxFragments otherwise.
    public var count: Int

    public init(stream: UInt8, payloadType: UInt8, sequence: UInt16, timestamp: UInt32, flags: MediaFlags,
                totalLength: Int, index: Int, count: Int) {
        self.stream = stream
        self.payloadType = payloadType
        self.sequence = sequence
        self.timestamp = timestamp
        self.flags = flags
        self.totalLength = totalLength
        self.index = index
        self.count = count
    }

    private static let fragmentedBit: UInt8 = 0x80
    private static let keyframeBit: UInt8 = 0x40
    private static let markerBit: UInt8 = 0x20
    private static let streamMask: UInt8 = 0x1f
    private static let reservedBit: UInt8 = 0x80

    /// Header bytes: 8 for a whole frame, 15 for a fragment.
    public var byteCount: Int { count > 1 ? MediaLimits.fragmentHeaderCount : MediaLimits.singleHeaderCount }

    /// Bytes per fragment except the last: `ceil(total / count)`.
    static func fragmentSize(totalLength: Int, count: Int) -> Int {
        count > 1 ? (totalLength + count - 1) / count : totalLength
    }

    /// Where this fragment's media bytes sit in the frame (empty at the end of the
    /// frame for an index past the data of a layout `parse` would refuse).
    public var mediaRange: Range<Int> {
        let total = max(0, totalLength)
        let size = MediaFragmentHeader.fragmentSize(totalLength: total, count: count)
        let start = max(0, min(index * size, total))
        return start ..< min(start + size, total)
    }

    /// Parses and checks a fragment (header and media), in the order of the spec's
    /// receiver steps 2 to 10. `kind` comes from the frame type it arrived as.
    public static func parse(_ fragment: UnsafeRawBufferPointer, kind: MediaFrameKind) throws(MediaError) -> MediaFragmentHeader {
        guard fragment.count <= SpecConstants.frameMaxPayload else {
            throw .fragmentTooLarge(limit: SpecConstants.frameMaxPayload, actual: fragment.count)
        }
        guard fragment.count >= MediaLimits.singleHeaderCount else {
            throw .truncatedHeader(needed: MediaLimits.singleHeaderCount, actual: fragment.count)
        }
        let first = fragment[0], second = fragment[1]
        guard second & reservedBit == 0 else { throw .reservedBitSet }
        var header = MediaFragmentHeader(
            stream: first & streamMask, payloadType: second,
            sequence: UInt16(fragment[2]) << 8 | UInt16(fragment[3]),
            timestamp: UInt32(fragment[4]) << 24 | UInt32(fragment[5]) << 16 | UInt32(fragment[6]) << 8 | UInt32(fragment[7]),
            flags: MediaFlags(rawValue: (first & keyframeBit != 0 ? MediaFlags.keyframe.rawValue : 0)
                                        | (first & markerBit != 0 ? MediaFlags.marker.rawValue : 0)),
            totalLength: fragment.count - MediaLimits.singleHeaderCount, index: 0, count: 1)
        let limit = MediaLimits.maxFrameBytes(kind)
        guard first & fragmentedBit != 0 else {
            guard header.totalLength <= limit else { throw .frameTooLarge(kind: kind, limit: limit, actual: header.totalLength) }
            return header
        }
        guard fragment.count >= MediaLimits.fragmentHeaderCount else {
            throw .truncatedHeader(needed: MediaLimits.fragmentHeaderCount, actual: fragment.count)
        }
        header.totalLength = Int(fragment[8]) << 16 | Int(fragment[9]) << 8 | Int(fragment[10])
        header.index = Int(fragment[11]) << 8 | Int(fragment[12])
        header.count = Int(fragment[13]) << 8 | Int(fragment[14])
        guard (2...MediaLimits.maxFragments).contains(header.count) else { throw .invalidFragmentCount(header.count) }
        guard header.index < header.count else { throw .invalidFragmentIndex(index: header.index, count: header.count) }
        guard header.totalLength <= limit else { throw .frameTooLarge(kind: kind, limit: limit, actual: header.totalLength) }
        let size = fragmentSize(totalLength: header.totalLength, count: header.count)
        guard (header.count - 1) * size < header.totalLength else {
            throw .invalidFrameLayout(totalLength: header.totalLength, fragmentCount: header.count)
        }
        let media = fragment.count - MediaLimits.fragmentHeaderCount
        guard media == header.mediaRange.count else {
            throw .fragmentLengthMismatch(index: header.index, expected: header.mediaRange.count, actual: media)
        }
        return header
    }

    /// Writes the header (8 or 15 bytes, `byteCount`) at the start of `buffer`.
    /// The caller guarantees the fields are in range and the buffer large enough.
    func write(into buffer: UnsafeMutableRawBufferPointer) {
        var first = stream & MediaFragmentHeader.streamMask
        if count > 1 { first |= MediaFragmentHeader.fragmentedBit }
        if flags.contains(.keyframe) { first |= MediaFragmentHeader.keyframeBit }
        if flags.contains(.marker) { first |= MediaFragmentHeader.markerBit }
        buffer[0] = first
        buffer[1] = payloadType & MediaLimits.maxPayloadType
        buffer[2] = UInt8(truncatingIfNeeded: sequence >> 8)
        buffer[3] = UInt8(truncatingIfNeeded: sequence)
        for byte in 0..<4 { buffer[4 + byte] = UInt8(truncatingIfNeeded: timestamp >> (24 - 8 * byte)) }
        guard count > 1 else { return }
        for byte in 0..<3 { buffer[8 + byte] = UInt8(truncatingIfNeeded: totalLength >> (16 - 8 * byte)) }
        buffer[11] = UInt8(truncatingIfNeeded: index >> 8)
        buffer[12] = UInt8(truncatingIfNeeded: index)
        buffer[13] = UInt8(truncatingIfNeeded: count >> 8)
        buffer[14] = UInt8(truncatingIfNeeded: count)
    }
}
