/// Audio or video: decides the frame type the fragments travel as and the largest frame.
public enum MediaFrameKind: Sendable, CaseIterable {
    case audio
    case video

    /// The frame type of this kind's fragments on the direct path.
    public var frameType: FrameType {
        switch self {
        case .audio: return .audio
        case .video: return .video
        }
    }

    /// The kind whose fragments travel as `type`, nil for any other type.
    public init?(frameType type: FrameType) {
        switch type {
        case .audio: self = .audio
        case .video: self = .video
        default: return nil
        }
    }
}

/// Per-frame flags, carried end to end and not interpreted by the transport. The
/// header has room for these two only: other bits of `rawValue` are dropped.
public struct MediaFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue & 0b11 }

    /// The frame can be decoded without earlier frames (video keyframe, IDR).
    public static let keyframe = MediaFlags(rawValue: 0b01)
    /// Codec-defined, as RTP's marker bit: end of a picture for video, first frame of
    /// a talkspurt for audio.
    public static let marker = MediaFlags(rawValue: 0b10)
}

/// One encoded audio or video frame (an Opus packet, an H.264 access unit, ...) as the
/// application hands it to `MediaPacketizer` and gets it back from `MediaReassembler`.
/// `description` shows metadata and the payload size, never payload bytes.
public struct MediaFrame: Equatable, Sendable, CustomStringConvertible {
    /// The media section: the SDP m-line index, 0...31.
    public var stream: UInt8
    public var kind: MediaFrameKind
    /// The negotiated codec's RTP payload type, 0...127.
    public var payloadType: UInt8
    /// Per-stream frame sequence number, +1 per frame, wrapping at 2^16. Assigned by
    /// `MediaPacketizer` (the value handed to it is ignored).
    public var sequence: UInt16
    /// Media timestamp in the codec's clock (48 kHz for Opus, 90 kHz for video), as
    /// the application chooses it; carried unchanged.
    public var timestamp: UInt32
    public var flags: MediaFlags
    /// The encoded frame.
    public var payload: [UInt8]

    public init(stream: UInt8, kind: MediaFrameKind, payloadType: UInt8, sequence: UInt16 = 0, timestamp: UInt32,
                flags: MediaFlags = [], payload: [UInt8]) {
        self.stream = stream
        self.kind = kind
        self.payloadType = payloadType
        self.sequence = sequence
        self.timestamp = timestamp
        self.flags = flags
        self.payload = payload
    }

    public var description: String {
        "MediaFrame(\(kind) stream \(stream), pt \(payloadType), seq \(sequence), ts \(timestamp)"
            + (flags.contains(.keyframe) ? ", keyframe" : "") + (flags.contains(.marker) ? ", marker" : "")
            + ", \(payload.count) bytes)"
    }
}
