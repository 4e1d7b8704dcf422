@testable import ParleyCrypto
import Foundation
import XCTest

final class DeviceIdentityTests: SecretsTestCase {
    private var directory: URL!

    override func setUp() {
        super.setUp()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("parley-identity-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: directory)
        super.tearDown()
    }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func testDeviceIDIsDerivedFromThePublicKeyAndSelfCertifying() throws {
        let identity = DeviceIdentity()
        defer { identity.erase() }
        XCTAssertEqual(identity.deviceID.bytes.count, 20)
        XCTAssertEqual(identity.deviceID, try DeviceID(publicKey: identity.publicKey))
        XCTAssertTrue(identity.deviceID.matches(publicKey: identity.publicKey))
        var otherKey = identity.publicKey
        otherKey[0] ^= 1
        XCTAssertFalse(identity.deviceID.matches(publicKey: otherKey))
    }

    func testSeedGivesAFixedIdentityAndSignaturesVerify() throws {
        let seed = SecretBytes(copying: [UInt8](repeating: 7, count: 32))
        defer { seed.erase() }
        let first = try DeviceIdentity(seed: seed)
        let second = try DeviceIdentity(seed: seed)
        defer { first.erase(); second.erase() }
        XCTAssertEqual(first.publicKey, second.publicKey)
        let signature = try first.sign(Array("hello".utf8))
        XCTAssertTrue(Ed25519.isValidSignature(signature, of: Array("hello".utf8), publicKey: first.publicKey))
        XCTAssertFalse(Ed25519.isValidSignature(signature, of: Array("hellO".utf8), publicKey: first.publicKey))
        first.erase()
        XCTAssertThrowsCryptoError(.secretErased, try first.sign([1]))
    }

    func testPrintableDeviceIDRoundTripsAndCatchesTypos() throws {
        let identity = DeviceIdentity()
        defer { identity.erase() }
        let text = identity.deviceID.printable
        XCTAssertEqual(text.count, DeviceID.printableCount)
        XCTAssertEqual(try DeviceID(printable: text), identity.deviceID)
        XCTAssertEqual(try DeviceID(printable: text.uppercased()), identity.deviceID, "case-insensitive")
        let grouped = stride(from: 0, to: text.count, by: 4).map { String(Array(text)[$0..<min($0 + 4, text.count)]) }.joined(separator: "-")
        XCTAssertEqual(try DeviceID(printable: grouped), identity.deviceID, "dashes ignored")
        // Any single-character substitution is caught by the checksum (or the alphabet).
        var typos = 0
        for position in 0..<(text.count - 1) {
            var chars = Array(text)
            chars[position] = chars[position] == "a" ? "b" : "a"
            if (try? DeviceID(printable: String(chars))) == nil { typos += 1 }
        }
        XCTAssertGreaterThanOrEqual(typos, text.count - 2, "checksum missed single-character typos")
        XCTAssertThrowsError(try DeviceID(printable: "not-base32-!!"))
        XCTAssertThrowsError(try DeviceID(printable: String(text.dropLast(2))))
        XCTAssertEqual(identity.deviceID.fingerprint.count, 9)
        XCTAssertTrue(text.hasPrefix(identity.deviceID.fingerprint.replacingOccurrences(of: "-", with: "")))
    }

    func testKeyFileRoundTripsWithMode0600() throws {
        let identity = DeviceIdentity()
        defer { identity.erase() }
        let file = path("device.key")
        try identity.save(path: file)
        let attributes = try FileManager.default.attributesOfItem(atPath: file)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        XCTAssertEqual((attributes[.size] as? NSNumber)?.intValue, 40)
        let loaded = try DeviceIdentity.load(path: file)
        defer { loaded.erase() }
        XCTAssertEqual(loaded.publicKey, identity.publicKey)
        XCTAssertEqual(loaded.deviceID, identity.deviceID)
    }

    func testKeyFileReadableByOthersIsRefusedWithAClearError() throws {
        let identity = DeviceIdentity()
        defer { identity.erase() }
        let file = path("loose.key")
        try identity.save(path: file)
        chmod(file, 0o644)
        XCTAssertThrowsError(try DeviceIdentity.load(path: file)) { error in
            XCTAssertEqual(error as? CryptoError, .keyFilePermissions(path: file, mode: UInt32(S_IFREG) | 0o644))
            XCTAssertTrue("\(error)".contains("chmod 600"), "the message says how to fix it: \(error)")
        }
        chmod(file, 0o620)
        XCTAssertThrowsError(try DeviceIdentity.load(path: file))
    }

    func testSavingNeverOverwritesAnExistingIdentity() throws {
        let first = DeviceIdentity(), second = DeviceIdentity()
        defer { first.erase(); second.erase() }
        let file = path("device.key")
        try first.save(path: file)
        XCTAssertThrowsError(try second.save(path: file))
        let loaded = try DeviceIdentity.load(path: file)
        defer { loaded.erase() }
        XCTAssertEqual(loaded.publicKey, first.publicKey)
    }

    func testMissingTruncatedForeignAndSymlinkedKeyFilesAreRefused() throws {
        XCTAssertThrowsError(try DeviceIdentity.load(path: path("absent.key"))) { XCTAssertTrue("\($0)".contains("cannot open")) }

        let short = path("short.key")
        FileManager.default.createFile(atPath: short, contents: Data("PARLEYK1".utf8), attributes: [.posixPermissions: 0o600])
        XCTAssertThrowsError(try DeviceIdentity.load(path: short)) { XCTAssertTrue("\($0)".contains("not a Parley key file")) }

        let foreign = path("foreign.key")
        FileManager.default.createFile(atPath: foreign, contents: Data(repeating: 0x41, count: 40), attributes: [.posixPermissions: 0o600])
        XCTAssertThrowsError(try DeviceIdentity.load(path: foreign)) { XCTAssertTrue("\($0)".contains("bad magic")) }

        let identity = DeviceIdentity()
        defer { identity.erase() }
        let real = path("real.key")
        try identity.save(path: real)
        let link = path("link.key")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: real)
        XCTAssertThrowsError(try DeviceIdentity.load(path: link), "a symlink could redirect the key file")

        XCTAssertThrowsError(try DeviceIdentity.load(path: directory.path)) { XCTAssertTrue("\($0)".contains("not a regular file")) }
    }
}
