import ParleyCrypto
import ParleyProtocol

/// Every failure of the signalling client, with a stable numeric `code` (3001-3017; the
/// crypto core uses 10xx, the signalling envelope 20xx) and a message a person can act on.
///
/// | code | name | meaning | retried? |
/// |---|---|---|---|
/// | 3001 | `invalidURL` | the server URL is not `wss://host[:port][/path]` | no (configuration) |
/// | 3002 | `invalidConfiguration` | realm, enrollment code, pin or a limit is out of range | no (configuration) |
/// | 3003 | `serverUnreachable` | DNS, TCP, TLS or WebSocket handshake failed, or the server is full or shutting down | yes |
/// | 3004 | `tlsPinMismatch` | the server's certificate is not the pinned one (wrong server, new certificate, or TLS interception) | yes |
/// | 3005 | `certificateInvalid` | the certificate chain or name does not verify against the configured CA | yes |
/// | 3006 | `timeout` | no welcome within the connect timeout, or nothing received for two ping intervals plus a margin | yes |
/// | 3007 | `connectionLost` | the server or the network closed an established connection | yes |
/// | 3008 | `protocolViolation` | the server sent something the protocol does not allow (or refused something this client sent) | yes |
/// | 3009 | `authenticationFailed` | the server did not accept the auth signature | no (terminal) |
/// | 3010 | `notEnrolled` | the device is not admitted to the realm | no (terminal) |
/// | 3011 | `enrollmentCodeInvalid` | the enrollment code is unknown, used or expired | no (terminal) |
/// | 3012 | `revoked` | the device was removed from the allowlist | no (terminal) |
/// | 3013 | `replaced` | another connection of the same device took over | no (terminal) |
/// | 3014 | `sendQueueFull` | `send` would exceed the send queue limit | (send only) |
/// | 3015 | `notConnected` | `send` while the client is not online | (send only) |
/// | 3016 | `invalidMessage` | `send` of a message a device may not send, that does not encode, or over the server's size limit | (send only) |
/// | 3017 | `transportSetupFailed` | libwebsockets could not create its context, thread or a connection | no |
///
/// Terminal errors (`isTerminal`) end reconnection: retrying blindly cannot succeed and,
/// for `replaced`, would fight the instance that took over.
public struct SignallingClientError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Stable numeric codes; never renumbered.
    public enum Code: Int, Sendable, CaseIterable {
        case invalidURL = 3001
        case invalidConfiguration = 3002
        case serverUnreachable = 3003
        case tlsPinMismatch = 3004
        case certificateInvalid = 3005
        case timeout = 3006
        case connectionLost = 3007
        case protocolViolation = 3008
        case authenticationFailed = 3009
        case notEnrolled = 3010
        case enrollmentCodeInvalid = 3011
        case revoked = 3012
        case replaced = 3013
        case sendQueueFull = 3014
        case notConnected = 3015
        case invalidMessage = 3016
        case transportSetupFailed = 3017
    }

    public let code: Code
    /// What happened, for people and logs: names limits, states and fingerprint prefixes,
    /// never message payloads.
    public let message: String
    /// The server's error code when the server reported the failure (`error` message).
    public let serverCode: SignalErrorCode?

    public init(_ code: Code, _ message: String, serverCode: SignalErrorCode? = nil) {
        self.code = code
        self.message = message
        self.serverCode = serverCode
    }

    /// True when the client must not reconnect by itself after this error.
    public var isTerminal: Bool {
        switch code {
        case .authenticationFailed, .notEnrolled, .enrollmentCodeInvalid, .revoked, .replaced,
             .invalidURL, .invalidConfiguration, .transportSetupFailed:
            return true
        case .serverUnreachable, .tlsPinMismatch, .certificateInvalid, .timeout, .connectionLost,
             .protocolViolation, .sendQueueFull, .notConnected, .invalidMessage:
            return false
        }
    }

    public var description: String {
        let server = serverCode.map { ", server error \($0) (\($0.rawValue))" } ?? ""
        return "\(code) (\(code.rawValue))\(server): \(message)"
    }

    /// The pinned certificate digest and the one the server presented, as hex prefixes.
    static func tlsPinMismatch(expected: [UInt8], got: [UInt8]) -> SignallingClientError {
        SignallingClientError(.tlsPinMismatch,
                              "the server's certificate SHA-256 starts with \(prefix(got)), the pin starts with \(prefix(expected)): "
                                  + "a different server, a new certificate, or a TLS-intercepting middlebox")
    }

    /// The first 8 bytes of a digest in hex, followed by an ellipsis.
    static func prefix(_ digest: [UInt8]) -> String {
        Hex.encode(digest.prefix(8)) + "…"
    }

    /// The client error for an `error` message the server sent about the connection.
    static func fromServer(_ code: SignalErrorCode, _ text: String) -> SignallingClientError {
        let said = text.isEmpty ? "" : ": \(text)"
        switch code {
        case .authenticationFailed:
            return SignallingClientError(.authenticationFailed, "the server did not accept the auth signature\(said)", serverCode: code)
        case .notEnrolled:
            return SignallingClientError(.notEnrolled, "the device is not enrolled in this realm\(said)", serverCode: code)
        case .enrollmentCodeInvalid:
            return SignallingClientError(.enrollmentCodeInvalid, "the enrollment code is unknown, used or expired\(said)", serverCode: code)
        case .revoked:
            return SignallingClientError(.revoked, "the device was revoked on this server\(said)", serverCode: code)
        case .replaced:
            return SignallingClientError(.replaced, "another connection of this device took over\(said)", serverCode: code)
        case .serverFull, .shuttingDown:
            return SignallingClientError(.serverUnreachable, "the server refused service\(said)", serverCode: code)
        case .handshakeTimeout, .idleTimeout:
            return SignallingClientError(.timeout, "the server timed the connection out\(said)", serverCode: code)
        case .rateLimited, .sendQueueFull:
            return SignallingClientError(.connectionLost, "the server dropped the connection\(said)", serverCode: code)
        case .malformed, .unsupportedVersion, .messageTooLarge, .unexpectedMessage, .unknownCall, .invalidTarget, .tooManyCalls:
            return SignallingClientError(.protocolViolation, "the server refused a message of this client\(said)", serverCode: code)
        }
    }
}
