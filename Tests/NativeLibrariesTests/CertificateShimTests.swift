import CParleyShims
import CSodium
import Foundation
import XCTest

/// The OpenSSL helpers `parley-signal` uses on first start: a self-signed P-256
/// certificate, its key, and the SHA-256 pin devices check.
final class CertificateShimTests: XCTestCase {
    private struct Generated {
        let certificate: [UInt8]
        let key: [UInt8]
        let pin: [UInt8]
    }

    private func generate(certificateCapacity: Int = 4096, keyCapacity: Int = 1024) -> (CParleyShims_cert_result, Generated) {
        var certificate = [UInt8](repeating: 0, count: certificateCapacity), key = [UInt8](repeating: 0, count: keyCapacity)
        var pin = [UInt8](repeating: 0, count: 32)
        var certificateLength = 0, keyLength = 0
        let result = CParleyShims_generate_self_signed_p256("parley-signal test", 365, &certificate, certificate.count, &certificateLength,
                                                            &key, key.count, &keyLength, &pin)
        return (result, Generated(certificate: Array(certificate.prefix(certificateLength)), key: Array(key.prefix(keyLength)), pin: pin))
    }

    /// SHA-256 of the DER inside a PEM, computed without OpenSSL.
    private func independentPin(_ pem: [UInt8]) throws -> [UInt8] {
        let text = try XCTUnwrap(String(bytes: pem, encoding: .utf8))
        let body = text.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        let der = try XCTUnwrap(Data(base64Encoded: body))
        var digest = [UInt8](repeating: 0, count: 32)
        _ = der.withUnsafeBytes { crypto_hash_sha256(&digest, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(der.count)) }
        return digest
    }

    func testSelfSignedCertificateKeyAndPinAreConsistent() throws {
        let (result, generated) = generate()
        XCTAssertEqual(result, CPARLEY_CERT_OK)
        XCTAssertTrue(String(decoding: generated.certificate, as: UTF8.self).hasPrefix("-----BEGIN CERTIFICATE-----"))
        XCTAssertTrue(String(decoding: generated.key, as: UTF8.self).hasPrefix("-----BEGIN PRIVATE KEY-----"))
        XCTAssertEqual(CParleyShims_key_matches_certificate(generated.certificate, generated.certificate.count, generated.key, generated.key.count), 1)
        XCTAssertEqual(generated.pin, try independentPin(generated.certificate), "the pin is SHA-256 of the certificate DER")
        var again = [UInt8](repeating: 0, count: 32)
        XCTAssertEqual(CParleyShims_certificate_sha256(generated.certificate, generated.certificate.count, &again), CPARLEY_CERT_OK)
        XCTAssertEqual(again, generated.pin)
    }

    func testEveryGenerationIsANewKeyAndCertificate() {
        let (_, first) = generate(), (_, second) = generate()
        XCTAssertNotEqual(first.pin, second.pin)
        XCTAssertNotEqual(first.key, second.key)
        XCTAssertEqual(CParleyShims_key_matches_certificate(first.certificate, first.certificate.count, second.key, second.key.count), 0)
    }

    func testSmallBuffersAndGarbageGiveErrorsNotCrashes() {
        XCTAssertEqual(generate(certificateCapacity: 100).0, CPARLEY_CERT_BUFFER_TOO_SMALL)
        XCTAssertEqual(generate(keyCapacity: 10).0, CPARLEY_CERT_BUFFER_TOO_SMALL)
        var pin = [UInt8](repeating: 0, count: 32)
        let garbage = Array("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n".utf8)
        XCTAssertEqual(CParleyShims_certificate_sha256(garbage, garbage.count, &pin), CPARLEY_CERT_NOT_A_CERTIFICATE)
        XCTAssertEqual(CParleyShims_key_matches_certificate(garbage, garbage.count, garbage, garbage.count), 0)
    }

    func testLwsHeadroomIsExposed() {
        XCTAssertGreaterThanOrEqual(CParleyShims_lws_pre(), 16)
    }
}
