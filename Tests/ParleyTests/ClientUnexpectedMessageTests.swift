import Parley
import ParleyCrypto
import ParleyProtocol
import XCTest

/// What the client does with messages the protocol does not allow at that point: each is a
/// protocol violation that closes the connection (1002) and reconnects, never a crash.
final class ClientUnexpectedMessageTests: XCTestCase {
    private func assertViolation(_ harness: ClientCoreHarness, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(harness.core.state.waitingReason?.code, .protocolViolation, "\(harness.core.state)", file: file, line: line)
        XCTAssertEqual(harness.closes.last?.code, 1002, file: file, line: line)
    }

    func testFirstMessageMustBeAChallenge() {
        let harness = ClientCoreHarness()
        harness.feed(.start)
        harness.feed(.transportConnected(serverCertificateSHA256: ClientCoreHarness.certificate))
        harness.receive(.welcome(Welcome(deviceID: harness.identity.deviceID, realm: ClientCoreHarness.realm)))
        assertViolation(harness)
    }

    func testSecondChallengeIsAProtocolViolation() throws {
        let harness = ClientCoreHarness()
        try harness.goOnline()
        harness.receive(ClientCoreHarness.challenge())
        assertViolation(harness)
        XCTAssertTrue(try harness.written().isEmpty, "no second auth")
    }

    func testSecondChallengeBeforeWelcomeIsAProtocolViolation() throws {
        let harness = ClientCoreHarness()
        try harness.authenticate()
        harness.receive(ClientCoreHarness.challenge())
        assertViolation(harness)
    }

    func testSecondWelcomeIsAProtocolViolation() throws {
        let harness = ClientCoreHarness()
        try harness.goOnline()
        harness.receive(.welcome(Welcome(deviceID: harness.identity.deviceID, realm: ClientCoreHarness.realm)))
        assertViolation(harness)
    }

    func testCallTrafficBeforeWelcomeIsAProtocolViolation() throws {
        let harness = ClientCoreHarness()
        try harness.authenticate()
        harness.receive(.incomingCall(caller: ClientCoreHarness.device(2), callID: ClientCoreHarness.callID(1), payload: [1]))
        assertViolation(harness)
        XCTAssertFalse(harness.events.contains { if case .message = $0 { true } else { false } }, "nothing delivered")
    }

    func testPongBeforeWelcomeIsTolerated() throws {
        let harness = ClientCoreHarness()
        try harness.authenticate()
        harness.receive(.pong(1))
        XCTAssertEqual(harness.core.state, .authenticating)
    }

    func testDeviceToServerTypesFromTheServerAreViolations() throws {
        let messages: [SignalMessage] = [
            .auth(Auth(identityKey: [UInt8](repeating: 1, count: 32), signature: [UInt8](repeating: 2, count: 64), realm: "x", enrollmentCode: "")),
            .invite(callee: ClientCoreHarness.device(2), callID: ClientCoreHarness.callID(1), payload: []),
            .reject(callID: ClientCoreHarness.callID(1)), .hangup(callID: ClientCoreHarness.callID(1)), .ping(5),
        ]
        for message in messages {
            let harness = ClientCoreHarness()
            try harness.goOnline()
            harness.receive(message)
            assertViolation(harness)
        }
    }

    func testUndecodableMessageIsAProtocolViolation() throws {
        let inputs: [[UInt8]] = [[], [0x02, 0x01], [0x01, 0x99], [0x01, 0x22, 0x00]]
        for bytes in inputs {
            let harness = ClientCoreHarness()
            try harness.goOnline()
            harness.feed(.received(bytes))
            assertViolation(harness)
        }
    }

    func testCallTrafficIsDeliveredAsMessages() throws {
        let harness = ClientCoreHarness()
        try harness.goOnline()
        _ = harness.takeEvents()
        let call = ClientCoreHarness.callID(3)
        let messages: [SignalMessage] = [
            .incomingCall(caller: ClientCoreHarness.device(2), callID: call, payload: [1, 2]),
            .ringing(callID: call), .accept(callID: call, payload: [3]), .signal(callID: call, payload: [4]),
            .callEnded(callID: call, outcome: .hungUp),
        ]
        for message in messages { harness.receive(message) }
        XCTAssertEqual(harness.takeEvents(), messages.map { .message($0) })
        XCTAssertTrue(harness.core.state.isOnline)
    }
}
