import ParleyCrypto
import ParleyProtocol

/// Limits and timeouts of the signalling core. Defaults are the documented
/// production values (PROTOCOL.md, "Signalling limits"); every one can be overridden.
public struct ServerConfiguration: Sendable {
    /// Largest message accepted from a device, counted across WebSocket fragments:
    /// by default the largest valid envelope (a signal carrying the largest sealed blob).
    public var maxMessageBytes = SignalLimits.maxMessageBytes
    /// Connections held at once; a connection past it is refused with `serverFull`.
    public var maxConnections = 19_000
    /// Time from connect to a successful auth.
    public var handshakeTimeout: Duration = .seconds(10)
    /// Silence after which a connection is closed (a ping is expected before).
    public var idleTimeout: Duration = .seconds(75)
    /// Ping interval the server asks devices for.
    public var pingIntervalSeconds: UInt16 = 25
    /// How long an unanswered call rings.
    public var ringTimeout: Duration = .seconds(45)
    /// Messages per second a connection may send on average, and its burst.
    public var messagesPerSecond = 50.0
    public var messageBurst = 200.0
    /// Bytes per second a connection may send on average, and its burst.
    public var bytesPerSecond = 512.0 * 1024
    public var byteBurst = 2.0 * 1024 * 1024
    /// Outgoing bytes queued for one connection before it is closed as a slow reader.
    public var maxSendQueueBytes = 1024 * 1024
    /// Calls (ringing or connected) one device may take part in at once.
    public var maxCallsPerDevice = 4

    public init() {}
}
