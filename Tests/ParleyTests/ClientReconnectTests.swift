import Parley
import ParleyCrypto
import ParleyProtocol
import XCTest

/// Backoff, the attempt counter, and which failures end reconnection for good.
final class ClientReconnectTests: XCTestCase {
    // MARK: Backoff

    private func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    func testBackoffCeilingDoublesFromTheBaseUpToTheCap() {
        let backoff = ReconnectBackoff(baseDelay: .milliseconds(500), maxDelay: .seconds(30))
        XCTAssertEqual(backoff.ceiling(forAttempt: 0), .milliseconds(500))
        XCTAssertEqual(backoff.ceiling(forAttempt: 1), .milliseconds(500))
        XCTAssertEqual(backoff.ceiling(forAttempt: 2), .seconds(1))
        XCTAssertEqual(backoff.ceiling(forAttempt: 3), .seconds(2))
        XCTAssertEqual(backoff.ceiling(forAttempt: 6), .seconds(16))
        XCTAssertEqual(backoff.ceiling(forAttempt: 7), .seconds(30), "32 s is capped")
        XCTAssertEqual(backoff.ceiling(forAttempt: 64), .seconds(30))
        XCTAssertEqual(backoff.ceiling(forAttempt: .max), .seconds(30), "no overflow")
    }

    func testFullJitterDrawsSpanZeroToTheCeiling() {
        let backoff = ReconnectBackoff()
        var random = SeededRandom(seed: 42)
        for attempt in [1, 3, 10] {
            let ceiling = backoff.ceiling(forAttempt: attempt)
            let draws = (0..<10_000).map { _ in backoff.delay(forAttempt: attempt, using: &random) }
            XCTAssertTrue(draws.allSatisfy { $0 >= .zero && $0 <= ceiling }, "attempt \(attempt)")
            let mean = draws.map(seconds).reduce(0, +) / Double(draws.count)
            XCTAssertEqual(mean, seconds(ceiling) / 2, accuracy: 0.02 * seconds(ceiling), "uniform: the mean is half the ceiling")
            XCTAssertLessThan(draws.min()!, ceiling / 100)
            XCTAssertGreaterThan(draws.max()!, ceiling * 99 / 100)
        }
    }

    func testSeededRandomSourceReproducesTheDelays() {
        func delays(seed: UInt64) -> [ConnectionState] {
            let harness = ClientCoreHarness(seed: seed)
            harness.feed(.start)
            for _ in 0..<5 {
                harness.failConnection()
                try? harness.advanceToDeadline()
            }
            return harness.states.filter(\.isWaiting)
        }
        XCTAssertEqual(delays(seed: 7), delays(seed: 7))
        XCTAssertNotEqual(delays(seed: 7), delays(seed: 8))
    }

    func testConsecutiveFailuresBackOffWithGrowingCeilings() throws {
        let harness = ClientCoreHarness()
        harness.feed(.start)
        let backoff = ReconnectBackoff()
        for attempt in 1...8 {
            harness.failConnection()
            guard case let .waitingToReconnect(delay, number, reason) = harness.core.state else {
                return XCTFail("not waiting: \(harness.core.state)")
            }
            XCTAssertEqual(number, attempt)
            XCTAssertEqual(reason.code, .serverUnreachable)
            XCTAssertLessThanOrEqual(delay, backoff.ceiling(forAttempt: attempt))
            XCTAssertEqual(harness.core.nextDeadline, harness.now + delay)
            let connectsBefore = harness.connects
            try harness.advanceToDeadline()
            XCTAssertEqual(harness.core.state, .connecting)
            XCTAssertEqual(harness.connects, connectsBefore + 1)
        }
    }

    func testAttemptCounterResetsAfterAStableConnection() throws {
        let harness = ClientCoreHarness { $0.reconnect.resetAfter = .seconds(60) }
        harness.feed(.start)
        for _ in 0..<3 {
            harness.failConnection()
            try harness.advanceToDeadline()
        }
        // Online briefly: the failures keep counting.
        harness.feed(.transportConnected(serverCertificateSHA256: ClientCoreHarness.certificate))
        harness.receive(ClientCoreHarness.challenge())
        harness.receive(.welcome(Welcome(deviceID: harness.identity.deviceID, realm: ClientCoreHarness.realm)))
        harness.advance(.seconds(10))
        harness.receive(.pong(0))
        harness.feed(.transportClosed(code: nil, reason: ""))
        guard case let .waitingToReconnect(_, attempt, _) = harness.core.state else { return XCTFail("\(harness.core.state)") }
        XCTAssertEqual(attempt, 4)
        // Online for a minute: the next failure is attempt 1 again.
        try harness.advanceToDeadline()
        try harness.goOnlineAgain()
        for _ in 0..<6 {
            harness.advance(.seconds(10))
            harness.receive(.pong(0))
        }
        harness.feed(.transportClosed(code: nil, reason: ""))
        guard case let .waitingToReconnect(_, reset, _) = harness.core.state else { return XCTFail("\(harness.core.state)") }
        XCTAssertEqual(reset, 1)
    }

    func testMaxAttemptsStopsWithTheLastError() throws {
        let harness = ClientCoreHarness { $0.reconnect.maxAttempts = 2 }
        harness.feed(.start)
        harness.failConnection()
        try harness.advanceToDeadline()
        harness.failConnection()
        try harness.advanceToDeadline()
        harness.failConnection()
        XCTAssertEqual(harness.core.state.stoppedError??.code, .serverUnreachable)
        XCTAssertNil(harness.core.nextDeadline)
        XCTAssertEqual(harness.connects, 3)
    }

    func testZeroMaxAttemptsNeverReconnects() {
        let harness = ClientCoreHarness { $0.reconnect.maxAttempts = 0 }
        harness.feed(.start)
        harness.failConnection()
        XCTAssertEqual(harness.core.state.stoppedError??.code, .serverUnreachable)
    }

    // MARK: Terminal and retryable server errors

    func testTerminalServerErrorsStopWithoutReconnecting() throws {
        let cases: [(SignalErrorCode, SignallingClientError.Code)] = [
            (.authenticationFailed, .authenticationFailed), (.notEnrolled, .notEnrolled),
            (.enrollmentCodeInvalid, .enrollmentCodeInvalid), (.revoked, .revoked), (.replaced, .replaced),
        ]
        for (serverCode, clientCode) in cases {
            let harness = ClientCoreHarness()
            try harness.goOnline()
            _ = harness.takeEvents()
            harness.receive(.error(code: serverCode, message: "test"))
            let error = try XCTUnwrap(harness.core.state.stoppedError ?? nil, "\(serverCode): \(harness.core.state)")
            XCTAssertEqual(error.code, clientCode)
            XCTAssertEqual(error.serverCode, serverCode)
            XCTAssertTrue(error.isTerminal)
            XCTAssertEqual(harness.takeEvents().first, .serverError(code: serverCode, message: "test"))
            XCTAssertEqual(harness.closes.map(\.code), [1000])
            XCTAssertNil(harness.core.nextDeadline, "\(serverCode): nothing scheduled")
        }
    }

    func testAuthenticationRefusalBeforeWelcomeStops() throws {
        let harness = ClientCoreHarness()
        try harness.authenticate()
        harness.receive(.error(code: .notEnrolled, message: "device seaz-tj3c is not enrolled"))
        XCTAssertEqual(harness.core.state.stoppedError??.code, .notEnrolled)
    }

    func testRetryableServerErrorsReconnect() throws {
        let cases: [(SignalErrorCode, SignallingClientError.Code)] = [
            (.shuttingDown, .serverUnreachable), (.serverFull, .serverUnreachable), (.idleTimeout, .timeout),
            (.handshakeTimeout, .timeout), (.rateLimited, .connectionLost), (.sendQueueFull, .connectionLost),
            (.malformed, .protocolViolation), (.messageTooLarge, .protocolViolation),
        ]
        for (serverCode, clientCode) in cases {
            let harness = ClientCoreHarness()
            try harness.goOnline()
            harness.receive(.error(code: serverCode, message: ""))
            XCTAssertEqual(harness.core.state.waitingReason?.code, clientCode, "\(serverCode)")
            XCTAssertEqual(harness.core.state.waitingReason?.serverCode, serverCode)
        }
    }

    func testServerFullInsteadOfAChallengeIsRetried() {
        let harness = ClientCoreHarness()
        harness.feed(.start)
        harness.feed(.transportConnected(serverCertificateSHA256: ClientCoreHarness.certificate))
        harness.receive(.error(code: .serverFull, message: "the server holds its maximum of 19000 connections"))
        XCTAssertEqual(harness.core.state.waitingReason?.code, .serverUnreachable)
        XCTAssertEqual(harness.core.state.waitingReason?.serverCode, .serverFull)
    }

    func testServerErrorCloseCodeIsReadLikeTheErrorMessage() throws {
        // 4000 + (code - 2000): replaced (2009) closes with 4009.
        let harness = ClientCoreHarness()
        try harness.goOnline()
        harness.feed(.transportClosed(code: 4009, reason: "replaced"))
        XCTAssertEqual(harness.core.state.stoppedError??.code, .replaced)

        let retry = ClientCoreHarness()
        try retry.goOnline()
        retry.feed(.transportClosed(code: 4018, reason: "shuttingDown"))
        XCTAssertEqual(retry.core.state.waitingReason?.serverCode, .shuttingDown)
    }

    func testCallErrorsLeaveTheConnectionUp() throws {
        for code in [SignalErrorCode.unknownCall, .invalidTarget, .tooManyCalls, .unexpectedMessage] {
            let harness = ClientCoreHarness()
            try harness.goOnline()
            _ = harness.takeEvents()
            harness.receive(.error(code: code, message: "no such call"))
            XCTAssertEqual(harness.takeEvents(), [.message(.error(code: code, message: "no such call"))])
            XCTAssertTrue(harness.core.state.isOnline)
        }
    }

    // MARK: Start and stop

    func testStopClosesNormallyAndIsIdempotent() throws {
        let harness = ClientCoreHarness()
        try harness.goOnline(peers: [ClientCoreHarness.device(1)])
        _ = harness.takeEvents()
        XCTAssertEqual(harness.feed(.stop), [.close(.normal("client stopped")), .emit(.presence(online: [])), .emit(.stateChanged(.stopped(nil)))])
        XCTAssertEqual(harness.feed(.stop), [])
        XCTAssertNil(harness.core.nextDeadline)
    }

    func testStopWhileWaitingCancelsTheReconnect() throws {
        let harness = ClientCoreHarness()
        harness.feed(.start)
        harness.failConnection()
        XCTAssertEqual(harness.feed(.stop), [.emit(.stateChanged(.stopped(nil)))], "no transport to close")
        harness.advance(.seconds(60))
        XCTAssertEqual(harness.connects, 1)
    }

    func testStartAfterStopConnectsAgainFromTheFirstAttempt() throws {
        let harness = ClientCoreHarness()
        harness.feed(.start)
        harness.failConnection()
        try harness.advanceToDeadline()
        harness.failConnection()
        harness.feed(.stop)
        harness.feed(.start)
        XCTAssertEqual(harness.core.state, .connecting)
        harness.failConnection()
        guard case let .waitingToReconnect(_, attempt, _) = harness.core.state else { return XCTFail("\(harness.core.state)") }
        XCTAssertEqual(attempt, 1)
    }

    func testStartWhileRunningIsIgnored() throws {
        let harness = ClientCoreHarness()
        try harness.goOnline()
        XCTAssertEqual(harness.feed(.start), [])
    }

    func testEventsOfAnAbandonedTransportAreIgnored() throws {
        let harness = ClientCoreHarness()
        try harness.goOnline()
        harness.feed(.stop)
        XCTAssertEqual(harness.feed(.transportClosed(code: 1000, reason: "")), [])
        XCTAssertEqual(harness.receive(.ringing(callID: ClientCoreHarness.callID(1))), [])
        XCTAssertEqual(harness.feed(.transportConnected(serverCertificateSHA256: ClientCoreHarness.certificate)), [])
        XCTAssertEqual(harness.feed(.transportFailed(SignallingClientError(.serverUnreachable, "late"))), [])
    }
}

extension ClientCoreHarness {
    /// From `.connecting`: transport, challenge, welcome.
    func goOnlineAgain() throws {
        feed(.transportConnected(serverCertificateSHA256: ClientCoreHarness.certificate))
        receive(ClientCoreHarness.challenge())
        _ = try written()
        receive(.welcome(Welcome(deviceID: identity.deviceID, realm: ClientCoreHarness.realm)))
        XCTAssertTrue(core.state.isOnline)
    }
}
