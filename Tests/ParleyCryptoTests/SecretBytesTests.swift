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
        let blobSealer = call.callerKeys.makeBlobSealer(), blobOpener = call.calleeKeys.makeBlobOpener()
        let frameSealer = call.callerKeys.makeFrameSealer(now: now), frameOpener = call.calleeKeys.makeFrameOpener()
        let blob = try blobSealer.seal(kind: 1, content: Array("v=0".utf8))
        _ = try blobOpener.open(blob)
        let later = now + SpecConstants.rekeyAfterTime
        let frame = try frameSealer.seal(type: 1, payload: [1], now: later)  // forces a rekey: new keys exist
        _ = try frameOpener.open(frame, now: later)
        XCTAssertGreaterThan(SecretBytes.liveCount, before)

        // Hang up: the owner erases what it holds.
        call.erase()
        frameSealer.erase()
        frameOpener.erase()
        XCTAssertEqual(SecretBytes.liveCount, before, "every secret of the call is gone")
        XCTAssertTrue(call.callerKeys.isErased && call.calleeKeys.isErased)
        XCTAssertThrowsCryptoError(.secretErased, try call.calleeKeys.makeBlobOpener().open(blob))
        XCTAssertThrowsCryptoError(.secretErased, try frameOpener.open(frame, now: later))
        XCTAssertThrowsCryptoError(.secretErased, try blobSealer.seal(kind: 1, content: []))
    }

    func testDroppingTheOwnerFreesTheSecretsToo() throws {
        let fixture = CallFixture()
        let before = SecretBytes.liveCount
        do {
            let call = try fixture.handshake(callerCode: nil, calleeCode: nil)
            let sealer = call.callerKeys.makeFrameSealer(now: .zero)
            _ = try sealer.seal(type: 1, payload: [1], now: .zero + .seconds(500))
            XCTAssertGreaterThan(SecretBytes.liveCount, before)
        }
        XCTAssertEqual(SecretBytes.liveCount, before, "releasing the call's objects released its secrets")
    }
}
