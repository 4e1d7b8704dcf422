import ParleyCrypto
import ParleyProtocol

/// A connection as the adapter numbers them; never reused within a process.
public struct ConnectionID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let raw: UInt64
    public init(_ raw: UInt64) { self.raw = raw }
    public static func < (lhs: ConnectionID, rhs: ConnectionID) -> Bool { lhs.raw < rhs.raw }
    public var description: String { "c\(raw)" }
}

/// What the adapter (libwebsockets, or a test) feeds the core. Every input carries
/// the time it happened; the core never reads a clock.
public enum ServerInput: Sendable {
    /// A TLS WebSocket connection was established.
    case connected(ConnectionID)
    /// A whole message arrived: decoded, with its size on the wire (for rate limits).
    case received(ConnectionID, SignalMessage, byteCount: Int)
    /// A message arrived that did not decode (or was too large); the adapter maps
    /// the decode error to its code.
    case undecodable(ConnectionID, SignalErrorCode, reason: String, byteCount: Int)
    /// The connection is gone (closed by the peer, by the adapter, or failed).
    case disconnected(ConnectionID)
    /// The adapter's send queue for this connection passed its limit (slow reader).
    case sendQueueOverflow(ConnectionID)
    /// Nothing happened but time passed (call at or after `nextDeadline`).
    case tick
    /// The allowlist file was reloaded (SIGHUP or `parley-signal device ...`): listed
    /// devices with display names. Connected devices no longer listed are disconnected.
    case allowlistChanged([DeviceID: String])
    /// The set of valid enrollment codes changed: BLAKE2b-256 digests of the codes
    /// (see `EnrollmentCodes.digest`) and their expiry.
    case enrollmentCodesChanged([[UInt8]: Timestamp])
    /// SIGTERM: tell every device and close every connection.
    case shutdown
}

/// What the core asks the adapter to do, in order.
public enum ServerAction: Equatable, Sendable {
    /// Encode and queue `message` for the connection.
    case send(ConnectionID, SignalMessage)
    /// Close the connection after its queued messages are sent; `code` is the error
    /// frame already queued for it (nil for a clean close).
    case close(ConnectionID, SignalErrorCode?)
    /// A device enrolled with a one-time code: add it to the allowlist file and
    /// mark the code used (the core already refuses the code again).
    case enrolled(DeviceID, codeDigest: [UInt8])
}

/// How devices get in (PROTOCOL.md, "Enrollment").
public enum EnrollmentPolicy: Sendable, Equatable {
    /// Any device that proves its identity key.
    case open
    /// Only listed devices, plus devices presenting a valid one-time enrollment code.
    case allowlist
}

/// One-time enrollment codes are kept as digests, never as the codes themselves.
public enum EnrollmentCodes {
    /// BLAKE2b-256("parley/1 enrollment code" || normalized code).
    public static func digest(_ code: String) -> [UInt8] {
        BLAKE2b.hash(Array("parley/1 enrollment code".utf8) + Array(normalized(code).utf8), outputCount: 32)
    }
}

/// Counters the adapter exports as Prometheus metrics. Only ever increase.
public struct ServerStatistics: Sendable, Equatable {
    public var connectionsAccepted = 0
    public var authenticated = 0
    public var relayedByType: [String: Int] = [:]
    public var rejectionsByReason: [SignalErrorCode: Int] = [:]
    public var callsByOutcome: [String: Int] = [:]
    public var callsConnected = 0

    public init() {}
}
