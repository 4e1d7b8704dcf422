import ParleyCrypto

/// Why a call failed, with a stable numeric code (PROTOCOL.md, "Call errors") and a
/// message a person can act on. A hang-up by either side is not an error (`CallEnd`).
public enum CallError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The two sides did not use the same security code (or one side set none), or
    /// someone in the middle substituted the key exchange.
    case securityCodeMismatch
    /// The callee declined the call.
    case rejected
    /// The callee is in another call.
    case busy
    /// The callee is not online (or not in this realm).
    case peerUnavailable
    /// Nobody answered before the server's ring timeout.
    case unanswered
    /// A step of the call's setup took too long.
    case timeout(CallStep)
    /// No direct or relayed path could be established (ICE failed).
    case peerUnreachable
    /// The direct path stopped working during the call (consent freshness expired).
    case connectionLost
    /// The peer's signalling connection ended before the call was connected.
    case peerGone
    /// The key exchange failed for a reason other than the security code: a bad
    /// signature, the wrong identity, a malformed message.
    case handshakeFailed(CryptoError)
    /// The two sides could not agree on media, or an SDP was invalid.
    case negotiationFailed(String)
    /// The peer (or the relay) broke the call protocol: out-of-order or malformed
    /// sealed content, a gap in the signalling sequence.
    case protocolViolation(String)
    /// Both devices called each other at once and this call lost (the other survives).
    case glare
    /// The signalling server could not be reached or the connection ended during setup.
    case serverUnreachable
    /// The operation does not fit the call's state (for example `accept` on an outgoing call).
    case invalidState(String)
    /// The signalling server refused the call (for example too many calls).
    case refusedByServer(code: UInt16, reason: String)
    /// The local ICE transport could not be started or failed locally.
    case transportFailed(String)
    /// The peer ended the call reporting a failure this side has no better name for.
    case peerFailed(code: UInt16)

    /// Stable numeric code for logs, the C API and the sealed bye.
    public var code: UInt16 {
        switch self {
        case .securityCodeMismatch: return 5001
        case .rejected: return 5002
        case .busy: return 5003
        case .peerUnavailable: return 5004
        case .unanswered: return 5005
        case .timeout: return 5006
        case .peerUnreachable: return 5007
        case .connectionLost: return 5008
        case .peerGone: return 5009
        case .handshakeFailed: return 5010
        case .negotiationFailed: return 5011
        case .protocolViolation: return 5012
        case .glare: return 5013
        case .serverUnreachable: return 5014
        case .invalidState: return 5015
        case .refusedByServer: return 5016
        case .transportFailed: return 5017
        case .peerFailed: return 5018
        }
    }

    public var description: String {
        switch self {
        case .securityCodeMismatch:
            return "security code mismatch: the two devices did not enter the same code (or only one entered a code); check the code with the other person and call again"
        case .rejected: return "the call was rejected"
        case .busy: return "the device you called is busy in another call"
        case .peerUnavailable: return "the device you called is not online"
        case .unanswered: return "nobody answered"
        case let .timeout(step): return "the call timed out while \(step.rawValue)"
        case .peerUnreachable: return "no network path to the other device could be found (ICE failed); a TURN server may be needed"
        case .connectionLost: return "the connection to the other device was lost"
        case .peerGone: return "the other device disconnected from the signalling server before the call was connected"
        case let .handshakeFailed(error): return "the key exchange failed: \(error)"
        case let .negotiationFailed(reason): return "the devices could not agree on media: \(reason)"
        case let .protocolViolation(reason): return "protocol violation: \(reason)"
        case .glare: return "both devices called each other at the same moment; the other call continues"
        case .serverUnreachable: return "the signalling server is unreachable"
        case let .invalidState(reason): return "invalid call state: \(reason)"
        case let .refusedByServer(code, reason): return "the signalling server refused the call (\(code)): \(reason)"
        case let .transportFailed(reason): return "the ICE transport failed: \(reason)"
        case let .peerFailed(code): return "the other device ended the call with error \(code)"
        }
    }

    /// The error a peer's abort or bye code stands for, seen from this side.
    static func reportedByPeer(_ code: UInt16) -> CallError {
        switch code {
        case 5001, UInt16(CryptoError.securityCodeMismatch.code), UInt16(CryptoError.commitmentMismatch.code):
            return .securityCodeMismatch
        case 5011: return .negotiationFailed("the other device could not use the offered media")
        default: return .peerFailed(code: code)
        }
    }
}

/// How a call ended.
public enum CallEnd: Equatable, Sendable, CustomStringConvertible {
    /// This side hung up (or rejected an incoming call).
    case hungUpLocally
    /// The other side hung up (or cancelled before the call was answered).
    case hungUpByPeer
    /// The call failed.
    case failed(CallError)

    public var description: String {
        switch self {
        case .hungUpLocally: return "hung up"
        case .hungUpByPeer: return "hung up by the other device"
        case let .failed(error): return "failed: \(error)"
        }
    }
}
