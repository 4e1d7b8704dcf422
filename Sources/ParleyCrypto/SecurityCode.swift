/// The optional security code two people agree on out of band. It becomes CPace's
/// PRS. Normalisation: ASCII spaces, tabs and '-' are removed, so "123-456" and
/// "123 456" are the same code; letters keep their case; any other byte counts.
/// The code lives in protected memory from the moment it is parsed.
public final class SecurityCode: Sendable {
    let secret: SecretBytes

    /// Returns nil for "no code" (nil or blank input); throws when the code is too long.
    public static func parse(_ text: String?) throws -> SecurityCode? {
        guard let text else { return nil }
        let kept = text.utf8.lazy.filter(isKept)
        let count = kept.count
        guard count > 0 else { return nil }
        guard count <= SpecConstants.securityCodeMaxBytes else {
            throw CryptoError.invalidSecurityCode("longer than \(SpecConstants.securityCodeMaxBytes) bytes")
        }
        // Copied straight from the caller's string into protected memory.
        return SecurityCode(secret: SecretBytes(count: count) { buffer in
            for (index, byte) in kept.enumerated() { buffer[index] = byte }
        })
    }

    private static func isKept(_ byte: UInt8) -> Bool {
        byte != UInt8(ascii: " ") && byte != UInt8(ascii: "-") && byte != UInt8(ascii: "\t")
    }

    private init(secret: SecretBytes) { self.secret = secret }

    /// Erases the code (after the handshake has used it).
    public func erase() { secret.erase() }
}
