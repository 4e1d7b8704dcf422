import ParleyCrypto
import SignallingCore

/// Everything `parley-signal` needs to run, with the embedded defaults
/// (127.0.0.1:8443, open enrollment, a self-signed certificate in the state directory,
/// metrics on 127.0.0.1:9464). The config file and flags override fields
/// (Signalling/SignallingServer/README.md).
public struct ServerOptions: Sendable {
    /// Address the TLS WebSocket listener binds to.
    public var listenHost = "127.0.0.1"
    /// TCP port of the TLS WebSocket listener; 0 lets the system pick (see `SignallingServer.port`).
    public var port = 8443
    /// Where the first-start certificate, the allowlist, enrollment codes and the pid file live.
    public var stateDirectory = ServerOptions.defaultStateDirectory()
    /// Certificate and key PEM files; nil means the self-signed pair in the state directory
    /// (generated on first start).
    public var certificatePath: String?
    public var privateKeyPath: String?
    /// How devices are admitted.
    public var enrollment: EnrollmentPolicy = .open
    /// Address and port of the plain-HTTP Prometheus endpoint (`GET /metrics`); port nil: off.
    public var metricsHost = "127.0.0.1"
    public var metricsPort: Int? = 9464
    /// After SIGTERM, how long queued messages may take to drain before connections are cut.
    public var drainTimeout: Duration = .seconds(5)
    /// Sockets accepted beyond `core.maxConnections` so that the extra ones get
    /// `error(serverFull)` over WebSocket; past this the TCP connection is refused before TLS.
    public var refusalHeadroom = 64
    /// Limits and timeouts of the signalling core.
    public var core = ServerConfiguration()
    /// lws's event loop: `libev` (epoll; the default) or lws's own `poll` loop, whose every
    /// wakeup walks all open sockets (fine for a few hundred devices, not for thousands).
    public var eventLoop: EventLoop = .libev

    public enum EventLoop: String, Sendable, CaseIterable { case libev, poll }

    public init() {}

    /// `$PARLEY_SIGNAL_STATE_DIR`, else `/var/lib/parley-signal` for root, else
    /// `$XDG_STATE_HOME/parley-signal` or `~/.local/state/parley-signal`.
    public static func defaultStateDirectory(environment: [String: String] = ProcessEnvironment.current) -> String {
        if let explicit = environment["PARLEY_SIGNAL_STATE_DIR"], !explicit.isEmpty { return explicit }
        if ProcessEnvironment.isRoot { return "/var/lib/parley-signal" }
        if let state = environment["XDG_STATE_HOME"], !state.isEmpty { return state + "/parley-signal" }
        return (environment["HOME"] ?? ".") + "/.local/state/parley-signal"
    }
}

/// The TLS certificate the server presents, its private key in protected memory, and the
/// SHA-256 of its DER encoding: the pin devices check and bind into their auth signature.
public final class ServerCertificate: Sendable {
    public let certificatePEM: [UInt8]
    /// PKCS#8 PEM, never copied into ordinary memory by Parley.
    public let privateKeyPEM: SecretBytes
    public let sha256: [UInt8]

    public init(certificatePEM: [UInt8], privateKeyPEM: SecretBytes, sha256: [UInt8]) {
        self.certificatePEM = certificatePEM
        self.privateKeyPEM = privateKeyPEM
        self.sha256 = sha256
    }

    /// The pin as printed for people and accepted by clients: 64 lower-case hex digits.
    public var pin: String { sha256.map { String(format2: $0) }.joined() }
}

/// A one-time enrollment code as persisted: its digest (`EnrollmentCodes.digest`) and its
/// expiry in wall-clock seconds since 1970 (the server converts to its monotonic clock).
public struct EnrollmentCodeRecord: Sendable, Equatable {
    public var digest: [UInt8]
    public var expiresAtUnixSeconds: Int64
    public init(digest: [UInt8], expiresAtUnixSeconds: Int64) {
        self.digest = digest
        self.expiresAtUnixSeconds = expiresAtUnixSeconds
    }
}

/// What the server reads on start and on reload (SIGHUP), and where it records an
/// enrollment. `StateDirectory` keeps it in files; tests keep it in memory.
/// Called on the server's service thread.
public protocol ServerStateStore: Sendable {
    func loadAllowlist() throws -> [DeviceID: String]
    func loadEnrollmentCodes() throws -> [EnrollmentCodeRecord]
    /// A device presented a valid one-time code: add it to the allowlist (empty name)
    /// and forget the code.
    func recordEnrollment(device: DeviceID, codeDigest: [UInt8]) throws
}

/// Gauges and counters the server exports on /metrics (rendered by `MetricsExporter`).
public struct ServerMetricsSnapshot: Sendable, Equatable {
    /// Counters kept by the core.
    public var statistics = ServerStatistics()
    /// WebSocket connections open now, and how many of them are authenticated devices.
    public var connections = 0
    public var devices = 0
    /// TCP sockets open now (including TLS and HTTP handshakes in progress).
    public var sockets = 0
    /// Calls ringing or connected now.
    public var calls = 0
    /// Bytes waiting in all send queues now.
    public var queuedBytes = 0
    /// Connections closed because their send queue overflowed (slow readers).
    public var queueDrops = 0
    /// TCP connections refused before TLS because the socket limit was reached.
    public var socketsRefused = 0
    /// Messages received from devices and sent to devices, by envelope type name.
    public var messagesReceivedByType: [String: Int] = [:]
    public var messagesSentByType: [String: Int] = [:]

    public init() {}
}

extension String {
    /// Two lower-case hex digits.
    init(format2 byte: UInt8) {
        let digits = Array("0123456789abcdef")
        self = String([digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]])
    }
}
