@testable import ParleyCrypto
import ParleyProtocol
@testable import SignallingCore
import XCTest

final class LimitsTests: XCTestCase {
    private let alice = DeviceIdentity(), bob = DeviceIdentity()

    func testFloodPastTheRateLimitClosesOnlyTheFlooder() throws {
        var configuration = ServerConfiguration()
        configuration.messagesPerSecond = 10
        configuration.messageBurst = 20
        let server = CoreHarness(configuration: configuration)
        let a = try server.login(alice), b = try server.login(bob)
        for value in 0..<100 { server.send(a, .ping(UInt64(value))) }
        XCTAssertEqual(server.closed[a], .rateLimited)
        let pongs = server.take(a).filter { if case .pong = $0 { return true } else { return false } }
        XCTAssertEqual(pongs.count, 19, "the burst, less the auth message, was served")
        server.send(b, .ping(1))
        XCTAssertEqual(server.take(b).last, .pong(1), "the other client is unaffected")
        XCTAssertNil(server.closed[b] ?? nil)
    }

    func testBytesPerSecondLimitAndOversizeMessage() throws {
        var configuration = ServerConfiguration()
        configuration.byteBurst = 10_000
        configuration.bytesPerSecond = 1_000
        let server = CoreHarness(configuration: configuration)
        let a = try server.login(alice)
        server.send(a, .ping(1), byteCount: 9_000)
        server.send(a, .ping(2), byteCount: 9_000)
        XCTAssertEqual(server.closed[a], .rateLimited)
        let b = try server.login(bob)
        server.send(b, .ping(1), byteCount: configuration.maxMessageBytes + 1)
        XCTAssertEqual(server.closed[b], .messageTooLarge)
    }

    func testUndecodableInputIsAnsweredWithItsCodeAndClosed() throws {
        let server = CoreHarness()
        let a = try server.login(alice)
        server.feed(.undecodable(a, .unsupportedVersion, reason: "version 9", byteCount: 10))
        XCTAssertEqual(server.closed[a], .unsupportedVersion)
        XCTAssertEqual(server.take(a).last, .error(code: .unsupportedVersion, message: "version 9"))
    }

    func testConnectionFloodPastTheLimitIsRefused() throws {
        var configuration = ServerConfiguration()
        configuration.maxConnections = 3
        let server = CoreHarness(configuration: configuration)
        let ids = (0..<5).map { _ in server.connect() }
        XCTAssertEqual(ids.prefix(3).map { server.closed[$0] ?? nil }, [nil, nil, nil])
        XCTAssertEqual(ids.suffix(2).map { server.closed[$0] }, [.serverFull, .serverFull])
        XCTAssertEqual(server.core.connectionCount, 3)
    }

    func testSlowlorisHandshakeTimesOutAndIdleConnectionsAreClosed() throws {
        let server = CoreHarness()
        let dripping = server.connect()
        XCTAssertEqual(server.core.nextDeadline, server.now + ServerConfiguration().handshakeTimeout)
        server.advance(.seconds(5))
        XCTAssertNil(server.closed[dripping] ?? nil)
        server.advance(.seconds(5))
        XCTAssertEqual(server.closed[dripping], .handshakeTimeout)

        let a = try server.login(alice), b = try server.login(bob)
        for _ in 0..<4 {
            server.advance(.seconds(30))
            server.send(b, .ping(0))  // b keeps talking
        }
        XCTAssertEqual(server.closed[a], .idleTimeout)
        XCTAssertNil(server.closed[b] ?? nil)
    }

    func testSlowReaderIsClosedWithItsCode() throws {
        let server = CoreHarness()
        let a = try server.login(alice)
        server.feed(.sendQueueOverflow(a))
        XCTAssertEqual(server.closed[a], .sendQueueFull)
    }

    func testDeviceMessagesThatOnlyTheServerSendsAreProtocolViolations() throws {
        let server = CoreHarness()
        let a = try server.login(alice)
        server.send(a, .welcome(Welcome(deviceID: alice.deviceID, realm: "x")))
        XCTAssertEqual(server.closed[a], .unexpectedMessage)
    }

    func testTooManyCallsPerDevice() throws {
        var configuration = ServerConfiguration()
        configuration.maxCallsPerDevice = 2
        let server = CoreHarness(configuration: configuration)
        let a = try server.login(alice)
        let callees = (0..<3).map { _ in DeviceIdentity() }
        for callee in callees { _ = try server.login(callee) }
        _ = server.take(a)
        for (index, callee) in callees.enumerated() {
            server.send(a, .invite(callee: callee.deviceID, callID: CoreHarness.callID(UInt8(index)), payload: [1]))
        }
        XCTAssertEqual(server.take(a).last, .error(code: .tooManyCalls, message: "at most 2 calls at once"))
    }

    func testShutdownTellsEveryDeviceAndRefusesNewConnections() throws {
        let server = CoreHarness()
        let a = try server.login(alice), b = try server.login(bob)
        server.feed(.shutdown)
        XCTAssertEqual(server.closed[a], .shuttingDown)
        XCTAssertEqual(server.closed[b], .shuttingDown)
        let late = server.connect()
        XCTAssertEqual(server.closed[late], .shuttingDown)
        XCTAssertEqual(server.core.connectionCount, 0)
    }

    func testManyConnectionsKeepOneDeadlineEach() throws {
        // Deadlines are re-armed lazily: traffic does not grow the timer heap.
        let server = CoreHarness()
        let a = try server.login(alice)
        for value in 0..<150 { server.send(a, .ping(UInt64(value))) ; server.now = server.now + .milliseconds(100) }
        server.advance(.seconds(1))
        XCTAssertNil(server.closed[a] ?? nil)
        XCTAssertNotNil(server.core.nextDeadline)
    }

    func testIdleTimeoutShorterThanTheHandshakeTimeoutAppliesFromAuth() throws {
        var configuration = ServerConfiguration()
        configuration.handshakeTimeout = .seconds(10)
        configuration.idleTimeout = .seconds(2)
        let server = CoreHarness(configuration: configuration)
        let a = try server.login(alice)
        server.advance(.milliseconds(1_900))
        XCTAssertNil(server.closed[a] ?? nil, "not idle yet")
        server.advance(.milliseconds(200))
        XCTAssertEqual(server.closed[a], .idleTimeout, "idle 2 s after auth, long before the 10 s handshake deadline")
    }
}
