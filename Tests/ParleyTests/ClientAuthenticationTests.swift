import Parley
import ParleyCrypto
import ParleyProtocol
import XCTest

/// Connection and authentication as the device sees it (PROTOCOL.md, "Connection and
/// authentication"): what the auth carries, what the signature binds, and the welcome.
final class ClientAuthenticationTests: XCTestCase {
    func testStartAsksForATransportAndReportsConnecting() {
        let harness = ClientCoreHarness()
        XCTAssertEqual(harness.core.state, .idle)
        XCTAssertNil(harness.core.nextDeadline)
        let actions = harness.feed(.start)
        XCTAssertEqual(actions, [.emit(.stateChanged(.connecting)), .connect])
        XCTAssertNotNil(harness.core.nextDeadline, "the connect timeout runs")
    }

    func testAuthCarriesTheIdentityKeyRealmAndCode() throws {
        let harness = ClientCoreHarness { $0.enrollmentCode = "k7pq-2m9x-a4rt-zz3b" }
        let auth = try harness.authenticate()
        XCTAssertEqual(auth.identityKey, harness.identity.publicKey)
        XCTAssertEqual(auth.realm, ClientCoreHarness.realm)
        XCTAssertEqual(auth.enrollmentCode, "k7pq-2m9x-a4rt-zz3b")
        XCTAssertEqual(harness.states, [.connecting, .authenticating])
        XCTAssertEqual(harness.flushes, 1)
    }

    func testSignatureVerifiesOverTheExactBoundData() throws {
        let nonce = (0..<32).map { UInt8($0) }
        let harness = ClientCoreHarness { $0.enrollmentCode = "k7pq-2m9x-a4rt-zz3b" }
        let auth = try harness.authenticate(challenge: ClientCoreHarness.challenge(nonce: nonce))
        // lv_cat("parley/1 auth", nonce, certificate SHA-256, realm, code), built by hand.
        var expected: [UInt8] = [13] + Array("parley/1 auth".utf8)
        expected += [32] + nonce
        expected += [32] + ClientCoreHarness.certificate
        expected += [4] + Array("home".utf8)
        expected += [19] + Array("k7pq-2m9x-a4rt-zz3b".utf8)
        XCTAssertEqual(Auth.signedData(nonce: nonce, serverCertificateSHA256: ClientCoreHarness.certificate,
                                       realm: "home", enrollmentCode: "k7pq-2m9x-a4rt-zz3b"), expected)
        XCTAssertTrue(Ed25519.isValidSignature(auth.signature, of: expected, publicKey: harness.identity.publicKey))
    }

    func testSignatureMadeBehindAnInterceptingMiddleboxDoesNotVerifyForTheRealServer() throws {
        // With a CA, a middlebox holding a certificate the device trusts terminates TLS: the
        // device signs over the middlebox's certificate, which the real server rejects.
        let harness = ClientCoreHarness { $0.trust = .certificateAuthority(caFilePath: "/etc/parley/ca.pem", serverName: nil) }
        let middlebox = [UInt8](repeating: 0x66, count: 32)
        let nonce = [UInt8](repeating: 0x4e, count: 32)
        let auth = try harness.authenticate(challenge: ClientCoreHarness.challenge(nonce: nonce), certificate: middlebox)
        let seen = Auth.signedData(nonce: nonce, serverCertificateSHA256: middlebox, realm: "home", enrollmentCode: "")
        let real = Auth.signedData(nonce: nonce, serverCertificateSHA256: ClientCoreHarness.certificate, realm: "home", enrollmentCode: "")
        XCTAssertTrue(Ed25519.isValidSignature(auth.signature, of: seen, publicKey: auth.identityKey))
        XCTAssertFalse(Ed25519.isValidSignature(auth.signature, of: real, publicKey: auth.identityKey))
    }

    func testPinnedClientRefusesAnotherCertificateEvenIfTheTransportLetItThrough() throws {
        let harness = ClientCoreHarness()
        harness.feed(.start)
        let other = [UInt8](repeating: 0x11, count: 32)
        harness.feed(.transportConnected(serverCertificateSHA256: other))
        XCTAssertEqual(harness.closes.map(\.code), [1008])
        let reason = try XCTUnwrap(harness.core.state.waitingReason)
        XCTAssertEqual(reason.code, .tlsPinMismatch)
        XCTAssertTrue(reason.message.contains("1111111111111111…"), reason.message)
        XCTAssertTrue(reason.message.contains("c3c3c3c3c3c3c3c3…"), reason.message)
        XCTAssertTrue(try harness.written().isEmpty, "no auth to a server that failed the pin")
    }

    func testWelcomeMakesTheClientOnline() throws {
        let harness = ClientCoreHarness()
        try harness.authenticate()
        let welcome = Welcome(deviceID: harness.identity.deviceID, realm: ClientCoreHarness.realm)
        harness.receive(.welcome(welcome))
        XCTAssertEqual(harness.core.state, .online(welcome))
        XCTAssertEqual(harness.states, [.connecting, .authenticating, .online(welcome)])
    }

    func testWelcomeForAnotherDeviceIsAProtocolViolation() throws {
        let harness = ClientCoreHarness()
        try harness.authenticate()
        harness.receive(.welcome(Welcome(deviceID: ClientCoreHarness.device(9), realm: ClientCoreHarness.realm)))
        XCTAssertEqual(harness.core.state.waitingReason?.code, .protocolViolation)
        XCTAssertEqual(harness.closes.map(\.code), [1002])
    }

    func testWelcomeToAnotherRealmIsAProtocolViolation() throws {
        let harness = ClientCoreHarness()
        try harness.authenticate()
        harness.receive(.welcome(Welcome(deviceID: harness.identity.deviceID, realm: "office")))
        XCTAssertEqual(harness.core.state.waitingReason?.code, .protocolViolation)
    }

    func testEnrollmentCodeIsSentUntilTheFirstWelcomeOnly() throws {
        let harness = ClientCoreHarness { $0.enrollmentCode = "k7pq-2m9x-a4rt-zz3b" }
        // A failure before the welcome keeps the code for the next attempt.
        try harness.authenticate()
        harness.feed(.transportClosed(code: nil, reason: ""))
        try harness.advanceToDeadline()
        harness.feed(.transportConnected(serverCertificateSHA256: ClientCoreHarness.certificate))
        harness.receive(ClientCoreHarness.challenge())
        guard case let .auth(second)? = try harness.written().first else { return XCTFail("no auth") }
        XCTAssertEqual(second.enrollmentCode, "k7pq-2m9x-a4rt-zz3b")
        // After a welcome the code is used up: never sent again.
        harness.receive(.welcome(Welcome(deviceID: harness.identity.deviceID, realm: ClientCoreHarness.realm)))
        harness.feed(.transportClosed(code: 1001, reason: "going away"))
        try harness.advanceToDeadline()
        let nonce = [UInt8](repeating: 7, count: 32)
        harness.feed(.transportConnected(serverCertificateSHA256: ClientCoreHarness.certificate))
        harness.receive(ClientCoreHarness.challenge(nonce: nonce))
        guard case let .auth(third)? = try harness.written().first else { return XCTFail("no auth") }
        XCTAssertEqual(third.enrollmentCode, "")
        let signed = Auth.signedData(nonce: nonce, serverCertificateSHA256: ClientCoreHarness.certificate, realm: "home", enrollmentCode: "")
        XCTAssertTrue(Ed25519.isValidSignature(third.signature, of: signed, publicKey: harness.identity.publicKey))
    }

    func testEachConnectionSignsItsOwnChallenge() throws {
        let harness = ClientCoreHarness()
        let first = try harness.authenticate(challenge: ClientCoreHarness.challenge(nonce: [UInt8](repeating: 1, count: 32)))
        harness.failConnection()
        try harness.advanceToDeadline()
        harness.feed(.transportConnected(serverCertificateSHA256: ClientCoreHarness.certificate))
        harness.receive(ClientCoreHarness.challenge(nonce: [UInt8](repeating: 2, count: 32)))
        guard case let .auth(second)? = try harness.written().first else { return XCTFail("no auth") }
        XCTAssertNotEqual(first.signature, second.signature)
    }
}
