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

/// RFC 8445 candidate types.
public enum IceCandidateType: String, Sendable, Equatable {
    case host
    case serverReflexive = "srflx"
    case peerReflexive = "prflx"
    case relayed = "relay"
}

/// The transport of a candidate (RFC 6544 names the TCP kinds).
public enum IceCandidateTransport: String, Sendable, Equatable {
    case udp
    case tcpActive = "tcp-active"
    case tcpPassive = "tcp-passive"
    case tcpSimultaneousOpen = "tcp-so"
}

/// One end of a candidate pair as libnice reports it.
public struct IceCandidateInfo: Sendable, Equatable, CustomStringConvertible {
    public var type: IceCandidateType
    public var transport: IceCandidateTransport
    /// A numeric IPv4 or IPv6 address.
    public var address: String
    public var port: UInt16

    public init(type: IceCandidateType, transport: IceCandidateTransport, address: String, port: UInt16) {
        self.type = type
        self.transport = transport
        self.address = address
        self.port = port
    }

    public var description: String {
        let host = address.contains(":") ? "[\(address)]" : address
        return "\(type.rawValue) \(transport.rawValue) \(host):\(port)"
    }
}

/// Whether datagrams go straight between the two devices or through a TURN server.
public enum IcePathKind: String, Sendable, Equatable {
    /// Neither end of the selected pair is a relayed candidate (host, srflx or prflx both
    /// sides): the devices reach each other directly, possibly through NATs.
    case direct
    /// At least one end is a relayed candidate: a TURN server forwards every datagram.
    case relayed
}

/// The candidate pair ICE selected for the component.
public struct IceCandidatePair: Sendable, Equatable, CustomStringConvertible {
    public var local: IceCandidateInfo
    public var remote: IceCandidateInfo

    public init(local: IceCandidateInfo, remote: IceCandidateInfo) {
        self.local = local
        self.remote = remote
    }

    public var path: IcePathKind {
        local.type == .relayed || remote.type == .relayed ? .relayed : .direct
    }

    public var description: String { "\(path): \(local) -> \(remote)" }
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
    case selectedPair(IceCandidatePair)
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
