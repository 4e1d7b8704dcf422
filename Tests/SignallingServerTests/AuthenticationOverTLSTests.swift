import Glibc
import ParleyCrypto
import ParleyProtocol
import SignallingCore
import SignallingServer
import XCTest

/// PROTOCOL.md "Signalling core", "Connection and authentication", over real TLS WebSockets.
final class AuthenticationOverTLSTests: ServerTestCase {
    func testValidAuthIsWelcomedWithTheDerivedDeviceIDAndTheRealm() throws {
        let fixture = try startServer()
        let identity = DeviceIdentity()
        let (socket, challenge) = try connectAndReadChallenge(fixture)
        XCTAssertEqual(challenge.nonce.count, Challenge.nonceCount)
        XCTAssertEqual(challenge.maxMessageBytes, UInt32(SignalLimits.maxMessageBytes))
        XCTAssertEqual(challenge.pingIntervalSeconds, 25)
        XCTAssertEqual(socket.peerCertificateSHA256(), fixture.pin, "the device sees the certificate it binds into its signature")

        let realm = "Flat 3 \u{1F3E0}"
        let signature = try identity.sign(Auth.signedData(nonce: challenge.nonce, serverCertificateSHA256: fixture.pin,
                                                          realm: realm, enrollmentCode: ""))
        try socket.send(.auth(Auth(identityKey: identity.publicKey, signature: signature, realm: realm, enrollmentCode: "")))

        let welcome = try socket.nextMessage()
        guard case let .welcome(info) = welcome else { return XCTFail("expected welcome, got \(welcome)") }
        XCTAssertEqual(info.deviceID, identity.deviceID)
        XCTAssertEqual(info.deviceID, try DeviceID(publicKey: identity.publicKey))
        XCTAssertEqual(Array(info.realm.utf8), Array(realm.utf8))
        try socket.expect(.presenceSnapshot([]), "alone in the realm: one empty snapshot")
        try socket.expectNothingElseThenPong()
    }

    func testEveryConnectionGetsAFreshNonce() throws {
        let fixture = try startServer()
        var nonces = Set<[UInt8]>()
        for _ in 0..<5 {
            let (_, challenge) = try connectAndReadChallenge(fixture)
            nonces.insert(challenge.nonce)
        }
        XCTAssertEqual(nonces.count, 5)
    }

    func testBadSignatureIsRefusedWithAuthenticationFailedAndClose4005() throws {
        let fixture = try startServer()
        let socket = try connect(fixture)
        try socket.sendAuth(port: fixture.port, identity: DeviceIdentity(), realm: "home", certificateSHA256: fixture.pin,
                            corruptSignature: true)
        XCTAssertEqual(try socket.expectRefusal(.authenticationFailed, closeStatus: 4005), [])
        XCTAssertEqual(fixture.rejections(.authenticationFailed), 1)
        XCTAssertEqual(fixture.server.metricsSnapshot().devices, 0)
    }

    /// A TLS middlebox (a second server with its own certificate) relays the real
    /// server's challenge to a device and the device's auth back: the device signed the
    /// middlebox's certificate digest, so the real server refuses it.
    func testAuthSignedForAnotherCertificateCannotBeRelayed() throws {
        let server = try startServer()
        let middlebox = try startServer()
        XCTAssertNotEqual(server.pin, middlebox.pin)
        let device = DeviceIdentity()

        // The middlebox's own leg to the real server.
        let (relay, challenge) = try connectAndReadChallenge(server)
        // The device's leg to the middlebox: it sees the middlebox's certificate.
        let deviceLeg = try connect(middlebox)
        let seenByDevice = try XCTUnwrap(deviceLeg.peerCertificateSHA256())
        XCTAssertEqual(seenByDevice, middlebox.pin)
        // The device signs the relayed nonce with the certificate it saw; the middlebox forwards.
        let signature = try device.sign(Auth.signedData(nonce: challenge.nonce, serverCertificateSHA256: seenByDevice,
                                                        realm: "home", enrollmentCode: ""))
        try relay.send(.auth(Auth(identityKey: device.publicKey, signature: signature, realm: "home", enrollmentCode: "")))
        try relay.expectRefusal(.authenticationFailed, closeStatus: 4005)

        // Control: the same device signing the real server's certificate gets in.
        let direct = try logIn(server, device)
        try direct.socket.expectNothingElseThenPong()
    }

    func testSignatureOverAnotherConnectionsNonceIsRefused() throws {
        let fixture = try startServer()
        let identity = DeviceIdentity()
        let (first, _) = try connectAndReadChallenge(fixture)
        let (_, otherChallenge) = try connectAndReadChallenge(fixture)
        let signature = try identity.sign(Auth.signedData(nonce: otherChallenge.nonce, serverCertificateSHA256: fixture.pin,
                                                          realm: "home", enrollmentCode: ""))
        try first.send(.auth(Auth(identityKey: identity.publicKey, signature: signature, realm: "home", enrollmentCode: "")))
        try first.expectRefusal(.authenticationFailed, closeStatus: 4005)
    }

    func testUnlistedDeviceIsNotEnrolledUnderAnAllowlist() throws {
        let fixture = try startServer(enrollment: .allowlist)
        let listed = DeviceIdentity()
        fixture.store.allowlist = [listed.deviceID: "listed"]
        fixture.reloadAndWait()

        let stranger = try connect(fixture)
        try stranger.sendAuth(port: fixture.port, identity: DeviceIdentity(), realm: "home", certificateSHA256: fixture.pin)
        try stranger.expectRefusal(.notEnrolled, closeStatus: 4006)
        XCTAssertEqual(fixture.rejections(.notEnrolled), 1)

        let admitted = try logIn(fixture, listed)
        try admitted.socket.expectNothingElseThenPong()
    }

    func testRemovingADeviceFromTheAllowlistDisconnectsItAtOnceAndOnlyIt() throws {
        let fixture = try startServer(enrollment: .allowlist)
        let revokedIdentity = DeviceIdentity(), stayingIdentity = DeviceIdentity()
        fixture.store.allowlist = [revokedIdentity.deviceID: "old phone", stayingIdentity.deviceID: "laptop"]
        fixture.reloadAndWait()
        let revoked = try logIn(fixture, revokedIdentity)
        let staying = try logIn(fixture, stayingIdentity)
        try revoked.socket.expect(.presenceUpdate(device: staying.id, online: true))

        fixture.store.allowlist = [stayingIdentity.deviceID: "laptop"]
        fixture.server.reload()

        try revoked.socket.expectRefusal(.revoked, closeStatus: 4008)
        try staying.socket.expect(.presenceUpdate(device: revoked.id, online: false), "the realm sees the revoked device leave")
        try staying.socket.expectNothingElseThenPong("the listed device stays connected")
        XCTAssertEqual(fixture.rejections(.revoked), 1)

        let again = try connect(fixture)
        try again.sendAuth(port: fixture.port, identity: revokedIdentity, realm: "home", certificateSHA256: fixture.pin)
        try again.expectRefusal(.notEnrolled, closeStatus: 4006)  // a revoked device cannot come back
    }

    func testOneTimeEnrollmentCodeAdmitsOneDeviceAndIsRecordedThenRefused() throws {
        let fixture = try startServer(enrollment: .allowlist)
        let code = EnrollmentCodes.generate()
        fixture.store.codes = [EnrollmentCodeRecord(digest: EnrollmentCodes.digest(code), expiresAtUnixSeconds: Int64(time(nil)) + 600)]
        fixture.reloadAndWait()

        let newcomer = DeviceIdentity()
        // Typed loosely: upper case and without the dashes still matches.
        let typed = String(code.uppercased().map { $0 == "-" ? " " : $0 })
        let enrolled = try logIn(fixture, newcomer, enrollmentCode: typed)
        XCTAssertEqual(enrolled.online, [])
        XCTAssertEqual(fixture.store.enrolled, [newcomer.deviceID], "the store recorded the enrollment")
        XCTAssertNotNil(fixture.store.allowlist[newcomer.deviceID], "the device is now listed")
        XCTAssertEqual(fixture.store.codes, [], "the code is forgotten")

        let latecomer = try connect(fixture)
        try latecomer.sendAuth(port: fixture.port, identity: DeviceIdentity(), realm: "home", certificateSHA256: fixture.pin,
                               enrollmentCode: code)
        try latecomer.expectRefusal(.enrollmentCodeInvalid, closeStatus: 4007)
        XCTAssertEqual(fixture.store.enrolled, [newcomer.deviceID])

        // The enrolled device is listed from now on: it needs no code to come back.
        let back = try logIn(fixture, newcomer)
        XCTAssertEqual(back.online, [])
        try back.socket.expectNothingElseThenPong()
    }

    func testExpiredEnrollmentCodesAreRefused() throws {
        let fixture = try startServer(enrollment: .allowlist)
        let longExpired = EnrollmentCodes.generate(), expiringSoon = EnrollmentCodes.generate()
        let now = Int64(time(nil))
        fixture.store.codes = [EnrollmentCodeRecord(digest: EnrollmentCodes.digest(longExpired), expiresAtUnixSeconds: now - 60),
                               EnrollmentCodeRecord(digest: EnrollmentCodes.digest(expiringSoon), expiresAtUnixSeconds: now + 1)]
        fixture.reloadAndWait()

        let first = try connect(fixture)
        try first.sendAuth(port: fixture.port, identity: DeviceIdentity(), realm: "home", certificateSHA256: fixture.pin,
                           enrollmentCode: longExpired)
        try first.expectRefusal(.enrollmentCodeInvalid, closeStatus: 4007)

        // Loaded while valid; presented after its expiry (the subject here is time itself).
        waitUntil(seconds: 5, "the second code has expired") { Int64(time(nil)) >= now + 2 }
        let second = try connect(fixture)
        try second.sendAuth(port: fixture.port, identity: DeviceIdentity(), realm: "home", certificateSHA256: fixture.pin,
                            enrollmentCode: expiringSoon)
        try second.expectRefusal(.enrollmentCodeInvalid, closeStatus: 4007)
        XCTAssertEqual(fixture.store.enrolled, [])
        XCTAssertEqual(fixture.rejections(.enrollmentCodeInvalid), 2)
    }

    func testSecondLoginOfTheSameDeviceReplacesTheFirstConnection() throws {
        let fixture = try startServer()
        let identity = DeviceIdentity()
        let old = try logIn(fixture, identity)
        let peer = try logIn(fixture)
        try old.socket.expect(.presenceUpdate(device: peer.id, online: true))
        let callID = CallID.random()
        try peer.socket.send(.invite(callee: identity.deviceID, callID: callID, payload: randomBytes(148)))
        try peer.socket.expect(.ringing(callID: callID))

        let new = try logIn(fixture, identity)
        XCTAssertEqual(new.online, [peer.id])
        let beforeRefusal = try old.socket.expectRefusal(.replaced, closeStatus: 4009)
        XCTAssertEqual(beforeRefusal.map(\.type), [.incomingCall])
        try peer.socket.expect(.callEnded(callID: callID, outcome: .peerGone), "the replaced connection's calls end")
        try peer.socket.expect(.presenceUpdate(device: identity.deviceID, online: false))
        try peer.socket.expect(.presenceUpdate(device: identity.deviceID, online: true))
        try new.socket.expectNothingElseThenPong()
        XCTAssertEqual(fixture.server.metricsSnapshot().devices, 2)
    }

    func testNoAuthWithinTheHandshakeTimeoutIsRefused() throws {
        let fixture = try startServer { $0.core.handshakeTimeout = .seconds(1) }
        let (socket, _) = try connectAndReadChallenge(fixture)
        XCTAssertEqual(try socket.expectRefusal(.handshakeTimeout, closeStatus: 4013), [])
        XCTAssertEqual(fixture.rejections(.handshakeTimeout), 1)
    }

    func testAnyMessageBeforeAuthIsUnexpectedAndClosed() throws {
        let fixture = try startServer()
        let (socket, _) = try connectAndReadChallenge(fixture)
        try socket.send(.ping(7))
        XCTAssertEqual(try socket.expectRefusal(.unexpectedMessage, closeStatus: 4003), [])

        let (inviter, _) = try connectAndReadChallenge(fixture)
        try inviter.send(.invite(callee: DeviceID.random(), callID: CallID.random(), payload: []))
        try inviter.expectRefusal(.unexpectedMessage, closeStatus: 4003)
    }

    func testSecondAuthOnAnAuthenticatedConnectionIsUnexpectedAndLeavesItOpen() throws {
        let fixture = try startServer()
        let device = try logIn(fixture)
        try device.socket.send(.auth(Auth(identityKey: device.identity.publicKey, signature: randomBytes(64), realm: "other",
                                          enrollmentCode: "")))
        try device.socket.expectError(.unexpectedMessage)
        try device.socket.expectNothingElseThenPong("still open, still in its realm")
        XCTAssertEqual(fixture.server.metricsSnapshot().devices, 1)
    }

    /// PROTOCOL.md: `realm` is 1 to 64 bytes; outside that the auth does not decode (malformed).
    func testRealmMustBeOneTo64Bytes() throws {
        let fixture = try startServer()
        func rawAuth(realm: [UInt8]) -> [UInt8] {
            [SignalLimits.version, SignalType.auth.rawValue] + randomBytes(32) + randomBytes(64) + [UInt8(realm.count)] + realm + [0]
        }
        for realm in [[UInt8](), [UInt8](repeating: 0x61, count: 65)] {
            let (socket, _) = try connectAndReadChallenge(fixture)
            try socket.writeRaw(RawWebSocket.frame(opcode: 2, rawAuth(realm: realm)))
            XCTAssertEqual(try socket.expectRefusal(.malformed, closeStatus: 4001), [], "a realm of \(realm.count) bytes")
        }
        let longest = String(repeating: "r", count: 64)
        let device = try logIn(fixture, realm: longest)
        XCTAssertEqual(device.online, [], "64 bytes is a valid realm")
    }
}
