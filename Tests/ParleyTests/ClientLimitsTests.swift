import Parley
import ParleyCrypto
import ParleyProtocol
import XCTest

/// Size limits both ways and the bounded send queue.
final class ClientLimitsTests: XCTestCase {
    private func signal(payloadBytes: Int) -> SignalMessage {
        .signal(callID: ClientCoreHarness.callID(1), payload: [UInt8](repeating: 0x5a, count: payloadBytes))
    }

    // MARK: Incoming

    func testLimitBeforeTheChallengeIsTheLargestEnvelope() {
        let harness = ClientCoreHarness()
        harness.feed(.start)
        harness.feed(.transportConnected(serverCertificateSHA256: ClientCoreHarness.certificate))
        XCTAssertEqual(harness.core.incomingLimit, SignalLimits.maxMessageBytes)
    }

    func testIncomingLimitIsTheChallengesMaxMessageBytes() throws {
        let harness = ClientCoreHarness()
        try harness.goOnline(challenge: ClientCoreHarness.challenge(maxMessageBytes: 1000))
        XCTAssertEqual(harness.core.incomingLimit, 1000)
        harness.receive(signal(payloadBytes: 1000 - 20))  // exactly 1000 bytes
        XCTAssertTrue(harness.core.state.isOnline)
        harness.receive(signal(payloadBytes: 1000 - 19))  // 1001 bytes
        XCTAssertEqual(harness.core.state.waitingReason?.code, .protocolViolation)
        XCTAssertEqual(harness.closes.map(\.code), [1009])
    }

    func testAnnouncedLimitAboveTheLargestEnvelopeIsClamped() throws {
        let harness = ClientCoreHarness()
        try harness.goOnline(challenge: .challenge(Challenge(nonce: [UInt8](repeating: 1, count: 32), maxMessageBytes: .max,
                                                             pingIntervalSeconds: 25)))
        XCTAssertEqual(harness.core.incomingLimit, SignalLimits.maxMessageBytes)
        XCTAssertEqual(harness.core.outgoingLimit, SignalLimits.maxMessageBytes)
    }

    func testMessageTooLargeAcrossFragmentsClosesWith1009() throws {
        let harness = ClientCoreHarness()
        try harness.goOnline()
        harness.feed(.receivedTooLarge(byteCount: 40_000))
        XCTAssertEqual(harness.closes.map(\.code), [1009])
        let reason = try XCTUnwrap(harness.core.state.waitingReason)
        XCTAssertEqual(reason.code, .protocolViolation)
        XCTAssertTrue(reason.message.contains("40000"), reason.message)
    }

    func testTextMessageIsRefusedWith1003() throws {
        let harness = ClientCoreHarness()
        try harness.goOnline()
        harness.feed(.receivedText)
        XCTAssertEqual(harness.closes.map(\.code), [1003])
        XCTAssertEqual(harness.core.state.waitingReason?.code, .protocolViolation)
    }

    func testNextConnectionStartsFromTheDefaultLimitAgain() throws {
        let harness = ClientCoreHarness()
        try harness.goOnline(challenge: ClientCoreHarness.challenge(maxMessageBytes: 1000))
        harness.feed(.transportClosed(code: nil, reason: ""))
        try harness.advanceToDeadline()
        XCTAssertEqual(harness.core.incomingLimit, SignalLimits.maxMessageBytes)
    }

    // MARK: Outgoing

    func testSendBeforeOnlineThrowsNotConnected() throws {
        let harness = ClientCoreHarness()
        XCTAssertThrowsError(try harness.core.enqueue(.hangup(callID: ClientCoreHarness.callID(1)))) { error in
            XCTAssertEqual((error as? SignallingClientError)?.code, .notConnected)
        }
        try harness.authenticate()
        XCTAssertThrowsError(try harness.core.enqueue(.hangup(callID: ClientCoreHarness.callID(1)))) { error in
            XCTAssertEqual((error as? SignallingClientError)?.code, .notConnected, "not before the welcome either")
        }
    }

    func testQueuedMessagesAreWrittenInOrder() throws {
        let harness = ClientCoreHarness()
        try harness.goOnline()
        let messages: [SignalMessage] = [
            .invite(callee: ClientCoreHarness.device(2), callID: ClientCoreHarness.callID(1), payload: [1, 2, 3]),
            signal(payloadBytes: 100),
            .hangup(callID: ClientCoreHarness.callID(1)),
        ]
        for message in messages { try harness.core.enqueue(message) }
        XCTAssertEqual(try harness.written(), messages)
        XCTAssertEqual(harness.core.queuedBytes, 0)
    }

    func testSendQueueRefusesBeyondItsLimit() throws {
        let harness = ClientCoreHarness { $0.maxSendQueueBytes = SignalLimits.maxMessageBytes }
        try harness.goOnline()
        let message = signal(payloadBytes: 10_000)  // 10 020 bytes encoded
        for _ in 0..<3 { try harness.core.enqueue(message) }
        XCTAssertEqual(harness.core.queuedBytes, 30_060)
        XCTAssertThrowsError(try harness.core.enqueue(message)) { error in
            XCTAssertEqual((error as? SignallingClientError)?.code, .sendQueueFull)
        }
        XCTAssertEqual(harness.core.queuedBytes, 30_060, "a refused message is not queued")
        _ = harness.core.nextOutgoing()
        XCTAssertNoThrow(try harness.core.enqueue(message), "room again once one is written")
    }

    func testPingsAreQueuedEvenWhenTheQueueIsFull() throws {
        let harness = ClientCoreHarness { $0.maxSendQueueBytes = SignalLimits.maxMessageBytes }
        try harness.goOnline(challenge: ClientCoreHarness.challenge(pingIntervalSeconds: 10))
        try harness.core.enqueue(signal(payloadBytes: SignalLimits.maxSignalPayloadBytes))
        harness.advance(.seconds(10))
        XCTAssertEqual(try harness.written().last, .ping(1))
    }

    func testSendOverTheServersLimitIsRefused() throws {
        let harness = ClientCoreHarness()
        try harness.goOnline(challenge: ClientCoreHarness.challenge(maxMessageBytes: 1000))
        XCTAssertNoThrow(try harness.core.enqueue(signal(payloadBytes: 980)))
        XCTAssertThrowsError(try harness.core.enqueue(signal(payloadBytes: 981))) { error in
            XCTAssertEqual((error as? SignallingClientError)?.code, .invalidMessage)
        }
    }

    func testServerToDeviceTypesAndAuthCannotBeSent() throws {
        let harness = ClientCoreHarness()
        try harness.goOnline()
        let refused: [SignalMessage] = [
            ClientCoreHarness.challenge(), .welcome(Welcome(deviceID: harness.identity.deviceID, realm: "home")),
            .presenceSnapshot([]), .ringing(callID: ClientCoreHarness.callID(1)), .pong(1),
            .error(code: .malformed, message: ""), .callEnded(callID: ClientCoreHarness.callID(1), outcome: .busy),
            .auth(Auth(identityKey: harness.identity.publicKey, signature: [UInt8](repeating: 0, count: 64), realm: "home", enrollmentCode: "")),
        ]
        for message in refused {
            XCTAssertThrowsError(try harness.core.enqueue(message), "\(message.type)") { error in
                XCTAssertEqual((error as? SignallingClientError)?.code, .invalidMessage)
            }
        }
        XCTAssertNoThrow(try harness.core.enqueue(.ping(99)), "an application may ping")
    }

    func testMessageThatDoesNotEncodeIsRefused() throws {
        let harness = ClientCoreHarness()
        try harness.goOnline()
        XCTAssertThrowsError(try harness.core.enqueue(.invite(callee: ClientCoreHarness.device(2), callID: ClientCoreHarness.callID(1),
                                                               payload: [UInt8](repeating: 0, count: 513)))) { error in
            XCTAssertEqual((error as? SignallingClientError)?.code, .invalidMessage)
        }
    }

    func testQueueIsDroppedWhenTheConnectionEnds() throws {
        let harness = ClientCoreHarness()
        try harness.goOnline()
        try harness.core.enqueue(signal(payloadBytes: 100))
        harness.feed(.transportClosed(code: nil, reason: ""))
        XCTAssertFalse(harness.core.hasOutgoing)
        XCTAssertEqual(harness.core.queuedBytes, 0)
    }
}
