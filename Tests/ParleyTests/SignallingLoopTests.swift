import Glibc
import Parley
import ParleyCrypto
import ParleyProtocol
import Synchronization
import XCTest

/// The libwebsockets adapter without a server: real sockets on loopback that refuse,
/// never answer, or do not resolve. (Tests/SignallingServerTests connects to a real server.)
final class SignallingLoopTests: XCTestCase {
    private static let pin = ServerTrust.pinned(sha256: [UInt8](repeating: 0x42, count: 32))

    private static func configuration(_ url: String, maxAttempts: Int? = nil, connectTimeout: Duration = .seconds(5))
        -> SignallingClientConfiguration {
        SignallingClientConfiguration(url: url, trust: pin, realm: "home", connectTimeout: connectTimeout,
                                      reconnect: ReconnectPolicy(maxAttempts: maxAttempts,
                                                                 backoff: ReconnectBackoff(baseDelay: .milliseconds(5), maxDelay: .milliseconds(20))))
    }

    func testRefusedConnectionIsRetriedThenStopsAfterMaxAttempts() throws {
        let socket = try LoopbackSocket(listening: false)
        let loop = try SignallingLoop(maxConnections: 4)
        defer { loop.shutdown() }
        let recorder = EventRecorder()
        let client = try SignallingClient(configuration: Self.configuration("wss://127.0.0.1:\(socket.port)/", maxAttempts: 2),
                                          identity: DeviceIdentity(), loop: loop, handler: recorder.record)
        client.start()
        let final = try recorder.waitForStop()
        XCTAssertEqual(final??.code, .serverUnreachable)
        let states = recorder.states
        XCTAssertEqual(states.filter { $0 == .connecting }.count, 3, "\(states)")
        XCTAssertEqual(states.compactMap { if case let .waitingToReconnect(_, attempt, _) = $0 { attempt } else { nil } }, [1, 2])
        XCTAssertEqual(client.state.stoppedError??.code, .serverUnreachable)
    }

    func testSilentServerHitsTheConnectTimeout() throws {
        let socket = try LoopbackSocket(listening: true)
        let loop = try SignallingLoop(maxConnections: 4)
        defer { loop.shutdown() }
        let recorder = EventRecorder()
        let client = try SignallingClient(configuration: Self.configuration("wss://127.0.0.1:\(socket.port)/", maxAttempts: 0,
                                                                            connectTimeout: .milliseconds(300)),
                                          identity: DeviceIdentity(), loop: loop, handler: recorder.record)
        let started = ContinuousClock.now
        client.start()
        let final = try recorder.waitForStop()
        XCTAssertEqual(final??.code, .timeout)
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(3))
    }

    func testUnresolvableHostIsServerUnreachable() throws {
        let loop = try SignallingLoop(maxConnections: 4)
        defer { loop.shutdown() }
        let recorder = EventRecorder()
        // RFC 6761: .invalid never resolves.
        let client = try SignallingClient(configuration: Self.configuration("wss://parley-test.invalid:8443/", maxAttempts: 0),
                                          identity: DeviceIdentity(), loop: loop, handler: recorder.record)
        client.start()
        let final = try recorder.waitForStop(timeout: .seconds(30))
        XCTAssertEqual(final??.code, .serverUnreachable)
        XCTAssertTrue(final??.message.contains("resolve") ?? false, "\(String(describing: final))")
    }

    func testLoopShutdownStopsItsClientsAndEndsTheirEventStreams() async throws {
        let socket = try LoopbackSocket(listening: false)
        let loop = try SignallingLoop(maxConnections: 4)
        var configuration = Self.configuration("wss://127.0.0.1:\(socket.port)/")
        configuration.reconnect.backoff = ReconnectBackoff(baseDelay: .seconds(60), maxDelay: .seconds(60))
        let recorder = EventRecorder()
        let client = try SignallingClient(configuration: configuration, identity: DeviceIdentity(), loop: loop, handler: recorder.record)
        let events = client.events()
        client.start()
        var seen: [SignallingEvent] = []
        for await event in events {
            seen.append(event)
            if case .stateChanged(.waitingToReconnect) = event { loop.shutdown() }
        }
        XCTAssertEqual(seen.last, .stateChanged(.stopped(nil)))
        XCTAssertEqual(client.state, .stopped(nil))
        XCTAssertThrowsError(try client.send(.ping(1))) { error in
            XCTAssertEqual((error as? SignallingClientError)?.code, .notConnected)
        }
        client.start()  // ignored: the loop is gone
        loop.shutdown()  // idempotent
    }

    func testStopIsIdempotent() throws {
        let socket = try LoopbackSocket(listening: false)
        let loop = try SignallingLoop(maxConnections: 4)
        defer { loop.shutdown() }
        let recorder = EventRecorder()
        let client = try SignallingClient(configuration: Self.configuration("wss://127.0.0.1:\(socket.port)/"),
                                          identity: DeviceIdentity(), loop: loop, handler: recorder.record)
        client.start()
        client.stop()
        client.stop()
        XCTAssertEqual(try recorder.waitForStop(), .some(nil))
        Thread_sleep(milliseconds: 50)
        XCTAssertEqual(recorder.states.filter { if case .stopped = $0 { true } else { false } }.count, 1)
    }

    func testManyClientsShareOneLoop() throws {
        let socket = try LoopbackSocket(listening: false)
        let loop = try SignallingLoop(maxConnections: 64)
        defer { loop.shutdown() }
        let recorders = (0..<50).map { _ in EventRecorder() }
        let clients = try recorders.map { recorder in
            try SignallingClient(configuration: Self.configuration("wss://127.0.0.1:\(socket.port)/", maxAttempts: 1),
                                 identity: DeviceIdentity(), loop: loop, handler: recorder.record)
        }
        for client in clients { client.start() }
        for recorder in recorders { XCTAssertEqual(try recorder.waitForStop()??.code, .serverUnreachable) }
    }
}

/// Collects a client's events from the loop thread and lets a test wait for the stop.
final class EventRecorder: Sendable {
    private let events = Mutex<[SignallingEvent]>([])

    var record: @Sendable (SignallingEvent) -> Void { { [self] event in events.withLock { $0.append(event) } } }

    var all: [SignallingEvent] { events.withLock { $0 } }

    var states: [ConnectionState] {
        all.compactMap { if case let .stateChanged(state) = $0 { return state } else { return nil } }
    }

    /// Waits for `.stateChanged(.stopped)` and returns its error (nil: stopped cleanly).
    func waitForStop(timeout: Duration = .seconds(10)) throws -> SignallingClientError?? {
        try waitFor(timeout: timeout) { state in state.stoppedError }
    }

    /// Polls the recorded states until `match` returns a value.
    func waitFor<Value>(timeout: Duration = .seconds(10), _ match: (ConnectionState) -> Value?) throws -> Value {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            for state in states { if let value = match(state) { return value } }
            Thread_sleep(milliseconds: 5)
        }
        XCTFail("timed out; states: \(states)")
        throw XCTSkip("timed out")
    }
}

func Thread_sleep(milliseconds: Int) {
    var request = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}

/// A TCP socket on 127.0.0.1 with a free port: bound only (connections are refused) or
/// listening but never accepting (the TCP handshake completes, TLS never answers).
final class LoopbackSocket {
    let fd: Int32
    let port: Int

    init(listening: Bool) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw XCTSkip("no socket") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw XCTSkip("cannot bind") }
        if listening { guard listen(fd, 8) == 0 else { throw XCTSkip("cannot listen") } }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }
}
