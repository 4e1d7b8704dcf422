/// Specification constants of Parley's SDP profile (Signalling/spec-drafts/sdp.md,
/// "Limits" and "Fixed values"). Every parser bound lives here; changing a value changes
/// what a peer accepts.
public enum SDPLimits {
    // MARK: Whole description

    /// Largest SDP text accepted, checked before any byte is read. A sealed blob holds at
    /// most 32763 content bytes; 16 KiB leaves room and is far above a real offer (~600 bytes).
    public static let maxBytes = 16_384
    /// Most lines (each ended by CRLF).
    public static let maxLines = 256
    /// Longest line, without its CRLF.
    public static let maxLineBytes = 1024
    /// Most media sections (`m=` lines): one audio, one video, one application.
    public static let maxMediaSections = 3
    /// Most lines that are accepted but not modelled (unknown `a=` attributes, `i=`, `u=`,
    /// `e=`, `p=`, `b=` lines other than a media section's `b=TIAS`), in the whole description.
    public static let maxIgnoredLines = 64

    // MARK: Media sections

    /// Most payload types on one `m=` line.
    public static let maxCodecsPerSection = 16
    /// Most `name=value` pairs in one `a=fmtp`.
    public static let maxFormatParameters = 16
    /// Longest format parameter name.
    public static let maxFormatParameterNameBytes = 32
    /// Longest format parameter value.
    public static let maxFormatParameterValueBytes = 128
    /// Longest encoding name in `a=rtpmap` (`opus`, `PCMU`, `H264`, ...).
    public static let maxEncodingNameBytes = 32
    /// Most audio channels in `a=rtpmap`.
    public static let maxChannels: UInt8 = 8
    /// Longest `a=mid` value (RFC 8843 keeps mids that travel in packets to 16 bytes).
    public static let maxMidBytes = 16
    /// Largest `a=ptime`, in milliseconds (Opus's longest frame).
    public static let maxPacketTimeMilliseconds: UInt16 = 120
    /// Largest `a=framerate`, in frames per second.
    public static let maxFrameRate: UInt16 = 240
    /// Largest width or height in `a=imageattr`, in pixels.
    public static let maxVideoDimension: UInt16 = 16_384
    /// Lowest dynamic RTP payload type (RFC 3551); dynamic types run to 127.
    public static let firstDynamicPayloadType: UInt8 = 96
    /// Largest RTP payload type.
    public static let maxPayloadType: UInt8 = 127

    // MARK: ICE (RFC 8839)

    /// `ice-ufrag`: 4 to 256 ice-chars.
    public static let iceUfragBytes = 4...256
    /// `ice-pwd`: 22 to 256 ice-chars.
    public static let icePasswordBytes = 22...256
    /// Most `a=candidate` lines in one description (with trickle there are normally none).
    public static let maxCandidates = 32
    /// Longest candidate attribute text accepted by `IceCandidateAttribute.parse`,
    /// with or without its `a=` prefix.
    public static let maxCandidateBytes = 512
    /// Candidate foundation: 1 to 32 ice-chars.
    public static let candidateFoundationBytes = 1...32
    /// Most extension name/value pairs after the fixed candidate fields.
    public static let maxCandidateExtensions = 8
    /// Longest extension name or value in a candidate.
    public static let maxCandidateExtensionBytes = 64
    /// Largest candidate priority (RFC 8445: 1 to 2^31 - 1).
    public static let maxCandidatePriority: UInt32 = 0x7fff_ffff

    // MARK: Fixed values Parley writes

    /// The `m=` proto token of every Parley media section: Parley frames (sealed
    /// datagrams, PROTOCOL.md "Frames") over the ICE path; not RTP.
    public static let proto = "UDP/PARLEY"
    /// The only format of the application section.
    public static let applicationFormat = "parley"
    /// `m=` port of an accepted section (9, discard: the addresses are in ICE candidates).
    public static let activePort: UInt16 = 9
}
