import ParleyProtocol

/// Where an `IceTransport` stands. `failed`, `disconnected` and `closed` are terminal.
public enum IceTransportState: Sendable, Equatable, CustomStringConvertible {
    /// Created; `gather()` not called yet.
    case new
    /// Gathering local candidates (checks may already run on trickled remote candidates).
    case gathering
    /// Connectivity checks running, no working pair yet.
    case connecting
    /// A pair is selected and datagrams flow.
    case connected
    /// Never connected: `connectTimeout` or `connectivityChecksFailed`.
    case failed(IceError)
    /// Was connected and lost the path: `consentLost` (RFC 7675; the peer vanished or
    /// revoked consent).
    case disconnected(IceError)
    /// `close()` or `IceLoop.stop()`. Never delivered as an event (no callback runs after close).
    case closed

    public var isTerminal: Bool {
        switch self {
        case .failed, .disconnected, .closed: return true
        case .new, .gathering, .connecting, .connected: return false
        }
    }

    public var description: String {
        switch self {
        case .new: return "new"
        case .gathering: return "gathering"
        case .connecting: return "connecting"
        case .connected: return "connected"
        case let .failed(error): return "failed(\(error.code))"
        case let .disconnected(error): return "disconnected(\(error.code))"
        case .closed: return "closed"
        }
    }
}

/// What an `IceTransport` reports, in order, on the loop thread.
public enum IceTransportEvent: Sendable, Equatable {
    /// A local candidate to trickle to the peer, as an RFC 8839 attribute value without
    /// "a=" and without line end: `candidate:<foundation> 1 UDP <priority> <address> <port> typ host`.
    case localCandidate(String)
    /// Gathering is finished: signal end-of-candidates to the peer.
    case gatheringComplete
    /// The transport's state changed (never to `.new` or `.closed`).
    case stateChanged(IceTransportState)
    /// ICE selected a pair, first when connecting and again if it switches to a better one.
    /// TCP candidates of either RFC 6544 type are reported as transport "tcp".
    case selectedPair(CandidatePair)
}

/// Counters of one transport, read at any time from any thread.
public struct IceTransportStats: Sendable, Equatable {
    public var packetsSent: UInt64 = 0
    public var bytesSent: UInt64 = 0
    public var packetsReceived: UInt64 = 0
    public var bytesReceived: UInt64 = 0
    /// Datagrams the socket refused because its send buffer was full (EAGAIN). Non-reliable
    /// sends never wait, so these are lost.
    public var sendDropsWouldBlock: UInt64 = 0
    /// Datagrams refused before sending: not connected yet, closed, or over `maxDatagramBytes`.
    public var sendsRefused: UInt64 = 0
    /// SO_RCVBUF / SO_SNDBUF the kernel granted on the selected socket (Linux reports twice
    /// the requested value); 0 until connected.
    public var socketReceiveBufferBytes: Int = 0
    public var socketSendBufferBytes: Int = 0

    public init() {}
}
