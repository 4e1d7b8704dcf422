/// Every failure of media packetizing and reassembly, with a stable numeric code
/// (Signalling/spec-drafts/media.md, "Error codes") and a message a person can act on.
/// Messages name fields, sizes and numbers, never payload bytes.
public enum MediaError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The payload came with a frame type that is not audio or video.
    case notMediaFrameType(UInt8)
    /// The fragment is shorter than its header.
    case truncatedHeader(needed: Int, actual: Int)
    /// The reserved bit of the payload-type byte is set.
    case reservedBitSet
    /// A fragmented frame's fragment count is outside 2...maxFragments.
    case invalidFragmentCount(Int)
    /// The fragment index is not below the fragment count.
    case invalidFragmentIndex(index: Int, count: Int)
    /// The total length and fragment count do not split into non-empty fragments.
    case invalidFrameLayout(totalLength: Int, fragmentCount: Int)
    /// The fragment's media bytes differ from the length its index and header imply.
    case fragmentLengthMismatch(index: Int, expected: Int, actual: Int)
    /// The fragment (header and media) is larger than a frame payload may be.
    case fragmentTooLarge(limit: Int, actual: Int)
    /// A frame is larger than its kind allows.
    case frameTooLarge(kind: MediaFrameKind, limit: Int, actual: Int)
    /// The stream number is outside 0...31.
    case streamOutOfRange(Int)
    /// The payload type is outside 0...127.
    case payloadTypeOutOfRange(Int)
    /// The stream already carries the other kind (an m-line has one media kind).
    case streamKindMismatch(stream: Int, established: MediaFrameKind, actual: MediaFrameKind)
    /// The packetizer's plaintext budget is outside minPacketPayload...maxPacketPayload.
    case packetBudgetOutOfRange(budget: Int, minimum: Int, maximum: Int)
    /// At this budget the frame needs more than maxFragments fragments.
    case tooManyFragments(needed: Int, limit: Int)

    /// Stable numeric code for logs and the C API.
    public var code: Int {
        switch self {
        case .notMediaFrameType: return 6001
        case .truncatedHeader: return 6002
        case .reservedBitSet: return 6003
        case .invalidFragmentCount: return 6004
        case .invalidFragmentIndex: return 6005
        case .invalidFrameLayout: return 6006
        case .fragmentLengthMismatch: return 6007
        case .fragmentTooLarge: return 6008
        case .frameTooLarge: return 6009
        case .streamOutOfRange: return 6010
        case .payloadTypeOutOfRange: return 6011
        case .streamKindMismatch: return 6012
        case .packetBudgetOutOfRange: return 6013
        case .tooManyFragments: return 6014
        }
    }

    public var description: String {
        switch self {
        case let .notMediaFrameType(type):
            return "frame type \(type) is not audio (1) or video (2); route it to its own handler"
        case let .truncatedHeader(needed, actual):
            return "media fragment of \(actual) bytes is shorter than its \(needed)-byte header"
        case .reservedBitSet:
            return "media fragment has the reserved bit set (a newer header format this receiver does not speak)"
        case let .invalidFragmentCount(count):
            return "fragment count \(count) is outside 2...\(MediaLimits.maxFragments)"
        case let .invalidFragmentIndex(index, count):
            return "fragment index \(index) is not below the fragment count \(count)"
        case let .invalidFrameLayout(totalLength, fragmentCount):
            return "a frame of \(totalLength) bytes cannot be split into \(fragmentCount) non-empty fragments"
        case let .fragmentLengthMismatch(index, expected, actual):
            return "fragment \(index) carries \(actual) media bytes, its header implies \(expected)"
        case let .fragmentTooLarge(limit, actual):
            return "media fragment of \(actual) bytes exceeds the frame payload limit of \(limit) bytes"
        case let .frameTooLarge(kind, limit, actual):
            return "\(kind) frame of \(actual) bytes exceeds the limit of \(limit) bytes"
        case let .streamOutOfRange(stream):
            return "stream \(stream) is outside 0...\(MediaLimits.maxStreams - 1)"
        case let .payloadTypeOutOfRange(payloadType):
            return "payload type \(payloadType) is outside 0...\(MediaLimits.maxPayloadType)"
        case let .streamKindMismatch(stream, established, actual):
            return "stream \(stream) carries \(established), not \(actual): use the stream of the \(actual) m-line"
        case let .packetBudgetOutOfRange(budget, minimum, maximum):
            return "packet budget of \(budget) bytes is outside \(minimum)...\(maximum)"
        case let .tooManyFragments(needed, limit):
            return "the frame needs \(needed) fragments at this packet budget, more than the limit of \(limit); raise the budget or shrink the frame"
        }
    }
}
