import ArgumentParser
import Glibc
import Parley
import ParleyCrypto

/// The options every sample shares: who this device is and which server it talks to.
/// Each can come from a flag or from the sample's config file (`--config`); a flag wins.
///
///     identity = /var/lib/parley-agent/identity.key
///     server = wss://signal.example.net:8443/
///     pin = 3f9c...            # the server certificate's SHA-256, 64 hex digits
///     realm = home
///     enrollment_code = k7pq-2m9x-a4rt-zz3b
///     ice_address = 192.0.2.10     # repeatable; default: every interface
///     stun = 192.0.2.1:3478
///     turn = udp 192.0.2.1:3478 alice s3cret   # repeatable
public struct ClientOptions: ParsableArguments, Sendable {
    /// The config-file keys these options read; a sample adds its own.
    public static let fileKeys: Set<String> = ["identity", "server", "pin", "realm", "enrollment_code", "ice_address", "stun", "turn"]
    /// The keys that may repeat.
    public static let repeatableKeys: Set<String> = ["ice_address", "turn"]
    /// The realm when none is given.
    public static let defaultRealm = "default"
    /// The environment variable an enrollment code may come from (keeps it out of `ps`).
    public static let enrollmentCodeVariable = "PARLEY_ENROLLMENT_CODE"

    @Option(name: .long, help: ArgumentHelp("A config file of key = value lines; flags override it.", valueName: "file"))
    public var config: String?
    @Option(name: .long, help: ArgumentHelp("This device's identity key file; created (mode 0600) when missing. Default: ~/.config/parley/identity.key", valueName: "file"))
    public var identity: String?
    @Option(name: .long, help: ArgumentHelp("The signalling server, wss://host:port/.", valueName: "url"))
    public var server: String?
    @Option(name: .long, help: ArgumentHelp("The server certificate's SHA-256 pin (64 hex digits, as parley-signal prints it).", valueName: "hex"))
    public var pin: String?
    @Option(name: .long, help: ArgumentHelp("The realm to join (default: \(ClientOptions.defaultRealm)).", valueName: "name"))
    public var realm: String?
    @Option(name: .long, help: ArgumentHelp("A one-time enrollment code from `parley-signal enroll` (or $\(ClientOptions.enrollmentCodeVariable)).", valueName: "code"))
    public var enrollmentCode: String?
    @Option(name: .long, help: ArgumentHelp("A local address to offer ICE candidates on (repeatable; default: every interface).", valueName: "ip"))
    public var iceAddress: [String] = []
    @Option(name: .long, help: ArgumentHelp("A STUN server, numeric host:port.", valueName: "host:port"))
    public var stun: String?

    public init() {}

    /// Everything a `ParleyClient` needs, resolved from flags over `file`.
    public struct Resolved: Sendable {
        public var configuration: ParleyConfiguration
        public var identityPath: String
    }

    /// Resolves the options against `file` (the sample's parsed config file, if any).
    public func resolve(file: KeyValueFile?) throws(SampleError) -> Resolved {
        guard let url = server ?? file?["server"] else {
            throw SampleError.configuration("no signalling server: give --server wss://host:port/ or server = ... in --config")
        }
        guard let pinText = pin ?? file?["pin"] else {
            throw SampleError.configuration("no server pin: give --pin (the 64 hex digits parley-signal prints at start) or pin = ... in --config")
        }
        let trust: ServerTrust
        do { trust = try ServerTrust.pinned(hex: pinText) } catch {
            throw SampleError.configuration("--pin: \(error)")
        }
        let environmentCode = getenv(Self.enrollmentCodeVariable).map { String(cString: $0) }
        let code = enrollmentCode ?? file?["enrollment_code"] ?? environmentCode ?? ""
        var signalling = SignallingClientConfiguration(url: url, trust: trust, realm: realm ?? file?["realm"] ?? Self.defaultRealm,
                                                       enrollmentCode: code)
        // Samples reconnect forever (the default policy has no attempt limit).
        signalling.reconnect = ReconnectPolicy(maxAttempts: nil)
        do { _ = try signalling.validate() } catch { throw SampleError.configuration("\(error)") }

        var ice = IceConfiguration()
        let addresses = iceAddress.isEmpty ? (file?.values("ice_address").map(\.value) ?? []) : iceAddress
        ice.localAddresses = addresses
        if let stunText = stun ?? file?["stun"] { ice.stunServer = try Self.parseAddress(stunText, what: "stun") }
        for entry in file?.values("turn") ?? [] { ice.turnServers.append(try Self.parseTurn(entry, path: file!.path)) }

        let path = identity ?? file?["identity"] ?? Self.defaultIdentityPath()
        return Resolved(configuration: ParleyConfiguration(signalling: signalling, ice: ice), identityPath: path)
    }

    /// `~/.config/parley/identity.key` (or under `$XDG_CONFIG_HOME`).
    public static func defaultIdentityPath() -> String {
        if let xdg = getenv("XDG_CONFIG_HOME"), xdg.pointee != 0 { return String(cString: xdg) + "/parley/identity.key" }
        let home = getenv("HOME").map { String(cString: $0) } ?? "."
        return home + "/.config/parley/identity.key"
    }

    /// Loads the identity at `path`, or creates it (and its directory, mode 0700) when the
    /// file does not exist. `created` tells the caller to announce the new device ID.
    public static func loadOrCreateIdentity(path: String) throws(SampleError) -> (identity: DeviceIdentity, created: Bool) {
        if access(path, F_OK) == 0 {
            do { return (try DeviceIdentity.load(path: path), false) } catch { throw SampleError.identity("\(error)") }
        }
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        try makeDirectories(directory)
        let identity = DeviceIdentity()
        do { try identity.save(path: path) } catch { throw SampleError.identity("\(error)") }
        return (identity, true)
    }

    /// `mkdir -p` with mode 0700 for the directories it creates.
    static func makeDirectories(_ path: String) throws(SampleError) {
        if path.isEmpty || access(path, F_OK) == 0 { return }
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            try makeDirectories(String(path[..<slash]))
        }
        if mkdir(path, 0o700) != 0, errno != EEXIST {
            throw SampleError.file(path, "cannot create directory: \(String(cString: strerror(errno)))")
        }
    }

    /// `host:port` or `[v6]:port`, numeric (libnice does not resolve names).
    public static func parseAddress(_ text: String, what: String) throws(SampleError) -> IceServerAddress {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw SampleError.configuration("\(what) \(text): expected [v6]:port") }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw SampleError.configuration("\(what) \(text): expected host:port") }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard let port = UInt16(portText), port > 0 else { throw SampleError.configuration("\(what) \(text): bad port") }
        var v4 = in_addr()
        var v6 = in6_addr()
        guard inet_pton(AF_INET, String(host), &v4) == 1 || inet_pton(AF_INET6, String(host), &v6) == 1 else {
            throw SampleError.configuration("\(what) \(text): the host must be a numeric IPv4 or IPv6 address")
        }
        return IceServerAddress(host: String(host), port: port)
    }

    /// `udp|tcp host:port username password`.
    static func parseTurn(_ entry: KeyValueFile.Entry, path: String) throws(SampleError) -> TurnServer {
        let fields = entry.value.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard fields.count == 4, let transport = TurnTransport(rawValue: fields[0]) else {
            throw SampleError.configuration("\(path):\(entry.line): turn = udp|tcp host:port username password")
        }
        return TurnServer(address: try parseAddress(fields[1], what: "turn"), transport: transport, username: fields[2], password: fields[3])
    }
}
