import ParleyCrypto

/// Where a call is. `ended` is final.
public enum CallState: Equatable, Sendable, CustomStringConvertible {
    /// Caller: the invite is sent; the server has not confirmed that the callee rings.
    case inviting
    /// Caller: the callee's device rings. Callee: waiting for `accept` or `reject`.
    case ringing
    /// Handshake messages 2 to 4 are in flight (key confirmation).
    case securing
    /// Keys are confirmed (the SAS is known); the sealed SDP offer and answer are in flight.
    case negotiating
    /// Media is agreed; ICE connectivity checks run.
    case connecting
    /// The direct (or TURN-relayed) path works; frames flow.
    case connected
    case ended(CallEnd)

    public var isEnded: Bool { if case .ended = self { return true } else { return false } }

    public var description: String {
        switch self {
        case .inviting: return "inviting"
        case .ringing: return "ringing"
        case .securing: return "securing"
        case .negotiating: return "negotiating"
        case .connecting: return "connecting"
        case .connected: return "connected"
        case let .ended(end): return "ended (\(end))"
        }
    }
}

/// The kind of an ICE candidate (RFC 8445).
public enum CandidateKind: String, Equatable, Sendable {
    case host, serverReflexive = "srflx", peerReflexive = "prflx", relayed = "relay"
}

/// One end of the selected candidate pair.
public struct PathEndpoint: Equatable, Sendable, CustomStringConvertible {
    public var kind: CandidateKind
    /// "udp" or "tcp".
    public var transport: String
    public var address: String
    public var port: UInt16

    public init(kind: CandidateKind, transport: String, address: String, port: UInt16) {
        self.kind = kind
        self.transport = transport
        self.address = address
        self.port = port
    }

    public var description: String { "\(kind.rawValue) \(transport) \(address):\(port)" }
}

/// The candidate pair ICE selected. The path is *relayed* when either end is a TURN
/// relay candidate, *direct* otherwise.
public struct CandidatePair: Equatable, Sendable, CustomStringConvertible {
    public var local: PathEndpoint
    public var remote: PathEndpoint

    public init(local: PathEndpoint, remote: PathEndpoint) {
        self.local = local
        self.remote = remote
    }

    public var isRelayed: Bool { local.kind == .relayed || remote.kind == .relayed }
    public var description: String { "\(isRelayed ? "relayed" : "direct"): \(local) <-> \(remote)" }
}

/// What the call's transport adapter reports to the core.
public enum TransportInput: Sendable {
    /// The transport exists (after `.start`); these are its ICE credentials.
    case started(IceCredentials)
    /// A local candidate: an RFC 8839 candidate attribute value ("candidate:...").
    case localCandidate(String)
    /// Local gathering finished.
    case gatheringComplete
    /// Connectivity established on this pair (or the selected pair changed).
    case connected(CandidatePair)
    /// ICE found no working pair.
    case failed(String)
    /// Consent freshness expired: the peer stopped answering on the selected path.
    case consentLost
    /// A control frame arrived on the direct path: its opened payload.
    case controlFrame([UInt8])
}

/// What the core asks the transport adapter to do.
public enum TransportCommand: Equatable, Sendable {
    /// Create the ICE transport and report `.started` with its credentials, then gather.
    case start(controlling: Bool)
    case setRemoteCredentials(IceCredentials)
    /// An RFC 8839 candidate attribute value, already checked by `IceCandidateAttribute.parse`.
    case addRemoteCandidate(String)
    case endOfRemoteCandidates
    /// Send this sealed frame on the direct path (the goodbye).
    case sendFrame([UInt8])
    /// Close the transport. No frame may be sealed or opened for this call afterwards.
    case stop
}

/// What happened, for the application.
public enum CallEvent: Equatable, Sendable {
    case stateChanged(CallState)
    /// Keys are confirmed. Without a security code, the two people compare `sas` aloud.
    case secured(sas: ShortAuthenticationString, peer: DeviceID)
    case negotiated(NegotiatedMedia)
    case pathSelected(CandidatePair)
    case ended(CallEnd)
}

/// Everything the core emits, in the order it must be performed.
public enum CallOutput: Sendable {
    /// Send on the signalling connection.
    case signalling(SignalMessage)
    case transport(TransportCommand)
    case event(CallEvent)
}

/// Counters a call keeps about what it refused; a hostile relay shows up here.
public struct CallCounters: Equatable, Sendable {
    /// Blobs that failed authentication (forged, cross-call, corrupted).
    public var forgedBlobs = 0
    /// Blobs rejected as replays.
    public var replayedBlobs = 0
    /// Blobs that arrived out of order and were held until the gap closed.
    public var reorderedBlobs = 0
    /// Remote candidates ignored beyond `CallSpec.maxRemoteCandidates`.
    public var ignoredCandidates = 0
    /// Signalling messages that did not fit the call's state and were ignored.
    public var ignoredMessages = 0

    public init() {}
}
