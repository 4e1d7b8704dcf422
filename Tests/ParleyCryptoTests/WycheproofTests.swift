import Foundation
import ParleyCrypto
import XCTest

/// Wycheproof known-answer tests (C2SP/wycheproof testvectors_v1, see
/// Resources/README.md) run through Parley's own wrappers: `X25519`, `Ed25519`,
/// `ChaCha20Poly1305` and `XChaCha20Poly1305`, never libsodium directly, so a
/// wrapper that mishandles lengths, status codes or output layout fails here.
///
/// Every vector of every group is run. A case is counted only after its checks
/// ran, and each test asserts that the count equals both the file's
/// `numberOfTests` and the number of tests listed in its groups, so a skipped
/// group, an unknown `result` label or a truncated file fails the test.
final class WycheproofTests: SecretsTestCase {

    // MARK: - X25519

    /// x25519_test.json through `X25519.sharedSecret(privateKey:peerPublicKey:)`.
    ///
    /// - valid: the wrapper must return exactly `shared`.
    /// - invalid: the wrapper must throw (the file has none; handled for completeness).
    /// - acceptable (low-order, twist, non-canonical and small public keys): the
    ///   wrapper rejects all-zero shared secrets (RFC 7748 section 6.1), so when
    ///   `shared` is all zero it must throw `invalidPublicKey`; otherwise it must
    ///   return exactly `shared` (non-canonical keys are reduced as RFC 7748
    ///   section 5 defines, twist points are multiplied correctly).
    func testX25519WycheproofVectorsThroughWrapper() throws {
        let file = try WycheproofFile<XdhGroup>.load("wycheproof/x25519_test.json")
        var tally = WycheproofTally()
        var rejectedZeroShared = 0

        for group in file.testGroups {
            XCTAssertEqual(group.curve, "curve25519")
            for vector in group.tests {
                let label = "x25519 tcId \(vector.tcId) \(vector.flags) (\(vector.comment))"
                let privateKey = SecretBytes(copying: try TestResources.hex(vector.private))
                defer { privateKey.erase() }
                let peerPublicKey = try TestResources.hex(vector.public)
                let expected = try TestResources.hex(vector.shared)
                let expectsZeroShared = expected.allSatisfy { $0 == 0 }
                XCTAssertEqual(expectsZeroShared, vector.flags.contains("ZeroSharedSecret"), "\(label): flags disagree with shared")

                switch vector.result {
                case .valid:
                    assertSharedSecret(privateKey, peerPublicKey, equals: expected, label)
                case .invalid:
                    XCTAssertThrowsError(try X25519.sharedSecret(privateKey: privateKey, peerPublicKey: peerPublicKey),
                                         "\(label): invalid vector was accepted")
                case .acceptable where expectsZeroShared:
                    do {
                        let shared = try X25519.sharedSecret(privateKey: privateKey, peerPublicKey: peerPublicKey)
                        shared.erase()
                        XCTFail("\(label): all-zero shared secret was returned instead of rejected")
                    } catch {
                        XCTAssertEqual(error as? CryptoError, .invalidPublicKey, label)
                        rejectedZeroShared += 1
                    }
                case .acceptable:
                    assertSharedSecret(privateKey, peerPublicKey, equals: expected, label)
                }
                tally.count(vector.result)
            }
        }

        tally.assertComplete(file, name: "x25519_test.json")
        XCTAssertEqual(rejectedZeroShared, 31, "the file has 31 vectors whose shared secret is all zero")
        print("Wycheproof x25519_test.json: \(tally.summary); \(rejectedZeroShared) acceptable rejected as all-zero shared secret")
    }

    private func assertSharedSecret(_ privateKey: SecretBytes, _ peerPublicKey: [UInt8], equals expected: [UInt8],
                                    _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        do {
            let shared = try X25519.sharedSecret(privateKey: privateKey, peerPublicKey: peerPublicKey)
            defer { shared.erase() }
            let actual = try shared.withUnsafeBytes { Array($0) }
            XCTAssertEqual(Hex.encode(actual), Hex.encode(expected), "\(label): wrong shared secret", file: file, line: line)
        } catch {
            XCTFail("\(label): expected a shared secret, wrapper threw \(error)", file: file, line: line)
        }
    }

    // MARK: - Ed25519

    /// ed25519_test.json through `Ed25519.isValidSignature(_:of:publicKey:)` and `Ed25519.verify`.
    ///
    /// - valid: `isValidSignature` must return true and `verify` must not throw.
    /// - invalid (malleable S, non-canonical encodings, truncated or padded
    ///   signatures, edge-case values): `isValidSignature` must return false and
    ///   `verify` must throw `badSignature`.
    /// - acceptable: either outcome, but both entry points must agree (the file has none).
    func testEd25519WycheproofVectorsThroughWrapper() throws {
        let file = try WycheproofFile<EddsaGroup>.load("wycheproof/ed25519_test.json")
        var tally = WycheproofTally()

        for group in file.testGroups {
            XCTAssertEqual(group.publicKey.curve, "edwards25519")
            let publicKey = try TestResources.hex(group.publicKey.pk)
            for vector in group.tests {
                let label = "ed25519 tcId \(vector.tcId) \(vector.flags) (\(vector.comment))"
                let message = try TestResources.hex(vector.msg)
                let signature = try TestResources.hex(vector.sig)
                let accepted = Ed25519.isValidSignature(signature, of: message, publicKey: publicKey)
                var verifyError: Error?
                do {
                    try Ed25519.verify(signature, of: message, publicKey: publicKey)
                } catch {
                    verifyError = error
                }

                switch vector.result {
                case .valid:
                    XCTAssertTrue(accepted, "\(label): valid signature rejected")
                    XCTAssertNil(verifyError, "\(label): verify threw for a valid signature")
                case .invalid:
                    XCTAssertFalse(accepted, "\(label): invalid signature accepted")
                    XCTAssertEqual(verifyError as? CryptoError, .badSignature, "\(label): verify did not throw badSignature")
                case .acceptable:
                    XCTAssertEqual(accepted, verifyError == nil, "\(label): isValidSignature and verify disagree")
                }
                tally.count(vector.result)
            }
        }

        tally.assertComplete(file, name: "ed25519_test.json")
        print("Wycheproof ed25519_test.json: \(tally.summary)")
    }

    // MARK: - AEAD

    /// chacha20_poly1305_test.json through `ChaCha20Poly1305.seal` / `open`; see `runAEADVectors`.
    func testChaCha20Poly1305WycheproofVectorsThroughWrapper() throws {
        let aead = AEADUnderTest(name: "chacha20_poly1305_test.json", keyCount: ChaCha20Poly1305.keyCount,
                                 nonceCount: ChaCha20Poly1305.nonceCount,
                                 seal: ChaCha20Poly1305.seal(_:key:nonce:associatedData:),
                                 open: ChaCha20Poly1305.open(_:key:nonce:associatedData:))
        try runAEADVectors(aead)
    }

    /// xchacha20_poly1305_test.json through `XChaCha20Poly1305.seal` / `open`; see `runAEADVectors`.
    func testXChaCha20Poly1305WycheproofVectorsThroughWrapper() throws {
        let aead = AEADUnderTest(name: "xchacha20_poly1305_test.json", keyCount: XChaCha20Poly1305.keyCount,
                                 nonceCount: XChaCha20Poly1305.nonceCount,
                                 seal: XChaCha20Poly1305.seal(_:key:nonce:associatedData:),
                                 open: XChaCha20Poly1305.open(_:key:nonce:associatedData:))
        try runAEADVectors(aead)
    }

    /// Runs every vector of an AEAD file:
    ///
    /// - valid: `seal(msg)` must return exactly `ct || tag`, and `open(ct || tag)`
    ///   must return exactly `msg`.
    /// - invalid with a key or nonce of the wrong size (`InvalidNonceSize`): both
    ///   `seal` and `open` must throw `invalidLength` before touching libsodium.
    /// - invalid with correct sizes (`ModifiedTag`): `open(ct || tag)` must throw
    ///   `authenticationFailed`, and `seal(msg)` must not produce the given `ct || tag`
    ///   (the vector's tag is not the real one).
    /// - acceptable: either outcome, but a successful `open` must return `msg` (the files have none).
    private func runAEADVectors(_ aead: AEADUnderTest) throws {
        let file = try WycheproofFile<AeadGroup>.load("wycheproof/\(aead.name)")
        var tally = WycheproofTally()
        var sizeRejections = 0

        for group in file.testGroups {
            XCTAssertEqual(group.tagSize, 128, "\(aead.name): every group uses 16-byte tags")
            for vector in group.tests {
                let label = "\(aead.name) tcId \(vector.tcId) \(vector.flags) (\(vector.comment))"
                let keyBytes = try TestResources.hex(vector.key)
                let key = SecretBytes(copying: keyBytes)
                defer { key.erase() }
                let nonce = try TestResources.hex(vector.iv)
                let associatedData = try TestResources.hex(vector.aad)
                let message = try TestResources.hex(vector.msg)
                let sealed = try TestResources.hex(vector.ct) + TestResources.hex(vector.tag)
                let sizesAreValid = keyBytes.count == aead.keyCount && nonce.count == aead.nonceCount
                XCTAssertEqual(keyBytes.count * 8, group.keySize, "\(label): key length disagrees with its group")
                XCTAssertEqual(nonce.count * 8, group.ivSize, "\(label): nonce length disagrees with its group")
                XCTAssertEqual(sizesAreValid, !vector.flags.contains("InvalidNonceSize"), "\(label): flags disagree with sizes")

                switch vector.result {
                case .valid:
                    XCTAssertTrue(sizesAreValid, "\(label): valid vector with unexpected key or nonce size")
                    do {
                        let produced = try aead.seal(message, key, nonce, associatedData)
                        XCTAssertEqual(Hex.encode(produced), Hex.encode(sealed), "\(label): seal output differs from ct || tag")
                    } catch {
                        XCTFail("\(label): seal threw \(error)")
                    }
                    do {
                        let opened = try aead.open(sealed, key, nonce, associatedData)
                        XCTAssertEqual(Hex.encode(opened), Hex.encode(message), "\(label): open returned the wrong plaintext")
                    } catch {
                        XCTFail("\(label): open rejected a valid ciphertext: \(error)")
                    }
                case .invalid where !sizesAreValid:
                    XCTAssertThrowsError(try aead.seal(message, key, nonce, associatedData),
                                         "\(label): seal accepted a key of \(keyBytes.count) / nonce of \(nonce.count) bytes") { error in
                        assertInvalidLength(error, label)
                    }
                    XCTAssertThrowsError(try aead.open(sealed, key, nonce, associatedData),
                                         "\(label): open accepted a key of \(keyBytes.count) / nonce of \(nonce.count) bytes") { error in
                        assertInvalidLength(error, label)
                    }
                    sizeRejections += 1
                case .invalid:
                    XCTAssertThrowsError(try aead.open(sealed, key, nonce, associatedData),
                                         "\(label): open accepted a forged tag") { error in
                        XCTAssertEqual(error as? CryptoError, .authenticationFailed, label)
                    }
                    do {
                        let produced = try aead.seal(message, key, nonce, associatedData)
                        XCTAssertNotEqual(produced, sealed, "\(label): seal reproduced the forged tag")
                    } catch {
                        XCTFail("\(label): seal threw \(error)")
                    }
                case .acceptable:
                    if let opened = try? aead.open(sealed, key, nonce, associatedData) {
                        XCTAssertEqual(opened, message, "\(label): acceptable vector opened to the wrong plaintext")
                    }
                }
                tally.count(vector.result)
            }
        }

        tally.assertComplete(file, name: aead.name)
        print("Wycheproof \(aead.name): \(tally.summary); \(sizeRejections) invalid rejected for key/nonce size")
    }

    private func assertInvalidLength(_ error: Error, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        guard case .invalidLength = error as? CryptoError else {
            XCTFail("\(label): expected invalidLength, got \(error)", file: file, line: line)
            return
        }
    }
}

// MARK: - Wycheproof file model

/// The parts of a Wycheproof testvectors_v1 file these tests read.
private struct WycheproofFile<Group: Decodable & WycheproofGroup>: Decodable {
    let algorithm: String
    let numberOfTests: Int
    let testGroups: [Group]

    /// Loads `Resources/<relativePath>` from the test bundle.
    static func load(_ relativePath: String) throws -> WycheproofFile {
        try JSONDecoder().decode(WycheproofFile.self, from: TestResources.data(relativePath))
    }

    var listedTestCount: Int { testGroups.reduce(0) { $0 + $1.testCount } }
}

private protocol WycheproofGroup {
    var testCount: Int { get }
}

/// Wycheproof's verdict for a vector. Decoding fails on any other label, so a new
/// label cannot slip past the checks.
private enum WycheproofResult: String, Decodable {
    case valid, invalid, acceptable
}

private struct XdhGroup: Decodable, WycheproofGroup {
    struct Vector: Decodable {
        let tcId: Int
        let comment: String
        let `public`: String
        let `private`: String
        let shared: String
        let result: WycheproofResult
        let flags: [String]
    }

    let curve: String
    let tests: [Vector]
    var testCount: Int { tests.count }
}

private struct EddsaGroup: Decodable, WycheproofGroup {
    struct PublicKey: Decodable {
        let curve: String
        let pk: String
    }

    struct Vector: Decodable {
        let tcId: Int
        let comment: String
        let msg: String
        let sig: String
        let result: WycheproofResult
        let flags: [String]
    }

    let publicKey: PublicKey
    let tests: [Vector]
    var testCount: Int { tests.count }
}

private struct AeadGroup: Decodable, WycheproofGroup {
    struct Vector: Decodable {
        let tcId: Int
        let comment: String
        let key: String
        let iv: String
        let aad: String
        let msg: String
        let ct: String
        let tag: String
        let result: WycheproofResult
        let flags: [String]
    }

    let ivSize: Int
    let keySize: Int
    let tagSize: Int
    let tests: [Vector]
    var testCount: Int { tests.count }
}

/// One AEAD front end, so both wrappers run through the same checks.
private struct AEADUnderTest {
    typealias Operation = ([UInt8], SecretBytes, [UInt8], [UInt8]) throws -> [UInt8]

    let name: String
    let keyCount: Int
    let nonceCount: Int
    let seal: Operation
    let open: Operation
}

/// Counts the cases that actually ran, by Wycheproof verdict.
private struct WycheproofTally {
    private(set) var valid = 0
    private(set) var invalid = 0
    private(set) var acceptable = 0

    var total: Int { valid + invalid + acceptable }
    var summary: String { "\(total) run (valid \(valid), invalid \(invalid), acceptable \(acceptable))" }

    mutating func count(_ result: WycheproofResult) {
        switch result {
        case .valid: valid += 1
        case .invalid: invalid += 1
        case .acceptable: acceptable += 1
        }
    }

    /// Fails unless every test the file declares was run.
    func assertComplete<Group: Decodable & WycheproofGroup>(_ file: WycheproofFile<Group>, name: String,
                               sourceFile: StaticString = #filePath, line: UInt = #line) {
        XCTAssertGreaterThan(file.numberOfTests, 0, "\(name): no tests declared", file: sourceFile, line: line)
        XCTAssertEqual(total, file.numberOfTests, "\(name): ran \(total) of numberOfTests \(file.numberOfTests)",
                       file: sourceFile, line: line)
        XCTAssertEqual(total, file.listedTestCount, "\(name): ran \(total) of \(file.listedTestCount) listed tests",
                       file: sourceFile, line: line)
    }
}
