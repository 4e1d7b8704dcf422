import CParleyShims
import ParleyCrypto

extension ServerCertificate {
    /// A new self-signed P-256 certificate (SAN 127.0.0.1 and localhost) with its key
    /// generated straight into protected memory.
    public static func generateSelfSigned(commonName: String = OperatingLimits.certificateCommonName,
                                          days: Int32 = OperatingLimits.certificateValidityDays) throws -> ServerCertificate {
        var certificate = [UInt8](repeating: 0, count: 4096)
        var certificateLength = 0, keyLength = 0
        var sha256 = [UInt8](repeating: 0, count: 32)
        var result = CPARLEY_CERT_OK
        let key = SecretBytes(count: 1024) { key in
            // A 1024-byte protected region always has a base address.
            result = CParleyShims_generate_self_signed_p256(commonName, days, &certificate, certificate.count, &certificateLength,
                                                            key.baseAddress!.assumingMemoryBound(to: UInt8.self), key.count, &keyLength, &sha256)
        }
        guard result == CPARLEY_CERT_OK else { throw SignallingServerError("could not generate a certificate (OpenSSL result \(result.rawValue))") }
        // The PEM is NUL-padded inside the protected buffer; copy exactly the key into a
        // protected buffer of its own size.
        let exact = try key.withUnsafeBytes { bytes in SecretBytes(copying: UnsafeRawBufferPointer(rebasing: bytes[..<keyLength])) }
        key.erase()
        return ServerCertificate(certificatePEM: Array(certificate.prefix(certificateLength)), privateKeyPEM: exact, sha256: sha256)
    }
}
