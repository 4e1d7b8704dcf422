/// Specification constants of the Parley crypto core, named as in
/// Signalling/PROTOCOL.md. Changing any value changes the wire protocol.
public enum SpecConstants {
    /// Protocol version carried in ADa/ADb, sealed blobs and frame headers.
    public static let protocolVersion: UInt8 = 1

    /// Call IDs are 16 random bytes chosen by the caller; they are CPace's sid.
    public static let callIDCount = 16

    /// Security codes: at most this many bytes after normalisation.
    public static let securityCodeMaxBytes = 64

    // MARK: Sealed blobs (SDP and ICE over the signalling server)

    /// Padded plaintext sizes; a blob's plaintext is padded to the smallest bucket that fits.
    public static let blobBuckets: [Int] = [256, 512, 1024, 2048, 4096, 8192, 16384, 32768]
    /// Plaintext framing inside a blob: kind (1) + content length (4).
    public static let blobFramingCount = 5
    /// Largest blob content: the largest bucket less the framing.
    public static let blobMaxContent = 32768 - blobFramingCount
    /// Blob header: version (1) + sequence number (8).
    public static let blobHeaderCount = 9
    /// Reordering tolerated among blobs of one direction (sequence numbers).
    public static let blobReplayWindow = 64
    /// A direction's blob key is never used for this many blobs or more.
    public static let blobRejectAfterMessages: UInt64 = 1 << 32

    // MARK: Frames (audio, video, messages on the direct path)

    /// Frame header: version/phase/type (1) + 56-bit counter (7).
    public static let frameHeaderCount = 8
    /// Per-packet overhead: header + Poly1305 tag.
    public static let frameOverhead = frameHeaderCount + 16
    /// Largest frame payload accepted by the sealer and the opener.
    public static let frameMaxPayload = 16384
    /// Frame types fit in 5 bits.
    public static let frameMaxType: UInt8 = 31
    /// Counters are 56 bits on the wire; a direction stops before reaching this.
    public static let frameRejectAfterCounter: UInt64 = (1 << 56) - 1
    /// The sender moves to the next frame key after this many packets under one key...
    public static let rekeyAfterPackets: UInt64 = 1 << 30
    /// ...or after this much time under one key, whichever comes first.
    public static let rekeyAfterTime: Duration = .seconds(120)
    /// The receiver keeps the previous key this long after the first packet under the next.
    public static let previousKeyGraceTime: Duration = .seconds(5)
    /// Frames tolerated out of order (counters behind the highest seen).
    public static let frameReplayWindow = 8128

    // MARK: SAS

    /// The SAS is 6 decimal digits (log2(10^6) = 19.9 bits).
    public static let sasDigits = 6
}

/// Every domain-separation label of the protocol, in one place.
enum Labels {
    static let deviceID = bytes("parley/1 device-id")
    static let deviceIDChecksum = bytes("parley/1 device-id checksum")
    static let channelIdentifier = bytes("parley/1 call")
    static let signatureInit = bytes("parley/1 sig init")
    static let signatureResponse = bytes("parley/1 sig response")
    static let commitment = bytes("parley/1 commit")
    static let transcriptHash = bytes("parley/1 transcript")
    static let keyScheduleSalt = bytes("parley/1 key schedule")
    static let signalCallerToCallee = bytes("parley/1 signal caller->callee")
    static let signalCalleeToCaller = bytes("parley/1 signal callee->caller")
    static let frameCallerToCallee = bytes("parley/1 frame caller->callee")
    static let frameCalleeToCaller = bytes("parley/1 frame callee->caller")
    static let confirmCaller = bytes("parley/1 confirm caller")
    static let confirmCallee = bytes("parley/1 confirm callee")
    static let sas = bytes("parley/1 sas")
    static let frameRekey = bytes("parley/1 frame rekey")
    static let blobAssociatedData = bytes("parley/1 blob")

    private static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
}
