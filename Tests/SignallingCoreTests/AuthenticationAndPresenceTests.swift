@testable import ParleyCrypto
import ParleyProtocol
@testable import SignallingCore
import XCTest

final class AuthenticationAndPresenceTests: XCTestCase {
    private let alice = DeviceIdentity(), bob = DeviceIdentity(), carol = DeviceIdentity()

    func testConnectionGetsAFreshChallengeAndAValidAuthIsWelcomed() throws {
        let server = CoreHarness()
        let first = server.connect(), second = server.connect()
        guard case let .challenge(c1)? = server.inbox[first]?.first, case let .challenge(c2)? = server.inbox[second]?.first else {
            return XCTFail("no challenge")
        }
        XCTAssertEqual(c1.nonce.count, 32)
        XCTAssertNotEqual(c1.nonce, c2.nonce, "every connection signs a different nonce")
        let id = try server.login(alice)
        XCTAssertEqual(server.take(id), [.welcome(Welcome(deviceID: alice.deviceID, realm: "home")), .presenceSnapshot([])])
        XCTAssertNil(server.closed[id] ?? nil)
    }

    func testBadSignatureWrongCertificateAndNonAuthFirstMessageAreRefused() throws {
        let server = CoreHarness()
        let forged = try server.login(alice, certificate: [UInt8](repeating: 0, count: 32))  // signed for another server
        XCTAssertEqual(server.closed[forged], .authenticationFailed)
        XCTAssertEqual(server.take(forged).last, .error(code: .authenticationFailed, message: "the signature over the challenge does not verify"))

        let impostor = server.connect()
        let nonce = try server.nonce(of: impostor)
        let signature = try bob.sign(Auth.signedData(nonce: nonce, serverCertificateSHA256: CoreHarness.certificate, realm: "home", enrollmentCode: ""))
        server.send(impostor, .auth(Auth(identityKey: alice.publicKey, signature: signature, realm: "home", enrollmentCode: "")))
        XCTAssertEqual(server.closed[impostor], .authenticationFailed, "bob's signature with alice's key")

        let eager = server.connect()
        server.send(eager, .invite(callee: bob.deviceID, callID: CoreHarness.callID(1), payload: []))
        XCTAssertEqual(server.closed[eager], .unexpectedMessage)
        XCTAssertEqual(server.core.connectionCount, 0)
    }

    func testReplayedAuthFromAnotherConnectionFails() throws {
        let server = CoreHarness()
        let first = server.connect()
        let nonce = try server.nonce(of: first)
        let signature = try alice.sign(Auth.signedData(nonce: nonce, serverCertificateSHA256: CoreHarness.certificate, realm: "home", enrollmentCode: ""))
        let auth = Auth(identityKey: alice.publicKey, signature: signature, realm: "home", enrollmentCode: "")
        let second = server.connect()
        server.send(second, .auth(auth))
        XCTAssertEqual(server.closed[second], .authenticationFailed, "a signature is bound to its connection's nonce")
    }

    func testAllowlistAdmitsListedDevicesOnly() throws {
        let server = CoreHarness(policy: .allowlist, allowlist: [alice.deviceID: "Alice"])
        let listed = try server.login(alice)
        XCTAssertNil(server.closed[listed] ?? nil)
        let stranger = try server.login(bob)
        XCTAssertEqual(server.closed[stranger], .notEnrolled)
    }

    func testOneTimeEnrollmentCodeWorksOnceAndNotAfterExpiry() throws {
        let server = CoreHarness(policy: .allowlist)
        server.feed(.enrollmentCodesChanged([EnrollmentCodes.digest("K7PQ-2M9X"): server.now + .seconds(600),
                                             EnrollmentCodes.digest("OLD"): server.now + .seconds(1)]))
        let firmware = try server.login(alice, code: "K7PQ-2M9X")
        XCTAssertNil(server.closed[firmware] ?? nil)
        XCTAssertEqual(server.enrolled, [alice.deviceID])
        let reuse = try server.login(bob, code: "K7PQ-2M9X")
        XCTAssertEqual(server.closed[reuse], .enrollmentCodeInvalid, "a used code is refused")
        server.advance(.seconds(2))
        let late = try server.login(carol, code: "OLD")
        XCTAssertEqual(server.closed[late], .enrollmentCodeInvalid, "an expired code is refused")
        let wrong = try server.login(carol, code: "GUESS")
        XCTAssertEqual(server.closed[wrong], .enrollmentCodeInvalid)
        // The enrolled device now gets in without a code.
        let again = try server.login(alice)
        XCTAssertNil(server.closed[again] ?? nil)
    }

    func testRevokedDeviceIsDisconnectedAtOnceAndOthersSeeItLeave() throws {
        let server = CoreHarness(policy: .allowlist, allowlist: [alice.deviceID: "Alice", bob.deviceID: "Bob"])
        let a = try server.login(alice), b = try server.login(bob)
        _ = server.take(a)
        server.feed(.allowlistChanged([alice.deviceID: "Alice"]))
        XCTAssertEqual(server.closed[b], .revoked)
        XCTAssertEqual(server.take(a), [.presenceUpdate(device: bob.deviceID, online: false)])
    }

    func testPresenceSnapshotAndUpdatesStayInsideTheRealm() throws {
        let server = CoreHarness()
        let a = try server.login(alice, realm: "home")
        let c = try server.login(carol, realm: "office")
        _ = server.take(a); _ = server.take(c)
        let b = try server.login(bob, realm: "home")
        XCTAssertEqual(server.take(b), [.welcome(Welcome(deviceID: bob.deviceID, realm: "home")), .presenceSnapshot([alice.deviceID])])
        XCTAssertEqual(server.take(a), [.presenceUpdate(device: bob.deviceID, online: true)])
        XCTAssertEqual(server.take(c), [], "another realm sees nothing")
        server.feed(.disconnected(b))
        XCTAssertEqual(server.take(a), [.presenceUpdate(device: bob.deviceID, online: false)])
        XCTAssertEqual(server.take(c), [])
    }

    func testSecondLoginReplacesTheFirstConnection() throws {
        let server = CoreHarness()
        let first = try server.login(alice)
        let second = try server.login(alice)
        XCTAssertEqual(server.closed[first], .replaced)
        XCTAssertNil(server.closed[second] ?? nil)
        XCTAssertEqual(server.core.connectionCount, 1)
    }
}

final class PresenceScaleTests: XCTestCase {
    func testLargeRealmSnapshotIsSplitIntoEncodableChunks() throws {
        let server = CoreHarness()
        let devices = (0..<(SignalLimits.maxPresenceSnapshotDevices + 5)).map { _ in DeviceIdentity() }
        for device in devices { _ = try server.login(device) }
        let newcomer = DeviceIdentity()
        let id = try server.login(newcomer)
        let snapshots: [[DeviceID]] = server.take(id).compactMap { if case let .presenceSnapshot(list) = $0 { return list } else { return nil } }
        XCTAssertEqual(snapshots.map(\.count), [SignalLimits.maxPresenceSnapshotDevices, 5])
        XCTAssertEqual(Set(snapshots.joined()), Set(devices.map(\.deviceID)))
        for snapshot in snapshots { XCTAssertNoThrow(try SignalCodec.encode(.presenceSnapshot(snapshot))) }
    }

    func testSnapshotOfExactlyOneFullChunkEndsWithAnEmptyChunk() throws {
        let server = CoreHarness()
        let devices = (0..<SignalLimits.maxPresenceSnapshotDevices).map { _ in DeviceIdentity() }
        for device in devices { _ = try server.login(device) }
        let id = try server.login(DeviceIdentity())
        let snapshots: [[DeviceID]] = server.take(id).compactMap { if case let .presenceSnapshot(list) = $0 { return list } else { return nil } }
        XCTAssertEqual(snapshots.map(\.count), [SignalLimits.maxPresenceSnapshotDevices, 0],
                       "a full chunk never ends the snapshot, so the device can tell it is complete")
    }

    func testRealmsAreComparedByTheirBytes() throws {
        let server = CoreHarness()
        let composed = try server.login(DeviceIdentity(), realm: "caf\u{E9}")
        let decomposed = try server.login(DeviceIdentity(), realm: "cafe\u{301}")
        XCTAssertEqual(server.take(decomposed).last, .presenceSnapshot([]), "NFC and NFD spellings are different realms")
        XCTAssertEqual(server.take(composed).count, 2, "welcome and snapshot only: no presence update from the other realm")
    }
}
