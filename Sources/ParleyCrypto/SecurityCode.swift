/// The optional security code two people agree on out of band. It becomes CPace's
/// PRS. Normalisation: spaces, tabs and '-' are removed and ASCII letters are
/// lower-cased, so "12-ab 34" and "12AB34" are the same code. Only printable ASCII
/// is accepted: without Unicode normalisation, the same accented code typed on two
/// systems could differ byte for byte and fail as a mismatch. The code lives in
/// protected memory from the moment it is parsed.
public final class SecurityCode: Sendable {
    let secret: SecretBytes

    /// Returns nil for "no code" (nil, or only separators); throws when the code is
    /// too long or has a character outside printable ASCII.
    public static func parse(_ text: String?) throws -> SecurityCode? {
        guard let text else { return nil }
        guard text.utf8.allSatisfy({ isKept($0) ? (0x21...0x7e).contains($0) : true }) else {
            throw CryptoError.invalidSecurityCode("use letters, digits and ASCII punctuation only")
        }
        let kept = text.utf8.lazy.filter(isKept).map(lowercased)
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

    private static func lowercased(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
    }

    private init(secret: SecretBytes) { self.secret = secret }

    /// Erases the code (after the handshake has used it).
    public func erase() { secret.erase() }
}
