import Foundation
import Glibc
import Logging
import Parley
import ParleyCrypto
import ParleyProtocol
import SignallingServer
import Synchronization
import XCTest

/// The Parley signalling client (Sources/Parley) against the real server over TLS on
/// loopback: pinning, the CA mode, authentication, presence, a relayed call, keepalive,
/// and the server's refusals as the client reports them.
final class ClientSmokeTests: XCTestCase {
    private var fixture: ServerFixture!
    private var loop: SignallingLoop!

    override func setUpWithError() throws {
        fixture = try ServerFixture()
        loop = try SignallingLoop(maxConnections: 16, logger: Self.quietLogger)
    }

    override func tearDown() {
        loop.shutdown()
        fixture.stop()
    }

    private static var quietLogger: Logger {
        var logger = Logger(label: "test.parley-client")
        logger.logLevel = .warning
        return logger
    }

    private func client(_ recorder: ClientRecorder, identity: DeviceIdentity = DeviceIdentity(), trust: ServerTrust? = nil,
                        host: String = "127.0.0.1", realm: String = "home", maxAttempts: Int? = 0,
                        localAddress: String? = nil) throws -> SignallingClient {
        var configuration = SignallingClientConfiguration(
            url: "wss://\(host):\(fixture.port)/", trust: trust ?? .pinned(sha256: fixture.pin), realm: realm,
            connectTimeout: .seconds(5),
            reconnect: ReconnectPolicy(maxAttempts: maxAttempts, backoff: ReconnectBackoff(baseDelay: .milliseconds(10), maxDelay: .milliseconds(50))))
        configuration.localAddress = localAddress
        return try SignallingClient(configuration: configuration, identity: identity, loop: loop, logger: Self.quietLogger,
                                    handler: recorder.record)
    }

    /// Two online clients with an accepted call between them (invite, incomingCall, ringing,
    /// accept), the call ID made of `idByte`.
    private func connectedCall(_ idByte: UInt8) throws
        -> (SignallingClient, ClientRecorder, SignallingClient, ClientRecorder, CallID) {
        let aliceEvents = ClientRecorder(), bobEvents = ClientRecorder()
        let alice = try client(aliceEvents), bob = try client(bobEvents)
        alice.start()
        bob.start()
        _ = try aliceEvents.waitForOnline()
        _ = try bobEvents.waitForOnline()
        let call = try CallID(bytes: [UInt8](repeating: idByte, count: 16))
        try alice.send(.invite(callee: bob.deviceID, callID: call, payload: [1, 2, 3]))
        try bobEvents.waitFor { $0.contains(.message(.incomingCall(caller: alice.deviceID, callID: call, payload: [1, 2, 3]))) }
        try aliceEvents.waitFor { $0.contains(.message(.ringing(callID: call))) }
        try bob.send(.accept(callID: call, payload: [4, 5]))
        try aliceEvents.waitFor { $0.contains(.message(.accept(callID: call, payload: [4, 5]))) }
        return (alice, aliceEvents, bob, bobEvents, call)
    }

    /// The payloads of the first `count` signals `recorder` received, in arrival order.
    private func signals(receivedBy recorder: ClientRecorder, count: Int) throws -> [[UInt8]] {
        func payloads(_ events: [SignallingEvent]) -> [[UInt8]] {
            events.compactMap { if case let .message(.signal(_, payload)) = $0 { payload } else { nil } }
        }
        try recorder.waitFor { payloads($0).count >= count }
        return payloads(recorder.all)
    }

    func testPinnedClientReachesOnline() throws {
        let recorder = ClientRecorder()
        let identity = DeviceIdentity()
        let alice = try client(recorder, identity: identity)
        alice.start()
        let welcome = try recorder.waitForOnline()
        XCTAssertEqual(welcome.deviceID, identity.deviceID)
        XCTAssertEqual(welcome.realm, "home")
        XCTAssertEqual(recorder.states.prefix(3), [.connecting, .authenticating, .online(welcome)])
        try recorder.waitFor { $0.contains(.presence(online: [])) }
        alice.stop()
        XCTAssertEqual(try recorder.waitForStop(), .some(nil))
    }

    func testPresenceOfASecondClient() throws {
        let aliceEvents = ClientRecorder(), bobEvents = ClientRecorder()
        let alice = try client(aliceEvents)
        alice.start()
        _ = try aliceEvents.waitForOnline()
        let bobIdentity = DeviceIdentity()
        let bob = try client(bobEvents, identity: bobIdentity)
        bob.start()
        _ = try bobEvents.waitForOnline()
        try aliceEvents.waitFor { $0.contains(.presence(online: [bobIdentity.deviceID])) }
        XCTAssertEqual(alice.onlinePeers, [bobIdentity.deviceID])
        XCTAssertEqual(bob.onlinePeers, [alice.deviceID])
        bob.stop()
        try aliceEvents.waitFor { $0.contains(.presenceChanged(bobIdentity.deviceID, online: false)) }
        XCTAssertEqual(alice.onlinePeers, [])
    }

    func testCallIsRelayedBetweenTwoClients() throws {
        let (alice, aliceEvents, bob, bobEvents, call) = try connectedCall(0x77)
        let large = (0..<SignalLimits.maxSignalPayloadBytes).map { UInt8(truncatingIfNeeded: $0) }
        for index in 0..<20 { try alice.send(.signal(callID: call, payload: index == 10 ? large : [UInt8(index)])) }
        let received = try signals(receivedBy: bobEvents, count: 20)
        XCTAssertEqual(received, (0..<20).map { $0 == 10 ? large : [UInt8($0)] }, "in order, the largest payload intact")
        try bob.send(.hangup(callID: call))
        try aliceEvents.waitFor { $0.contains(.message(.callEnded(callID: call, outcome: .hungUp))) }
    }

    /// Messages queued faster than the socket drains go out framed in batches (several frames
    /// per TLS record, masked by the client); every length encoding must survive that.
    func testBurstOfMessagesOfEveryLengthEncodingArrivesInOrderIntact() throws {
        let (alice, _, _, bobEvents, call) = try connectedCall(0x78)
        // Payload lengths around the 7-bit and 16-bit frame length boundaries, and the largest.
        let lengths = [1, 103, 104, 700, 16_000, SignalLimits.maxSignalPayloadBytes]
        let sent = (0..<60).map { index in  // about 500 KB: within the client's 1 MiB queue
            (0..<lengths[index % lengths.count]).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }
        }
        for payload in sent { try alice.send(.signal(callID: call, payload: payload)) }
        let received = try signals(receivedBy: bobEvents, count: sent.count)
        XCTAssertEqual(received, sent, "every message once, in order, byte for byte")
    }

    /// Load generators spread connections over source addresses; an address the machine
    /// does not have cannot be bound and the connection fails as unreachable.
    func testLocalAddressIsUsedAndAForeignOneFails() throws {
        let bound = ClientRecorder()
        let alice = try client(bound, localAddress: "127.0.0.2")
        alice.start()
        _ = try bound.waitForOnline()
        alice.stop()

        let foreign = ClientRecorder()
        let bob = try client(foreign, localAddress: "192.0.2.1")  // TEST-NET-1: not on this machine
        bob.start()
        let reason = try foreign.waitFor { state -> SignallingClientError? in
            if case let .stopped(error) = state { return error } else { return nil }
        }
        XCTAssertEqual(reason.code, .serverUnreachable)
        XCTAssertFalse(foreign.states.contains(.authenticating))
    }

    func testWrongPinIsRefusedInTheHandshake() throws {
        let recorder = ClientRecorder()
        let wrong = [UInt8](repeating: 0, count: 32)
        let alice = try client(recorder, trust: .pinned(sha256: wrong), maxAttempts: nil)
        alice.start()
        let reason = try recorder.waitFor { state -> SignallingClientError? in
            if case let .waitingToReconnect(_, _, reason) = state { return reason } else { return nil }
        }
        XCTAssertEqual(reason.code, .tlsPinMismatch)
        XCTAssertTrue(reason.message.contains(Hex.encode(fixture.pin.prefix(8))), reason.message)
        XCTAssertFalse(recorder.states.contains(.authenticating), "no auth was attempted")
        XCTAssertEqual(fixture.server.metricsSnapshot().statistics.authenticated, 0)
        alice.stop()
    }

    func testPinAloneDecidesWhateverNamesTheCertificateCarries() throws {
        // The certificate names 127.0.0.1 and localhost; the server listens on 127.0.0.2.
        let other: ServerFixture
        do {
            other = try ServerFixture(configure: { $0.listenHost = "127.0.0.2" })
        } catch {
            throw XCTSkip("cannot listen on 127.0.0.2 here: \(error)")
        }
        defer { other.stop() }
        let recorder = ClientRecorder()
        let configuration = SignallingClientConfiguration(url: "wss://127.0.0.2:\(other.port)/", trust: .pinned(sha256: other.pin),
                                                          realm: "home", reconnect: ReconnectPolicy(maxAttempts: 0))
        let alice = try SignallingClient(configuration: configuration, identity: DeviceIdentity(), loop: loop,
                                         logger: Self.quietLogger, handler: recorder.record)
        alice.start()
        _ = try recorder.waitForOnline()
    }

    func testCertificateAuthorityModeChecksChainAndName() throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let caFile = directory.file("ca.pem")
        try Data(fixture.certificate.certificatePEM).write(to: URL(fileURLWithPath: caFile))
        let good = ClientRecorder()
        let alice = try client(good, trust: .certificateAuthority(caFilePath: caFile, serverName: "localhost"))
        alice.start()
        _ = try good.waitForOnline()

        let wrongName = ClientRecorder()
        let bob = try client(wrongName, trust: .certificateAuthority(caFilePath: caFile, serverName: "wrong.example"))
        bob.start()
        XCTAssertEqual(try wrongName.waitForStop()??.code, .certificateInvalid)

        let otherCA = try ServerCertificate.generateSelfSigned(commonName: "someone else")
        let otherFile = directory.file("other.pem")
        try Data(otherCA.certificatePEM).write(to: URL(fileURLWithPath: otherFile))
        let untrusted = ClientRecorder()
        let carol = try client(untrusted, trust: .certificateAuthority(caFilePath: otherFile, serverName: "localhost"))
        carol.start()
        XCTAssertEqual(try untrusted.waitForStop()??.code, .certificateInvalid)
    }

    func testHostNameIsResolvedOffTheLoop() throws {
        let recorder = ClientRecorder()
        let alice = try client(recorder, host: "localhost")
        alice.start()
        _ = try recorder.waitForOnline()
    }

    func testSecondConnectionOfTheSameDeviceStopsTheFirstAsReplaced() throws {
        let identity = DeviceIdentity()
        let first = ClientRecorder(), second = ClientRecorder()
        let older = try client(first, identity: identity, maxAttempts: nil)
        older.start()
        _ = try first.waitForOnline()
        let newer = try client(second, identity: identity)
        newer.start()
        _ = try second.waitForOnline()
        let stopped = try first.waitForStop()
        XCTAssertEqual(stopped??.code, .replaced)
        XCTAssertTrue(first.all.contains { if case .serverError(.replaced, _) = $0 { true } else { false } })
        XCTAssertTrue(newer.state.isOnline)
    }

    func testServerShutdownMakesTheClientWaitToReconnect() throws {
        let recorder = ClientRecorder()
        let alice = try client(recorder, maxAttempts: nil)
        alice.start()
        _ = try recorder.waitForOnline()
        fixture.server.shutdown()
        let reason = try recorder.waitFor { state -> SignallingClientError? in
            if case let .waitingToReconnect(_, _, reason) = state { return reason } else { return nil }
        }
        XCTAssertEqual(reason.serverCode, .shuttingDown)
        alice.stop()
    }
}

/// Many clients on one loop, as a load generator runs them.
final class ClientLoopScaleTests: XCTestCase {
    func testTwoHundredClientsOnOneLoopComeOnlineAndStop() throws {
        let fixture = try ServerFixture()
        defer { fixture.stop() }
        var logger = Logger(label: "test.parley-client")
        logger.logLevel = .warning
        let loop = try SignallingLoop(maxConnections: 256, logger: logger)
        let recorders = (0..<200).map { _ in ClientRecorder() }
        let clients = try recorders.map { recorder in
            try SignallingClient(
                configuration: SignallingClientConfiguration(url: "wss://127.0.0.1:\(fixture.port)/", trust: .pinned(sha256: fixture.pin),
                                                             realm: "load", reconnect: ReconnectPolicy(maxAttempts: 0), tracksPresence: false),
                identity: DeviceIdentity(), loop: loop, logger: logger, handler: recorder.record)
        }
        for client in clients { client.start() }
        for recorder in recorders { _ = try recorder.waitForOnline(timeout: .seconds(60)) }
        XCTAssertEqual(fixture.server.metricsSnapshot().devices, 200)
        loop.shutdown()
        for (client, recorder) in zip(clients, recorders) {
            XCTAssertEqual(try recorder.waitForStop(), .some(nil))
            XCTAssertEqual(client.state, .stopped(nil))
        }
    }
}

/// Pings keep a connection alive past the server's idle timeout.
final class ClientKeepaliveOverTLSTests: XCTestCase {
    func testPingsKeepTheConnectionPastTheIdleTimeout() throws {
        let fixture = try ServerFixture(configure: { options in
            options.core.pingIntervalSeconds = 1
            options.core.idleTimeout = .milliseconds(2500)
        })
        defer { fixture.stop() }
        let loop = try SignallingLoop(maxConnections: 4)
        defer { loop.shutdown() }
        let recorder = ClientRecorder()
        var logger = Logger(label: "test.parley-client")
        logger.logLevel = .warning
        let client = try SignallingClient(
            configuration: SignallingClientConfiguration(url: "wss://127.0.0.1:\(fixture.port)/", trust: .pinned(sha256: fixture.pin),
                                                         realm: "home", reconnect: ReconnectPolicy(maxAttempts: 0)),
            identity: DeviceIdentity(), loop: loop, logger: logger, handler: recorder.record)
        client.start()
        _ = try recorder.waitForOnline()
        usleep(4_000_000)
        XCTAssertTrue(client.state.isOnline, "\(client.state)")
        XCTAssertEqual(recorder.states.count, 3, "connecting, authenticating, online: \(recorder.states)")
    }
}

/// Collects a client's events (delivered on the loop thread) for a test to wait on.
final class ClientRecorder: Sendable {
    private let events = Mutex<[SignallingEvent]>([])

    var record: @Sendable (SignallingEvent) -> Void { { [self] event in events.withLock { $0.append(event) } } }

    var all: [SignallingEvent] { events.withLock { $0 } }

    var states: [ConnectionState] {
        all.compactMap { if case let .stateChanged(state) = $0 { return state } else { return nil } }
    }

    func waitForOnline(timeout: Duration = .seconds(10)) throws -> Welcome {
        try waitFor(timeout: timeout) { state in
            switch state {
            case let .online(welcome): return welcome
            case let .stopped(error?), let .waitingToReconnect(_, _, error):
                XCTFail("did not come online: \(error)")
                return nil
            default: return nil
            }
        }
    }

    /// Waits for `.stateChanged(.stopped)` and returns its error (nil: stopped cleanly).
    func waitForStop(timeout: Duration = .seconds(10)) throws -> SignallingClientError?? {
        try waitFor(timeout: timeout) { state -> SignallingClientError?? in
            if case let .stopped(error) = state { return .some(error) } else { return nil }
        }
    }

    func waitFor<Value>(timeout: Duration = .seconds(10), _ match: (ConnectionState) -> Value?) throws -> Value {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            for state in states { if let value = match(state) { return value } }
            usleep(5_000)
        }
        XCTFail("timed out; states: \(states)")
        throw XCTSkip("timed out")
    }

    func waitFor(timeout: Duration = .seconds(10), _ condition: ([SignallingEvent]) -> Bool) throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(all) { return }
            usleep(5_000)
        }
        XCTFail("timed out; events: \(all)")
        throw XCTSkip("timed out")
    }
}
