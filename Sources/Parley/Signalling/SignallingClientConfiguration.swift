import ParleyCrypto
import ParleyProtocol

/// How the client decides that it reached the right server.
public enum ServerTrust: Equatable, Sendable {
    /// Accept exactly the certificate whose DER encoding has this SHA-256 (the pin
    /// `parley-signal` prints), whatever signed it and whatever names it carries. The
    /// system's CA store plays no part.
    case pinned(sha256: [UInt8])
    /// OpenSSL's chain verification against the CA certificates in `caFilePath` (PEM;
    /// only these, not the system store: pass the system bundle, e.g.
    /// `/etc/ssl/certs/ca-certificates.crt`, to trust public CAs), plus the host name
    /// check against `serverName` (nil: the URL's host), which is also sent as SNI.
    case certificateAuthority(caFilePath: String, serverName: String?)

    /// A pin written as 64 hex digits, optionally with `:` or space separators
    /// (`parley-signal`'s output, or `openssl x509 -fingerprint -sha256`).
    public static func pinned(hex: String) throws(SignallingClientError) -> ServerTrust {
        let digits = String(hex.filter { $0 != ":" })
        guard let bytes = Hex.decode(digits), bytes.count == SignallingClientConfiguration.pinCount else {
            throw SignallingClientError(.invalidConfiguration,
                                        "a certificate pin is \(SignallingClientConfiguration.pinCount * 2) hex digits (SHA-256)")
        }
        return .pinned(sha256: bytes)
    }
}

/// When and how often the client reconnects after a retryable failure.
public struct ReconnectPolicy: Equatable, Sendable {
    /// Reconnection attempts after consecutive failures before giving up with the last
    /// error; nil retries forever. 0 never reconnects.
    public var maxAttempts: Int?
    /// The delay before each attempt (exponential ceiling, full jitter).
    public var backoff: ReconnectBackoff
    /// A connection that stayed online this long counts as healthy: the next failure
    /// starts again from the first attempt (short delays).
    public var resetAfter: Duration

    public init(maxAttempts: Int? = nil, backoff: ReconnectBackoff = ReconnectBackoff(), resetAfter: Duration = .seconds(60)) {
        self.maxAttempts = maxAttempts
        self.backoff = backoff
        self.resetAfter = resetAfter
    }
}

/// Everything a `SignallingClient` (and its sans-IO `SignallingClientCore`) needs.
public struct SignallingClientConfiguration: Sendable {
    /// SHA-256 digest size of a certificate pin.
    public static let pinCount = 32

    /// `wss://host[:port][/path]` (see `SignallingURL`).
    public var url: String
    public var trust: ServerTrust
    /// The realm to join, 1...64 bytes of UTF-8, compared by the server byte for byte.
    public var realm: String
    /// A one-time enrollment code for a server with an allowlist; empty for none. Sent
    /// until the first welcome, never after (the code is used up by then).
    public var enrollmentCode: String
    /// Bytes of encoded messages waiting to be written before `send` refuses with
    /// `sendQueueFull`. Messages the client makes itself (auth, ping) always fit.
    public var maxSendQueueBytes: Int
    /// From the start of an attempt (DNS, TCP, TLS, WebSocket, auth) to the welcome.
    public var connectTimeout: Duration
    /// Added to two ping intervals before a silent connection counts as dead.
    public var deadConnectionMargin: Duration
    public var reconnect: ReconnectPolicy
    /// Keep the set of online peers (`onlinePeers`, `.presence` events). A load generator
    /// with thousands of clients in one realm turns this off: memory grows with the
    /// square of the realm size. Off, only `.presenceChanged` events are emitted (for
    /// updates; snapshots are not reported).
    public var tracksPresence: Bool
    /// The local IPv4 address to connect from (nil: any). Load generators spread many
    /// connections over several source addresses (127.0.0.2, 127.0.0.3, ...) to get past
    /// the ephemeral ports of one.
    public var localAddress: String?

    public init(url: String, trust: ServerTrust, realm: String, enrollmentCode: String = "",
                maxSendQueueBytes: Int = 1 << 20, connectTimeout: Duration = .seconds(15),
                deadConnectionMargin: Duration = .seconds(5), reconnect: ReconnectPolicy = ReconnectPolicy(),
                tracksPresence: Bool = true) {
        self.url = url
        self.trust = trust
        self.realm = realm
        self.enrollmentCode = enrollmentCode
        self.maxSendQueueBytes = maxSendQueueBytes
        self.connectTimeout = connectTimeout
        self.deadConnectionMargin = deadConnectionMargin
        self.reconnect = reconnect
        self.tracksPresence = tracksPresence
    }

    /// Checks every field and returns the parsed URL.
    public func validate() throws(SignallingClientError) -> SignallingURL {
        let url = try SignallingURL(url)
        let realmBytes = realm.utf8.count
        guard (1...SignalLimits.maxRealmBytes).contains(realmBytes) else {
            throw SignallingClientError(.invalidConfiguration, "the realm must be 1...\(SignalLimits.maxRealmBytes) bytes of UTF-8, got \(realmBytes)")
        }
        guard enrollmentCode.utf8.count <= SignalLimits.maxEnrollmentCodeBytes else {
            throw SignallingClientError(.invalidConfiguration, "the enrollment code must be at most \(SignalLimits.maxEnrollmentCodeBytes) bytes")
        }
        switch trust {
        case let .pinned(sha256):
            guard sha256.count == SignallingClientConfiguration.pinCount else {
                throw SignallingClientError(.invalidConfiguration, "a certificate pin is \(SignallingClientConfiguration.pinCount) bytes (SHA-256), got \(sha256.count)")
            }
        case let .certificateAuthority(caFilePath, serverName):
            guard !caFilePath.isEmpty else { throw SignallingClientError(.invalidConfiguration, "the CA file path is empty") }
            if let serverName, serverName.isEmpty || serverName.utf8.count > 253 {
                throw SignallingClientError(.invalidConfiguration, "the server name must be 1...253 bytes")
            }
        }
        guard maxSendQueueBytes >= SignalLimits.maxMessageBytes else {
            throw SignallingClientError(.invalidConfiguration,
                                        "the send queue must hold at least one largest message (\(SignalLimits.maxMessageBytes) bytes)")
        }
        guard connectTimeout > .zero, deadConnectionMargin >= .zero else {
            throw SignallingClientError(.invalidConfiguration, "the connect timeout must be positive and the dead-connection margin not negative")
        }
        try reconnect.backoff.validate()
        if let maxAttempts = reconnect.maxAttempts, maxAttempts < 0 {
            throw SignallingClientError(.invalidConfiguration, "maxAttempts must not be negative")
        }
        return url
    }
}
