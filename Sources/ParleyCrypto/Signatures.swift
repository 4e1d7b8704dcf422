import CSodium

/// Ed25519 signatures (RFC 8032) as libsodium implements them: strict about
/// non-canonical encodings and small-order public keys.
public enum Ed25519 {
    public static let publicKeyCount = Int(crypto_sign_PUBLICKEYBYTES)
    public static let secretKeyCount = Int(crypto_sign_SECRETKEYBYTES)
    public static let seedCount = Int(crypto_sign_SEEDBYTES)
    public static let signatureCount = Int(crypto_sign_BYTES)

    /// True when `signature` is a valid signature of `message` by `publicKey`.
    /// Wrong lengths are simply invalid signatures.
    public static func isValidSignature(_ signature: [UInt8], of message: [UInt8], publicKey: [UInt8]) -> Bool {
        ensureSodium()
        guard signature.count == signatureCount, publicKey.count == publicKeyCount else { return false }
        return crypto_sign_verify_detached(signature, message, UInt64(message.count), publicKey) == 0
    }

    /// Throws `badSignature` unless the signature verifies.
    public static func verify(_ signature: [UInt8], of message: [UInt8], publicKey: [UInt8]) throws {
        guard isValidSignature(signature, of: message, publicKey: publicKey) else { throw CryptoError.badSignature }
    }

    /// Signs with a 64-byte libsodium secret key (seed || public key) held in protected memory.
    package static func sign(_ message: [UInt8], secretKey: SecretBytes) throws -> [UInt8] {
        guard secretKey.count == secretKeyCount else {
            throw CryptoError.invalidLength(what: "Ed25519 secret key", expected: secretKeyCount, actual: secretKey.count)
        }
        var signature = [UInt8](repeating: 0, count: signatureCount)
        try secretKey.withUnsafeBytes { key in
            _ = crypto_sign_detached(&signature, nil, message, UInt64(message.count),
                                     key.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        return signature
    }
}

/// X25519 Diffie-Hellman (RFC 7748). Parley's call handshake uses CPace on
/// ristretto255; X25519 is offered for applications that seal data to a device
/// (for example provisioning payloads) and is held to the same Wycheproof checks.
public enum X25519 {
    public static let keyCount = Int(crypto_scalarmult_curve25519_BYTES)

    /// The public key for a 32-byte private scalar.
    public static func publicKey(privateKey: SecretBytes) throws -> [UInt8] {
        guard privateKey.count == keyCount else {
            throw CryptoError.invalidLength(what: "X25519 private key", expected: keyCount, actual: privateKey.count)
        }
        var publicKey = [UInt8](repeating: 0, count: keyCount)
        try privateKey.withUnsafeBytes { scalar in
            _ = crypto_scalarmult_curve25519_base(&publicKey, scalar.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        return publicKey
    }

    /// The shared secret; throws `invalidPublicKey` when the peer's key is of low
    /// order (the shared secret would be all zero and carry no secret at all).
    public static func sharedSecret(privateKey: SecretBytes, peerPublicKey: [UInt8]) throws -> SecretBytes {
        ensureSodium()
        guard privateKey.count == keyCount else {
            throw CryptoError.invalidLength(what: "X25519 private key", expected: keyCount, actual: privateKey.count)
        }
        guard peerPublicKey.count == keyCount else {
            throw CryptoError.invalidLength(what: "X25519 public key", expected: keyCount, actual: peerPublicKey.count)
        }
        var status: Int32 = 0
        let shared = try privateKey.withUnsafeBytes { scalar in
            SecretBytes(count: keyCount) { out in
                status = crypto_scalarmult_curve25519(out.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                                      scalar.baseAddress!.assumingMemoryBound(to: UInt8.self), peerPublicKey)
            }
        }
        guard status == 0 else {
            shared.erase()
            throw CryptoError.invalidPublicKey
        }
        return shared
    }
}
