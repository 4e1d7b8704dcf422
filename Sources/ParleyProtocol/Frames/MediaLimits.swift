import ParleyCrypto

/// Constants of audio and video frames on the direct path, named as in
/// Signalling/spec-drafts/media.md ("Constants"). The first group is wire format
/// (changing a value changes what a peer accepts); the second is the receiver's
/// local policy (a peer may choose other values without breaking interoperability).
public enum MediaLimits {
    // MARK: Wire format

    /// Header of a frame that travels in one fragment: flags and stream (1),
    /// payload type (1), sequence (2), timestamp (4).
    public static let singleHeaderCount = 8
    /// Header of one fragment of a larger frame: the single header, then
    /// total length (3), fragment index (2) and fragment count (2).
    public static let fragmentHeaderCount = 15

    /// Streams are numbered 0...31 (the SDP m-line index; 5 bits).
    public static let maxStreams = 32
    /// RTP payload types are 7 bits (RFC 3550).
    public static let maxPayloadType: UInt8 = 127
    /// A frame is split into at most this many fragments (a 1 MiB frame needs 904
    /// fragments at the default budget).
    public static let maxFragments = 1024

    /// Largest audio frame: Opus at its highest bitrate (510 kbit/s) over its longest
    /// packet (120 ms) is 7650 bytes; L16 stereo at 48 kHz over 20 ms is 3840 bytes.
    public static let maxAudioFrameBytes = 8192
    /// Largest video frame: room for a high-quality keyframe (1 MiB).
    public static let maxVideoFrameBytes = 1 << 20

    /// Plaintext budget of a datagram derived from a 1200-byte ICE payload (the
    /// conservative path MTU WebRTC stacks use) minus the 24-byte frame overhead.
    public static let defaultMaxPacketPayload = 1200 - SpecConstants.frameOverhead
    /// Smallest budget a packetizer accepts: one byte of media after a fragment header.
    public static let minPacketPayload = fragmentHeaderCount + 1
    /// Largest budget: the largest frame payload the frame layer seals.
    public static let maxPacketPayload = SpecConstants.frameMaxPayload

    // MARK: Receiver policy

    /// An incomplete frame is dropped when no new fragment of it arrived for this long...
    public static let reassemblyIdleTimeout: Duration = .milliseconds(150)
    /// ...and at the latest this long after its first fragment arrived.
    public static let reassemblyMaxTime: Duration = .seconds(1)

    /// A frame more than this many sequence numbers behind the newest closed frame of
    /// its stream is late: refused, and its partial frame dropped.
    public static let maxFramesBehind = 32
    /// A sequence number more than this far behind the newest closed frame is read as a
    /// jump ahead (a long loss), not as a late frame. It is above the frame layer's
    /// replay window (8128 packets), which already refuses anything older.
    public static let sequenceHorizon = 8192

    /// Partial frames held per stream; a new one beyond this drops the stream's oldest.
    public static let maxPartialFramesPerStream = 8
    /// Partial frames held in all; a new one beyond this drops the oldest of all.
    public static let maxPartialFrames = 64
    /// Bytes reserved by partial frames in all (each reserves its total length on its
    /// first fragment); a new one that does not fit drops the oldest until it does.
    public static let maxBufferedBytes = 4 << 20

    /// The largest frame of a kind.
    public static func maxFrameBytes(_ kind: MediaFrameKind) -> Int {
        switch kind {
        case .audio: return maxAudioFrameBytes
        case .video: return maxVideoFrameBytes
        }
    }
}
