import ParleyCrypto
import ParleyProtocol

/// Where a client's connection to its signalling server stands.
///
///     idle ─start─▶ connecting ─TLS+WebSocket─▶ authenticating ─welcome─▶ online
///                       ▲                                                   │
///                       └──── waitingToReconnect ◀── retryable failure ─────┘
///     any ─stop / terminal error / attempts exhausted─▶ stopped
public enum ConnectionState: Equatable, Sendable, CustomStringConvertible {
    /// Created, not started.
    case idle
    /// Resolving the host, opening TCP, TLS and the WebSocket.
    case connecting
    /// Transport up and the certificate accepted; waiting for the challenge, then the welcome.
    case authenticating
    /// Authenticated: messages can be sent.
    case online(Welcome)
    /// The connection failed with `reason`; attempt `attempt` (from 1) starts after the delay.
    case waitingToReconnect(after: Duration, attempt: Int, reason: SignallingClientError)
    /// Stopped by `stop()` (nil) or by a terminal error; `start()` begins again.
    case stopped(SignallingClientError?)

    public var isOnline: Bool {
        if case .online = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .idle: return "idle"
        case .connecting: return "connecting"
        case .authenticating: return "authenticating"
        case let .online(welcome): return "online as \(welcome.deviceID.fingerprint) in realm '\(welcome.realm)'"
        case let .waitingToReconnect(delay, attempt, reason): return "waiting \(delay) before attempt \(attempt) (\(reason))"
        case let .stopped(error): return error.map { "stopped: \($0)" } ?? "stopped"
        }
    }
}

/// What a client reports, in order, on its loop's thread.
public enum SignallingEvent: Equatable, Sendable {
    case stateChanged(ConnectionState)
    /// The online devices of the realm (this device excluded): after each snapshot chunk
    /// and each update, and empty when a connection ends. Only with `tracksPresence`.
    case presence(online: Set<DeviceID>)
    /// One presence update from the server (sent before the `.presence` it causes).
    case presenceChanged(DeviceID, online: Bool)
    /// Call traffic from the server: `incomingCall`, `ringing`, `accept`, `callEnded`,
    /// `signal`, and `error`s about a call or a request (`unknownCall`, `invalidTarget`,
    /// `tooManyCalls`, `unexpectedMessage`) that leave the connection up.
    case message(SignalMessage)
    /// An `error` the server sent about the connection itself; the connection ends and
    /// a `.stateChanged` follows (reconnecting or, for terminal codes, stopped).
    case serverError(code: SignalErrorCode, message: String)
}
