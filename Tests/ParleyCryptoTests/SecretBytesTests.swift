@testable import ParleyCrypto
import XCTest

final class SecretBytesTests: SecretsTestCase {
    func testLiveCounterTracksCreationEraseAndRelease() throws {
        let baseline = SecretBytes.liveCount
        var secret: SecretBytes? = SecretBytes(randomCount: 32)
        XCTAssertEqual(SecretBytes.liveCount, baseline + 1)
        secret?.erase()
        XCTAssertEqual(SecretBytes.liveCount, baseline)
        secret?.erase()  // idempotent
        XCTAssertEqual(SecretBytes.liveCount, baseline)
        secret = nil
        XCTAssertEqual(SecretBytes.liveCount, baseline, "release after erase does not count twice")
        var dropped: SecretBytes? = SecretBytes(randomCount: 16)
        XCTAssertEqual(SecretBytes.liveCount, baseline + 1)
        dropped = nil
        XCTAssertNil(dropped)
        XCTAssertEqual(SecretBytes.liveCount, baseline, "release without erase also frees")
    }

    func testEraseZeroesAndLaterUseThrows() throws {
        let secret = SecretBytes(copying: [1, 2, 3, 4])
        let view = try secret.withUnsafeBytes { $0.baseAddress! }
        secret.erase()
        // The buffer stays mapped until deinit; it must now hold zeros.
        XCTAssertEqual(Array(UnsafeRawBufferPointer(start: view, count: 4)), [0, 0, 0, 0])
        XCTAssertThrowsCryptoError(.secretErased, try secret.withUnsafeBytes { _ in () })
        XCTAssertTrue(secret.isErased)
    }

    func testEmptyKeyMaterialIsAnErrorNotATrap() {
        let empty = SecretBytes(copying: [UInt8]())
        defer { empty.erase() }
        XCTAssertEqual(empty.count, 0)
        XCTAssertThrowsCryptoError(.invalidLength(what: "Ed25519 seed", expected: 32, actual: 0), try DeviceIdentity(seed: empty))
        XCTAssertThrowsCryptoError(.invalidLength(what: "ChaCha20-Poly1305 key", expected: 32, actual: 0),
                                   try ChaCha20Poly1305.seal([1], key: empty, nonce: [UInt8](repeating: 0, count: 12), associatedData: []))
    }

    func testComparisonIsByValueAndFalseForErasedOrDifferentLengths() {
        let a = SecretBytes(copying: [1, 2, 3]), b = SecretBytes(copying: [1, 2, 3]), c = SecretBytes(copying: [1, 2, 4])
        let d = SecretBytes(copying: [1, 2])
        defer { [a, b, c, d].forEach { $0.erase() } }
        XCTAssertTrue(a.constantTimeEquals(b))
        XCTAssertFalse(a.constantTimeEquals(c))
        XCTAssertFalse(a.constantTimeEquals(d))
        b.erase()
        XCTAssertFalse(a.constantTimeEquals(b))
    }

    func testDecryptingWithAnErasedKeyFails() throws {
        let key = SecretBytes(randomCount: 32)
        let nonce = [UInt8](repeating: 0, count: 12)
        let sealed = try ChaCha20Poly1305.seal([1, 2, 3], key: key, nonce: nonce, associatedData: [])
        XCTAssertEqual(try ChaCha20Poly1305.open(sealed, key: key, nonce: nonce, associatedData: []), [1, 2, 3])
        key.erase()
        XCTAssertThrowsCryptoError(.secretErased, try ChaCha20Poly1305.open(sealed, key: key, nonce: nonce, associatedData: []))
    }

    func testSecurityCodeNormalisation() throws {
        XCTAssertNil(try SecurityCode.parse(nil))
        XCTAssertNil(try SecurityCode.parse(" - \t"))
        let a = try XCTUnwrap(SecurityCode.parse("123-456")), b = try XCTUnwrap(SecurityCode.parse(" 123 456 "))
        let c = try XCTUnwrap(SecurityCode.parse("123457"))
        defer { [a, b, c].forEach { $0.erase() } }
        XCTAssertTrue(a.secret.constantTimeEquals(b.secret))
        XCTAssertFalse(a.secret.constantTimeEquals(c.secret))
        XCTAssertThrowsError(try SecurityCode.parse(String(repeating: "9", count: 65)))
        let upper = try XCTUnwrap(SecurityCode.parse("12AB-34")), lower = try XCTUnwrap(SecurityCode.parse("12ab34"))
        defer { upper.erase(); lower.erase() }
        XCTAssertTrue(upper.secret.constantTimeEquals(lower.secret), "letters are case-folded")
        XCTAssertThrowsError(try SecurityCode.parse("caf\u{E9}")) { error in
            XCTAssertEqual((error as? CryptoError)?.code, 1017, "non-ASCII codes are refused, not silently mismatched")
        }
    }

    func testDeterministicEntropyIsReproducibleAndSeedSensitive() {
        XCTAssertEqual(DeterministicEntropy(seed: [1]).bytes(32), DeterministicEntropy(seed: [1]).bytes(32))
        XCTAssertNotEqual(DeterministicEntropy(seed: [1]).bytes(32), DeterministicEntropy(seed: [2]).bytes(32))
        let stream = DeterministicEntropy(seed: [1])
        XCTAssertNotEqual(stream.bytes(32), stream.bytes(32), "successive requests differ")
    }
}

/// A whole call's life: handshake, blobs, frames, rekeys, hang-up. After
/// erasing, the live-secrets counter is back to where it started and no key works.
final class CallErasureTests: SecretsTestCase {
    func testEndingACallErasesEverySecretOfTheCall() throws {
        let fixture = CallFixture()
        let before = SecretBytes.liveCount
        let call = try fixture.handshake(callerCode: "2468", calleeCode: "2468")
        let now = Timestamp(nanoseconds: 0)
        let blobSealer = call.callerKeys.blobSealer, blobOpener = call.calleeKeys.blobOpener
        let frameSealer = call.callerKeys.frameSealer, frameOpener = call.calleeKeys.frameOpener
        let blob = try blobSealer.seal(kind: 1, content: Array("v=0".utf8))
        _ = try blobOpener.open(blob)
        _ = try frameOpener.open(try frameSealer.seal(type: 1, payload: [0], now: now), now: now)
        let later = now + SpecConstants.rekeyAfterTime
        let frame = try frameSealer.seal(type: 1, payload: [1], now: later)  // a rekey: keys CallKeys did not create
        _ = try frameOpener.open(frame, now: later)
        XCTAssertEqual(frameSealer.epoch, 1)
        XCTAssertGreaterThan(SecretBytes.liveCount, before)

        // Hang up: erasing the call's keys erases every epoch's keys, previous key included.
        call.erase()
        XCTAssertEqual(SecretBytes.liveCount, before, "every secret of the call is gone")
        XCTAssertTrue(call.callerKeys.isErased && call.calleeKeys.isErased)
        XCTAssertTrue(frameSealer.isErased && frameOpener.isErased)
        XCTAssertThrowsCryptoError(.secretErased, try call.calleeKeys.blobOpener.open(blob))
        XCTAssertThrowsCryptoError(.secretErased, try frameSealer.seal(type: 1, payload: [2], now: later))
        XCTAssertThrowsCryptoError(.secretErased, try frameOpener.open(frame, now: later))
        XCTAssertThrowsCryptoError(.secretErased, try blobSealer.seal(kind: 1, content: []))
    }

    func testEachDirectionHasOneSealerSoNoncesNeverRepeat() throws {
        // A second sealer restarting at counter 0 under the same key would reuse
        // (key, nonce): XOR of two blobs would reveal the SDP. There is only one.
        let fixture = CallFixture()
        let call = try fixture.handshake(callerCode: nil, calleeCode: nil)
        defer { call.erase() }
        XCTAssertTrue(call.callerKeys.blobSealer === call.callerKeys.blobSealer)
        XCTAssertTrue(call.callerKeys.frameSealer === call.callerKeys.frameSealer)
        let first = try call.callerKeys.blobSealer.seal(kind: 4, content: [])
        let second = try call.callerKeys.blobSealer.seal(kind: 1, content: Array("a=ice-pwd:secret".utf8))
        XCTAssertNotEqual(Array(first.prefix(SpecConstants.blobHeaderCount)), Array(second.prefix(SpecConstants.blobHeaderCount)),
                          "the sequence number moved on")
        let frameA = try call.callerKeys.frameSealer.seal(type: 1, payload: [1], now: .zero)
        let frameB = try call.callerKeys.frameSealer.seal(type: 1, payload: [1], now: .zero)
        XCTAssertNotEqual(Array(frameA.prefix(8)), Array(frameB.prefix(8)))
    }

    func testEachDirectionHasOneOpenerSoReplaysAreCaughtWhereverTheyArrive() throws {
        let fixture = CallFixture()
        let call = try fixture.handshake(callerCode: nil, calleeCode: nil)
        defer { call.erase() }
        let blob = try call.callerKeys.blobSealer.seal(kind: 1, content: [1])
        _ = try call.calleeKeys.blobOpener.open(blob)
        XCTAssertThrowsCryptoError(.replayed, try call.calleeKeys.blobOpener.open(blob))
        let frame = try call.callerKeys.frameSealer.seal(type: 1, payload: [1], now: .zero)
        _ = try call.calleeKeys.frameOpener.open(frame, now: .zero)
        XCTAssertThrowsCryptoError(.replayed, try call.calleeKeys.frameOpener.open(frame, now: .zero))
    }

    func testResponderDoesNotKeepTheSecurityCodeAlive() throws {
        let fixture = CallFixture()
        let before = SecretBytes.liveCount
        var code = try SecurityCode.parse("13579")
        let initiator = try CallInitiator(identity: fixture.caller, calleeID: fixture.callee.deviceID, securityCode: code)
        let responder = CallResponder(identity: fixture.callee, callerID: fixture.caller.deviceID, securityCode: code)
        defer { initiator.erase(); responder.erase() }
        _ = try responder.consumeInvite(initiator.inviteMessage)
        XCTAssertEqual(SecretBytes.liveCount, before + 3, "the code and the two CPace scalars")
        code = nil  // the application lets go of its code: nothing else holds it
        XCTAssertNil(code)
        XCTAssertEqual(SecretBytes.liveCount, before + 2, "only the two scalars are left: the responder let go of the code")
    }

    func testDroppingTheOwnerFreesTheSecretsToo() throws {
        let fixture = CallFixture()
        let before = SecretBytes.liveCount
        do {
            let call = try fixture.handshake(callerCode: nil, calleeCode: nil)
            let sealer = call.callerKeys.frameSealer
            _ = try sealer.seal(type: 1, payload: [1], now: .zero + .seconds(500))
            XCTAssertGreaterThan(SecretBytes.liveCount, before)
        }
        XCTAssertEqual(SecretBytes.liveCount, before, "releasing the call's objects released its secrets")
    }
}
