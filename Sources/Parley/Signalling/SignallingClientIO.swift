/// What the transport adapter (libwebsockets, or a test) feeds `SignallingClientCore`.
/// Every input carries the time it happened (`handle(_:now:)`); the core never reads a clock.
public enum SignallingClientInput: Sendable {
    /// The application called `start()`.
    case start
    /// The application called `stop()`.
    case stop
    /// TLS and the WebSocket upgrade completed; the SHA-256 of the server's leaf
    /// certificate (DER) as this client saw it in the handshake.
    case transportConnected(serverCertificateSHA256: [UInt8])
    /// The transport could not be established (DNS, TCP, TLS, certificate, upgrade).
    case transportFailed(SignallingClientError)
    /// One complete binary WebSocket message.
    case received([UInt8])
    /// A message grew past `incomingLimit` (counted across fragments) before it ended;
    /// `byteCount` is what it had reached, or announced, when the adapter gave up.
    case receivedTooLarge(byteCount: Int)
    /// A text WebSocket message (the protocol uses binary messages only).
    case receivedText
    /// The established transport closed (by the server or the network); the WebSocket
    /// close code and reason if the server sent a close frame.
    case transportClosed(code: UInt16?, reason: String)
    /// Nothing happened but time passed (call at or after `nextDeadline`).
    case tick
}

/// What the core asks the adapter to do, in order.
public enum SignallingClientAction: Equatable, Sendable {
    /// Open a new transport to the server (there is no other one).
    case connect
    /// Messages are waiting: write them (`nextOutgoing()`) when the socket is writable.
    case flush
    /// Close the current transport with this WebSocket close frame and forget it: the
    /// core has already moved on, so nothing the transport reports later matters.
    case close(WebSocketClose)
    /// Deliver this event to the application.
    case emit(SignallingEvent)
}

/// A WebSocket close frame (RFC 6455, section 7.4).
public struct WebSocketClose: Equatable, Sendable {
    public var code: UInt16
    /// At most 123 bytes of UTF-8 in the frame; the adapter truncates.
    public var reason: String

    public init(code: UInt16, reason: String) {
        self.code = code
        self.reason = reason
    }

    /// 1000: the client is done (stop, or a terminal error the server reported).
    public static func normal(_ reason: String) -> WebSocketClose { WebSocketClose(code: 1000, reason: reason) }
    /// 1001: the connection is abandoned (timeout, dead connection).
    public static func goingAway(_ reason: String) -> WebSocketClose { WebSocketClose(code: 1001, reason: reason) }
    /// 1002: the server broke the protocol.
    public static func protocolError(_ reason: String) -> WebSocketClose { WebSocketClose(code: 1002, reason: reason) }
    /// 1003: a text message where only binary is accepted.
    public static func unsupportedData(_ reason: String) -> WebSocketClose { WebSocketClose(code: 1003, reason: reason) }
    /// 1008: the server failed a policy check (certificate pin).
    public static func policyViolation(_ reason: String) -> WebSocketClose { WebSocketClose(code: 1008, reason: reason) }
    /// 1009: a message over the size limit.
    public static func tooBig(_ reason: String) -> WebSocketClose { WebSocketClose(code: 1009, reason: reason) }
}
