/// Every failure of the crypto core, with a stable numeric code (documented in
/// Signalling/PROTOCOL.md, "Error codes") and a message a person can act on.
public enum CryptoError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A secret was used after `erase()` (or after its call ended).
    case secretErased
    /// An input had the wrong length for the primitive.
    case invalidLength(what: String, expected: Int, actual: Int)
    /// AEAD authentication failed: forged, corrupted, truncated or wrong key.
    case authenticationFailed
    /// A public key or group element did not decode, or was the identity / low order.
    case invalidPublicKey
    /// An Ed25519 signature did not verify.
    case badSignature
    /// Key confirmation failed: the two sides did not derive the same keys,
    /// because the security codes differ, a code was set on one side only,
    /// or someone in the middle substituted handshake messages.
    case securityCodeMismatch
    /// A peer's identity key does not match the device ID the call claims.
    case identityMismatch
    /// A message was seen before (or is older than the replay window).
    case replayed
    /// A counter or sequence number passed the limit after which a key must not be used.
    case counterExhausted
    /// A wire message was malformed; `reason` says how.
    case malformed(String)
    /// The message uses a protocol version this implementation does not speak.
    case unsupportedVersion(UInt8)
    /// A handshake step was called out of order.
    case invalidState(String)
    /// A payload exceeds the documented maximum.
    case tooLarge(limit: Int, actual: Int)
    /// A key file could not be read or written; `reason` says why.
    case keyFile(path: String, reason: String)
    /// A key file is readable or writable by other users.
    case keyFilePermissions(path: String, mode: UInt32)
    /// A printable device ID did not parse (bad character, length or checksum).
    case invalidDeviceID(String)
    /// A security code is too long or uses characters outside printable ASCII.
    case invalidSecurityCode(String)
    /// The caller's revealed CPace element does not match the commitment in its invite.
    case commitmentMismatch

    /// Stable numeric code for logs, the C API and the wire error frame.
    public var code: Int {
        switch self {
        case .secretErased: return 1001
        case .invalidLength: return 1002
        case .authenticationFailed: return 1003
        case .invalidPublicKey: return 1004
        case .badSignature: return 1005
        case .securityCodeMismatch: return 1006
        case .identityMismatch: return 1007
        case .replayed: return 1008
        case .counterExhausted: return 1009
        case .malformed: return 1010
        case .unsupportedVersion: return 1011
        case .invalidState: return 1012
        case .tooLarge: return 1013
        case .keyFile: return 1014
        case .keyFilePermissions: return 1015
        case .invalidDeviceID: return 1016
        case .invalidSecurityCode: return 1017
        case .commitmentMismatch: return 1018
        }
    }

    public var description: String {
        switch self {
        case .secretErased:
            return "secret used after it was erased"
        case let .invalidLength(what, expected, actual):
            return "\(what) must be \(expected) bytes, got \(actual)"
        case .authenticationFailed:
            return "authentication failed: the data was forged, corrupted, truncated or sealed with another key"
        case .invalidPublicKey:
            return "invalid public key or group element (does not decode, identity or low order)"
        case .badSignature:
            return "signature does not verify"
        case .securityCodeMismatch:
            return "security code mismatch: the two sides entered different codes, only one side set a code, or the call was intercepted"
        case .identityMismatch:
            return "the peer's identity key does not match the device ID of the call"
        case .replayed:
            return "replayed or too old (outside the replay window)"
        case .counterExhausted:
            return "message counter exhausted: the key must be replaced"
        case let .malformed(reason):
            return "malformed message: \(reason)"
        case let .unsupportedVersion(version):
            return "unsupported protocol version \(version)"
        case let .invalidState(reason):
            return "invalid handshake state: \(reason)"
        case let .tooLarge(limit, actual):
            return "payload of \(actual) bytes exceeds the limit of \(limit) bytes"
        case let .keyFile(path, reason):
            return "key file \(path): \(reason)"
        case let .keyFilePermissions(path, mode):
            return "key file \(path) is accessible by other users (mode \(octal(mode))); run: chmod 600 \(path)"
        case let .invalidDeviceID(reason):
            return "invalid device ID: \(reason)"
        case let .invalidSecurityCode(reason):
            return "invalid security code: \(reason)"
        case .commitmentMismatch:
            return "the caller's handshake element does not match its commitment: the handshake was tampered with"
        }
    }
}

private func octal(_ mode: UInt32) -> String {
    let digits = String(mode & 0o777, radix: 8)
    return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
}
