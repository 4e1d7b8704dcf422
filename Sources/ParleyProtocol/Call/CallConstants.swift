import ParleyCrypto

/// Specification constants of the call flow (PROTOCOL.md, "Call flow"). Changing a
/// value here changes the wire protocol or what a conforming peer must tolerate.
public enum CallSpec {
    /// First byte of a `signal` or `accept` payload: what the rest of the payload is.
    public enum PayloadType {
        /// A sealed blob (its first byte is the blob version, 0x01).
        public static let sealedBlob: UInt8 = 0x01
        /// Handshake message 2, in an `accept`.
        public static let response: UInt8 = 0x02
        /// Handshake message 3, in a `signal`.
        public static let confirm: UInt8 = 0x03
        /// Handshake message 4, in a `signal`.
        public static let finish: UInt8 = 0x04
        /// A handshake abort: `05 || code u16` (unauthenticated; before keys exist).
        public static let abort: UInt8 = 0x05
    }

    /// Size of a handshake abort payload.
    public static let abortCount = 3

    /// Kinds of sealed blobs (the `kind` byte inside the sealed plaintext).
    public enum BlobKind {
        /// The caller's SDP offer: always the caller's first blob (sequence 0).
        public static let offer: UInt8 = 1
        /// The callee's SDP answer: always the callee's first blob (sequence 0).
        public static let answer: UInt8 = 2
        /// One ICE candidate: an RFC 8839 candidate attribute value ("candidate:...").
        public static let candidate: UInt8 = 3
        /// No more candidates from this side (empty content).
        public static let endOfCandidates: UInt8 = 4
        /// The sender ends the call: `code u16` (0 = hung up; otherwise a CallError code).
        public static let bye: UInt8 = 5
    }

    /// Remote candidates accepted per call; later ones are ignored (and counted).
    public static let maxRemoteCandidates = 32
    /// Longest candidate attribute accepted in a blob.
    public static let maxCandidateBytes = 512
    /// Blobs held while an earlier sequence number is missing (the blob replay window).
    public static let maxPendingBlobs = SpecConstants.blobReplayWindow

    /// How long a device remembers a call ID, so a replayed invite does not ring again.
    public static let recentCallIDLifetime: Duration = .seconds(600)
    /// Call IDs remembered at most (the oldest are forgotten first).
    public static let recentCallIDCapacity = 4096

    /// The bye and abort code for an ordinary hang-up.
    public static let byeHangUp: UInt16 = 0

    /// A connected side that has sent no frame for this long sends a keepalive control
    /// frame, so its peer keeps seeing authenticated traffic on an idle call.
    public static let keepaliveInterval: Duration = .seconds(1)
    /// The shortest consent timeout a side may use: enough keepalives fit in it that random
    /// loss cannot end a call (ten in a row lost at 10 % loss: 1 in 10^10).
    public static let minPathConsentTimeout: Duration = .seconds(10)
}

/// How long each step of a call may take before the call fails with `timeout`.
/// Defaults are the values of PROTOCOL.md; tests may shorten them.
public struct CallTimeouts: Equatable, Sendable {
    /// Caller: from the invite until the callee accepts (the server rings for 45 s).
    public var answer: Duration = .seconds(60)
    /// Callee: how long an incoming call waits for `accept` or `reject` (the server's ring timeout usually ends it first).
    public var incoming: Duration = .seconds(60)
    /// Each handshake message after the accept (messages 3 and 4).
    public var handshakeStep: Duration = .seconds(10)
    /// From confirmed keys until the SDP offer and answer are both done.
    public var negotiation: Duration = .seconds(15)
    /// From the SDP answer until the direct path is connected.
    public var connect: Duration = .seconds(30)
    /// How long a later blob waits for a missing earlier one before the call fails.
    public var blobGap: Duration = .seconds(5)
    /// Connected: how long without an authenticated frame from the peer before the path has
    /// lost consent and the call ends with `connectionLost` (RFC 7675's 30 s). At least
    /// `CallSpec.minPathConsentTimeout` in production; tests may shorten it.
    public var pathConsent: Duration = .seconds(30)

    public init() {}
    public static let `default` = CallTimeouts()
}

/// One step of a call's setup, named by a `timeout`.
public enum CallStep: String, Equatable, Sendable {
    case answer = "waiting for the callee to answer"
    case incoming = "waiting for this side to accept or reject"
    case handshake = "key confirmation"
    case negotiation = "SDP offer and answer"
    case connect = "connecting the direct path"
    case blobGap = "a missing signalling blob"
}
