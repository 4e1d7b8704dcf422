import ArgumentParser
import CSodium
import Glibc
import Logging
import Parley
import ParleyCrypto

/// `parley-bench call-peer` (hidden): a device in a process of its own, for the test that
/// a call whose peer process is killed ends by consent loss. It connects to the server,
/// answers the first incoming call with `--code`, echoes every message of that call
/// back, and reports on stdout, one line each:
///
///     device <printable device ID>     online, ready to be called
///     connected                        the call is connected
///     ended <how>                      the call ended (the process keeps running)
///
/// It exits when its stdin closes (or anything is written to it), or after `--lifetime`
/// seconds, so it never outlives a test that forgot it.
struct CallPeerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call-peer",
        abstract: "A device that answers one call and echoes its messages (started by the call tests).",
        shouldDisplay: false
    )

    @Option(help: "The signalling server, wss://host:port/.")
    var url: String
    @Option(help: "The server certificate's SHA-256 pin, 64 hex digits.")
    var pin: String
    @Option var realm: String
    @Option(help: "The security code to accept the call with (none when omitted).")
    var code: String?
    @Option(help: "Seconds before the process exits by itself.")
    var lifetime: Int = 120

    /// How long the device may take to come online before the command fails.
    static let onlineTimeout: Duration = .seconds(20)
    /// How often stdin and the lifetime are checked.
    static let pollInterval: Duration = .milliseconds(50)

    func validate() throws {
        if lifetime < 1 { throw ValidationError("--lifetime must be at least 1 second") }
    }

    func run() async throws {
        guard sodium_init() >= 0 else { throw BenchmarkError(workload: "call-peer", problem: "sodium_init failed") }
        signal(SIGPIPE, SIG_IGN)
        var logger = Logger(label: "parley-bench.call-peer") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .error
        var ice = IceConfiguration()
        ice.localAddresses = ["127.0.0.1"]
        let signalling = SignallingClientConfiguration(url: url, trust: try ServerTrust.pinned(hex: pin), realm: realm,
                                                       connectTimeout: .seconds(5))
        let client = try ParleyClient(configuration: ParleyConfiguration(signalling: signalling, ice: ice),
                                      identity: DeviceIdentity(), logger: logger)
        defer { client.stop() }
        try client.start()

        let online = ContinuousClock.now + Self.onlineTimeout
        while !client.connectionState.isOnline {
            guard ContinuousClock.now < online else {
                throw BenchmarkError(workload: "call-peer", problem: "not online after \(Self.onlineTimeout): \(client.connectionState)")
            }
            try await Task.sleep(for: Self.pollInterval)
        }
        let answering = Task { [code] in
            for await call in client.incomingCalls() {
                await Self.answer(call, code: code)
                return
            }
        }
        defer { answering.cancel() }
        Self.emit("device \(client.deviceID.printable)")

        let end = ContinuousClock.now + .seconds(lifetime)
        while ContinuousClock.now < end, Self.standardInputIsOpen() {
            try await Task.sleep(for: Self.pollInterval)
        }
    }

    /// Accepts `call`, reports it connected, echoes its messages until it ends, reports the end.
    private static func answer(_ call: Call, code: String?) async {
        let received = call.received()
        do {
            try call.accept(securityCode: code)
            try await call.connected()
        } catch {
            emit("ended \(call.end.map { "\($0)" } ?? "\(error)")")
            return
        }
        emit("connected")
        for await data in received {
            if case let .message(bytes) = data { _ = try? call.send(message: bytes) }
        }
        emit("ended \(call.end.map { "\($0)" } ?? "?")")
    }

    /// False once stdin reached end-of-file or has input (the parent's signal to stop).
    private static func standardInputIsOpen() -> Bool {
        var descriptor = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) == 0
    }

    /// One line on stdout, written at once (stdout is a pipe: no buffering to wait for).
    private static func emit(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
    }
}
