import ParleyCrypto

/// Specification constants of the signalling envelope, named as in PROTOCOL.md
/// ("Signalling envelope", constants table). Changing any value changes the wire protocol.
public enum SignalLimits {
    /// The envelope version, the first byte of every message.
    public static let version: UInt8 = 1
    /// version (1) + type (1).
    public static let headerCount = 2

    /// Largest `payload` of invite, incomingCall and accept (handshake messages 1 and 2
    /// are 148 bytes; the rest is room for a later handshake version).
    public static let maxHandshakePayloadBytes = 512
    /// Largest `payload` of signal: the largest sealed blob (9 + 32768 + 16 = 32793 bytes).
    public static let maxSignalPayloadBytes = SealedBlob.maxWireCount

    /// Largest realm (auth, welcome); a realm is never empty.
    public static let maxRealmBytes = Auth.maxRealmBytes
    /// Largest enrollment code (auth); empty means "no code".
    public static let maxEnrollmentCodeBytes = Auth.maxEnrollmentCodeBytes
    /// Largest error text; the encoder truncates longer text at a UTF-8 character boundary.
    public static let maxErrorMessageBytes = 255
    /// Most device IDs in one presenceSnapshot, so that a snapshot (4 + 1024 x 20 =
    /// 20484 bytes) stays below `maxMessageBytes`.
    public static let maxPresenceSnapshotDevices = 1024

    /// The largest valid message: a signal carrying the largest payload,
    /// 2 + 16 + 2 + 32793 = 32813 bytes. The decoder's default input limit.
    public static let maxMessageBytes = headerCount + CallID.byteCount + 2 + maxSignalPayloadBytes
}

/// The type byte of each message (the second byte of the envelope).
public enum SignalType: UInt8, Sendable, CaseIterable {
    case challenge = 0x01
    case auth = 0x02
    case welcome = 0x03
    case presenceSnapshot = 0x10
    case presenceUpdate = 0x11
    case invite = 0x20
    case incomingCall = 0x21
    case ringing = 0x22
    case accept = 0x23
    case reject = 0x24
    case callEnded = 0x25
    case signal = 0x30
    case hangup = 0x31
    case ping = 0x40
    case pong = 0x41
    case error = 0x7f

    /// Who may send a message of this type. The codec does not check it (a decoder
    /// does not know which side it runs on); the signalling core refuses a device's
    /// server-only message with `unexpectedMessage`.
    public var sender: SignalSender {
        switch self {
        case .auth, .invite, .reject, .hangup, .ping: return .device
        case .challenge, .welcome, .presenceSnapshot, .presenceUpdate, .incomingCall,
             .ringing, .callEnded, .pong, .error: return .server
        case .accept, .signal: return .either
        }
    }
}

/// The direction of a message type (PROTOCOL.md, "Signalling envelope").
public enum SignalSender: Sendable {
    /// Device to server only (C->S).
    case device
    /// Server to device only (S->C).
    case server
    /// Both ways, with the same layout: the server forwards the bytes it received.
    case either
}

extension SignalMessage {
    /// The type byte this message is encoded with.
    public var type: SignalType {
        switch self {
        case .challenge: return .challenge
        case .auth: return .auth
        case .welcome: return .welcome
        case .presenceSnapshot: return .presenceSnapshot
        case .presenceUpdate: return .presenceUpdate
        case .invite: return .invite
        case .incomingCall: return .incomingCall
        case .ringing: return .ringing
        case .accept: return .accept
        case .reject: return .reject
        case .callEnded: return .callEnded
        case .signal: return .signal
        case .hangup: return .hangup
        case .ping: return .ping
        case .pong: return .pong
        case .error: return .error
        }
    }
}
