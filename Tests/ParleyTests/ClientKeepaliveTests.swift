import Parley
import ParleyCrypto
import ParleyProtocol
import XCTest

/// Pings, dead-connection detection and the connect timeout, on the virtual clock.
final class ClientKeepaliveTests: XCTestCase {
    private func pings(_ messages: [SignalMessage]) -> [UInt64] {
        messages.compactMap { if case let .ping(value) = $0 { return value } else { return nil } }
    }

    func testPingsFollowTheChallengesIntervalFromTheChallenge() throws {
        let harness = ClientCoreHarness()
        try harness.goOnline(challenge: ClientCoreHarness.challenge(pingIntervalSeconds: 10))
        harness.advance(.milliseconds(9_999))
        XCTAssertTrue(try harness.written().isEmpty)
        harness.advance(.milliseconds(1))
        XCTAssertEqual(pings(try harness.written()), [1])
        harness.receive(.pong(1))
        harness.advance(.seconds(10))
        XCTAssertEqual(pings(try harness.written()), [2])
    }

    func testTrafficDoesNotDelayPings() throws {
        // The server's idle timer counts what it receives, not what it sends.
        let harness = ClientCoreHarness()
        try harness.goOnline(challenge: ClientCoreHarness.challenge(pingIntervalSeconds: 10))
        for _ in 0..<9 {
            harness.advance(.seconds(1))
            harness.receive(.ringing(callID: ClientCoreHarness.callID(1)))
        }
        harness.advance(.seconds(1))
        XCTAssertEqual(pings(try harness.written()), [1])
    }

    func testSilentConnectionIsDeadAfterTwoIntervalsAndTheMargin() throws {
        let harness = ClientCoreHarness { $0.deadConnectionMargin = .seconds(5) }
        try harness.goOnline(challenge: ClientCoreHarness.challenge(pingIntervalSeconds: 10))
        let lastHeard = harness.now
        harness.advance(.seconds(10))
        harness.advance(.seconds(10))
        harness.advance(.milliseconds(4_999))
        XCTAssertTrue(harness.core.state.isOnline, "still within 2 x 10 s + 5 s")
        harness.now = lastHeard + .seconds(25)
        harness.feed(.tick)
        XCTAssertEqual(harness.core.state.waitingReason?.code, .timeout)
        XCTAssertEqual(harness.closes.map(\.code), [1001])
    }

    func testAnyMessageKeepsTheConnectionAlive() throws {
        let harness = ClientCoreHarness()
        try harness.goOnline(challenge: ClientCoreHarness.challenge(pingIntervalSeconds: 10))
        for second in 1...300 {
            harness.advance(.seconds(1))
            if second % 10 == 0 { harness.receive(.pong(UInt64(second / 10))) }
        }
        XCTAssertTrue(harness.core.state.isOnline)
        XCTAssertEqual(pings(try harness.written()).count, 30)
    }

    func testZeroPingIntervalIsTreatedAsOneSecond() throws {
        let harness = ClientCoreHarness()
        try harness.goOnline(challenge: ClientCoreHarness.challenge(pingIntervalSeconds: 0))
        XCTAssertEqual(harness.core.nextDeadline, harness.now + .seconds(1))
        harness.advance(.seconds(1))
        XCTAssertEqual(pings(try harness.written()), [1])
    }

    func testConnectTimeoutCoversTheTransport() throws {
        let harness = ClientCoreHarness { $0.connectTimeout = .seconds(15) }
        harness.feed(.start)
        XCTAssertEqual(harness.core.nextDeadline, harness.now + .seconds(15))
        harness.advance(.milliseconds(14_999))
        XCTAssertEqual(harness.core.state, .connecting)
        harness.advance(.milliseconds(1))
        XCTAssertEqual(harness.core.state.waitingReason?.code, .timeout)
        XCTAssertEqual(harness.closes.map(\.code), [1001])
    }

    func testConnectTimeoutCoversAuthentication() throws {
        // The timeout runs from the start of the attempt to the welcome.
        let harness = ClientCoreHarness { $0.connectTimeout = .seconds(15) }
        harness.feed(.start)
        harness.advance(.seconds(5))
        harness.feed(.transportConnected(serverCertificateSHA256: ClientCoreHarness.certificate))
        harness.receive(ClientCoreHarness.challenge())
        harness.advance(.seconds(10))
        XCTAssertEqual(harness.core.state.waitingReason?.code, .timeout)
    }

    func testNoConnectTimeoutOnceOnline() throws {
        let harness = ClientCoreHarness { $0.connectTimeout = .seconds(15) }
        try harness.goOnline(challenge: ClientCoreHarness.challenge(pingIntervalSeconds: 25))
        harness.advance(.seconds(16))
        XCTAssertTrue(harness.core.state.isOnline)
        XCTAssertEqual(harness.core.nextDeadline, harness.now + .seconds(9), "next: the ping 25 s after the challenge")
    }
}
