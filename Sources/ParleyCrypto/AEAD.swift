import CSodium

/// ChaCha20-Poly1305 (IETF, RFC 8439): 32-byte key, 12-byte nonce, 16-byte tag.
/// Parley's sealed blobs and frames use it with counter nonces.
public enum ChaCha20Poly1305 {
    public static let keyCount = Int(crypto_aead_chacha20poly1305_ietf_KEYBYTES)
    public static let nonceCount = Int(crypto_aead_chacha20poly1305_ietf_NPUBBYTES)
    public static let tagCount = Int(crypto_aead_chacha20poly1305_ietf_ABYTES)

    /// Returns ciphertext || tag.
    public static func seal(_ plaintext: [UInt8], key: SecretBytes, nonce: [UInt8], associatedData: [UInt8]) throws -> [UInt8] {
        try AEADCore.seal(plaintext, key: key, nonce: nonce, associatedData: associatedData, algorithm: .chacha20Poly1305)
    }

    /// Opens ciphertext || tag; throws `authenticationFailed` on any tampering.
    public static func open(_ sealed: [UInt8], key: SecretBytes, nonce: [UInt8], associatedData: [UInt8]) throws -> [UInt8] {
        try AEADCore.open(sealed, key: key, nonce: nonce, associatedData: associatedData, algorithm: .chacha20Poly1305)
    }
}

/// XChaCha20-Poly1305: 32-byte key, 24-byte nonce (safe to pick at random), 16-byte tag.
/// For payloads sealed under random nonces (no counter to keep); held to the same
/// Wycheproof checks as the counter-nonce AEAD.
public enum XChaCha20Poly1305 {
    public static let keyCount = Int(crypto_aead_xchacha20poly1305_ietf_KEYBYTES)
    public static let nonceCount = Int(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
    public static let tagCount = Int(crypto_aead_xchacha20poly1305_ietf_ABYTES)

    public static func seal(_ plaintext: [UInt8], key: SecretBytes, nonce: [UInt8], associatedData: [UInt8]) throws -> [UInt8] {
        try AEADCore.seal(plaintext, key: key, nonce: nonce, associatedData: associatedData, algorithm: .xchacha20Poly1305)
    }

    public static func open(_ sealed: [UInt8], key: SecretBytes, nonce: [UInt8], associatedData: [UInt8]) throws -> [UInt8] {
        try AEADCore.open(sealed, key: key, nonce: nonce, associatedData: associatedData, algorithm: .xchacha20Poly1305)
    }
}

/// The shared implementation behind both AEAD front ends: length checks, then one libsodium call.
enum AEADCore {
    enum Algorithm {
        case chacha20Poly1305, xchacha20Poly1305

        var nonceCount: Int {
            self == .chacha20Poly1305 ? ChaCha20Poly1305.nonceCount : XChaCha20Poly1305.nonceCount
        }

        var name: String { self == .chacha20Poly1305 ? "ChaCha20-Poly1305" : "XChaCha20-Poly1305" }
    }

    static let tagCount = 16
    static let keyCount = 32

    static func seal(_ plaintext: [UInt8], key: SecretBytes, nonce: [UInt8], associatedData: [UInt8],
                     algorithm: Algorithm) throws -> [UInt8] {
        try checkSizes(key: key, nonce: nonce, algorithm: algorithm)
        var output = [UInt8](repeating: 0, count: plaintext.count + tagCount)
        try key.withUnsafeBytes { keyBytes in
            let keyPointer = keyBytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
            var written: UInt64 = 0
            switch algorithm {
            case .chacha20Poly1305:
                crypto_aead_chacha20poly1305_ietf_encrypt(&output, &written, plaintext, UInt64(plaintext.count),
                                                          associatedData, UInt64(associatedData.count), nil, nonce, keyPointer)
            case .xchacha20Poly1305:
                crypto_aead_xchacha20poly1305_ietf_encrypt(&output, &written, plaintext, UInt64(plaintext.count),
                                                           associatedData, UInt64(associatedData.count), nil, nonce, keyPointer)
            }
        }
        return output
    }

    static func open(_ sealed: [UInt8], key: SecretBytes, nonce: [UInt8], associatedData: [UInt8],
                     algorithm: Algorithm) throws -> [UInt8] {
        try checkSizes(key: key, nonce: nonce, algorithm: algorithm)
        guard sealed.count >= tagCount else { throw CryptoError.authenticationFailed }
        var output = [UInt8](repeating: 0, count: sealed.count - tagCount)
        let status: Int32 = try key.withUnsafeBytes { keyBytes in
            let keyPointer = keyBytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
            var written: UInt64 = 0
            switch algorithm {
            case .chacha20Poly1305:
                return crypto_aead_chacha20poly1305_ietf_decrypt(&output, &written, nil, sealed, UInt64(sealed.count),
                                                                 associatedData, UInt64(associatedData.count), nonce, keyPointer)
            case .xchacha20Poly1305:
                return crypto_aead_xchacha20poly1305_ietf_decrypt(&output, &written, nil, sealed, UInt64(sealed.count),
                                                                  associatedData, UInt64(associatedData.count), nonce, keyPointer)
            }
        }
        guard status == 0 else { throw CryptoError.authenticationFailed }
        return output
    }

    private static func checkSizes(key: SecretBytes, nonce: [UInt8], algorithm: Algorithm) throws {
        guard key.count == keyCount else {
            throw CryptoError.invalidLength(what: "\(algorithm.name) key", expected: keyCount, actual: key.count)
        }
        guard nonce.count == algorithm.nonceCount else {
            throw CryptoError.invalidLength(what: "\(algorithm.name) nonce", expected: algorithm.nonceCount, actual: nonce.count)
        }
    }
}
