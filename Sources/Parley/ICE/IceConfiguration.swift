import Glibc

/// A STUN or TURN server's address. libnice 0.1.21 takes numeric addresses only (it never
/// resolves names), so `host` is an IPv4 or IPv6 literal; resolve names before.
public struct IceServerAddress: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// How the agent reaches a TURN server. libnice 0.1.21's "TLS" relay type is plain TCP in
/// RFC 5766 mode (it wraps the socket in TLS only for Google and MS-OC dialects), so
/// Parley offers no TLS: TURN over TLS would need a libnice that verifies certificates.
public enum TurnTransport: String, Sendable, Equatable, CaseIterable {
    case udp
    case tcp
}

/// A TURN server with long-term credentials (RFC 8656). The password is never logged:
/// `description` shows only its length.
public struct TurnServer: Equatable, Sendable, CustomStringConvertible {
    public var address: IceServerAddress
    public var transport: TurnTransport
    public var username: String
    public var password: String

    public init(address: IceServerAddress, transport: TurnTransport, username: String, password: String) {
        self.address = address
        self.transport = transport
        self.username = username
        self.password = password
    }

    public var description: String {
        "TurnServer(\(transport) \(address), user \(username), password <\(password.utf8.count) bytes>)"
    }
}

/// How the controlling agent nominates the pair it will use.
public enum IceNomination: Sendable, Equatable {
    /// Every check carries USE-CANDIDATE: the first pair that works is used at once
    /// (about 21 ms to connected on loopback at 20 ms pacing). The pair may still change
    /// to a better one while checks finish. Default.
    case aggressive
    /// Checks first, then one nomination (RFC 8445): about 3 times slower to connect.
    case regular
}

/// Everything an `IceTransport` is configured with. UPnP is always off.
public struct IceConfiguration: Sendable, Equatable {
    /// The STUN server for server-reflexive candidates. libnice 0.1.21 uses one STUN server
    /// per agent; nil gathers no srflx candidate (a TURN server also yields one).
    public var stunServer: IceServerAddress?
    /// TURN servers for relayed candidates, at most `IceConstants.maxTurnServers`.
    public var turnServers: [TurnServer]
    /// Numeric local addresses host candidates may use (e.g. ["127.0.0.1"] in tests).
    /// Empty: every interface libnice finds (loopback excluded by libnice when others exist).
    public var localAddresses: [String]
    /// Remote candidates accepted before `addRemoteCandidate` refuses with
    /// `tooManyRemoteCandidates`: 1...`IceConstants.maxRemoteCandidatesLimit` (default 32).
    public var maxRemoteCandidates: Int
    /// ICE-TCP host candidates (RFC 6544). Off: a call uses UDP, and TURN over TCP where
    /// UDP is blocked.
    public var iceTCP: Bool
    /// Gather and offer relayed local candidates only (hides local addresses from the peer).
    public var relayOnly: Bool
    public var nomination: IceNomination
    /// Timer Ta: the pacing of STUN transactions (gathering and checks), 1 ms...1 s.
    /// libnice's default is 20 ms; 5 ms connects faster on a LAN at the cost of bursts.
    public var checkPacing: Duration
    /// How long after both `gather()` and `setRemoteCredentials` the transport waits for
    /// connected before reporting `failed(connectTimeout)`; 1 s...300 s.
    public var connectTimeout: Duration
    /// SO_RCVBUF / SO_SNDBUF requested for the agent's sockets (0 leaves the kernel's
    /// default). Non-reliable sends never push back, so the receiver's buffer is what absorbs
    /// bursts: the default 212 992 bytes hold about 90 datagrams of 1200 bytes, 4 MiB about
    /// 1700. Linux caps the request at net.core.rmem_max / wmem_max.
    public var socketReceiveBufferBytes: Int
    public var socketSendBufferBytes: Int
    /// libnice's own RFC 7675 consent freshness. Off by default: a call judges consent from
    /// its authenticated frames instead (`PathConsent`, PROTOCOL.md "ICE"), because libnice
    /// 0.1.21 sends one consent check every 4-6 s without retransmitting it and revokes
    /// consent 10 s after the last response, so one lost check or response ends a call
    /// about half the time (measured: 1 call in 15-20 died under 3 % loss each way). On, a
    /// connected transport reports `disconnected(consentLost)` as libnice decides.
    public var libniceConsentFreshness: Bool

    public init(stunServer: IceServerAddress? = nil,
                turnServers: [TurnServer] = [],
                localAddresses: [String] = [],
                maxRemoteCandidates: Int = IceConstants.defaultMaxRemoteCandidates,
                iceTCP: Bool = false,
                relayOnly: Bool = false,
                nomination: IceNomination = .aggressive,
                checkPacing: Duration = .milliseconds(20),
                connectTimeout: Duration = .seconds(20),
                socketReceiveBufferBytes: Int = 4 << 20,
                socketSendBufferBytes: Int = 1 << 20,
                libniceConsentFreshness: Bool = false) {
        self.stunServer = stunServer
        self.turnServers = turnServers
        self.localAddresses = localAddresses
        self.maxRemoteCandidates = maxRemoteCandidates
        self.iceTCP = iceTCP
        self.relayOnly = relayOnly
        self.nomination = nomination
        self.checkPacing = checkPacing
        self.connectTimeout = connectTimeout
        self.socketReceiveBufferBytes = socketReceiveBufferBytes
        self.socketSendBufferBytes = socketSendBufferBytes
        self.libniceConsentFreshness = libniceConsentFreshness
    }

    /// Checks every field; the error names the field and its range.
    public func validate() throws(IceError) {
        func fail(_ message: String) -> IceError { IceError(.invalidConfiguration, message) }
        if let stunServer {
            guard IceConfiguration.isNumericAddress(stunServer.host), stunServer.port != 0 else {
                throw fail("stunServer must be a numeric IP address and a nonzero port (libnice does not resolve names)")
            }
        }
        guard turnServers.count <= IceConstants.maxTurnServers else {
            throw fail("at most \(IceConstants.maxTurnServers) TURN servers (libnice's limit), got \(turnServers.count)")
        }
        for server in turnServers {
            guard IceConfiguration.isNumericAddress(server.address.host), server.address.port != 0 else {
                throw fail("TURN server address must be a numeric IP address and a nonzero port (libnice does not resolve names)")
            }
            guard !server.username.isEmpty, !server.password.isEmpty,
                  !server.username.utf8.contains(0), !server.password.utf8.contains(0) else {
                throw fail("TURN username and password must be non-empty and contain no NUL")
            }
        }
        for address in localAddresses where !IceConfiguration.isNumericAddress(address) {
            throw fail("localAddresses must be numeric IP addresses, got \"\(address)\"")
        }
        guard (1...IceConstants.maxRemoteCandidatesLimit).contains(maxRemoteCandidates) else {
            throw fail("maxRemoteCandidates must be 1...\(IceConstants.maxRemoteCandidatesLimit), got \(maxRemoteCandidates)")
        }
        guard checkPacing >= .milliseconds(1), checkPacing <= .seconds(1) else {
            throw fail("checkPacing must be 1 ms...1 s, got \(checkPacing)")
        }
        guard connectTimeout >= .seconds(1), connectTimeout <= .seconds(300) else {
            throw fail("connectTimeout must be 1 s...300 s, got \(connectTimeout)")
        }
        guard (0...(256 << 20)).contains(socketReceiveBufferBytes), (0...(256 << 20)).contains(socketSendBufferBytes) else {
            throw fail("socket buffer sizes must be 0...256 MiB")
        }
        if relayOnly && turnServers.isEmpty {
            throw fail("relayOnly needs at least one TURN server")
        }
    }

    /// Whole milliseconds, rounded down (at least 1 for a positive duration).
    static func milliseconds(_ duration: Duration) -> UInt32 {
        let (seconds, attoseconds) = duration.components
        let total = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        return UInt32(clamping: max(total, duration > .zero ? 1 : 0))
    }

    /// True for an IPv4 or IPv6 literal (inet_pton), the only form libnice accepts.
    static func isNumericAddress(_ text: String) -> Bool {
        var buffer = in6_addr()
        return withUnsafeMutableBytes(of: &buffer) { raw in
            inet_pton(AF_INET, text, raw.baseAddress) == 1 || inet_pton(AF_INET6, text, raw.baseAddress) == 1
        }
    }
}
