import CSodium

/// SHA-512 (the CPace hash H for ristretto255).
public enum SHA512 {
    public static let byteCount = Int(crypto_hash_sha512_BYTES)

    public static func hash(_ message: [UInt8]) -> [UInt8] {
        ensureSodium()
        var digest = [UInt8](repeating: 0, count: byteCount)
        crypto_hash_sha512(&digest, message, UInt64(message.count))
        return digest
    }

    /// Hashes secret input (for example lv_cat(DSI, sid, K)) into a new secret,
    /// so neither the input nor the digest ever leaves protected memory.
    package static func hash(secretParts parts: [SecretOrPublic]) throws -> SecretBytes {
        ensureSodium()
        var state = crypto_hash_sha512_state()
        crypto_hash_sha512_init(&state)
        defer { sodium_memzero(&state, MemoryLayout<crypto_hash_sha512_state>.size) }
        for part in parts {
            switch part {
            case let .public(bytes):
                crypto_hash_sha512_update(&state, bytes, UInt64(bytes.count))
            case let .secret(secret):
                try secret.withUnsafeBytes { raw in
                    _ = crypto_hash_sha512_update(&state, raw.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(raw.count))
                }
            }
        }
        return SecretBytes(count: byteCount) { out in
            crypto_hash_sha512_final(&state, out.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
    }
}

/// One piece of a hash input: public bytes or a borrowed secret.
package enum SecretOrPublic {
    case `public`([UInt8])
    case secret(SecretBytes)
}

/// BLAKE2b, used for device IDs and checksums (public data only).
public enum BLAKE2b {
    public static func hash(_ message: [UInt8], outputCount: Int) -> [UInt8] {
        ensureSodium()
        precondition(outputCount >= Int(crypto_generichash_BYTES_MIN) && outputCount <= Int(crypto_generichash_BYTES_MAX))
        var digest = [UInt8](repeating: 0, count: outputCount)
        crypto_generichash(&digest, outputCount, message, UInt64(message.count), nil, 0)
        return digest
    }
}

/// HMAC-SHA-512 and HKDF-SHA-512 (RFC 5869) with keys and outputs in protected memory.
///
/// Parley derives nothing longer than one SHA-512 block, so `expand` produces at most
/// 64 bytes: OKM = T(1) = HMAC(PRK, info || 0x01), truncated to `count`.
public enum HKDF {
    public static let hashCount = Int(crypto_auth_hmacsha512_BYTES)

    /// HKDF-Extract(salt, IKM) -> PRK (64 bytes, secret).
    package static func extract(salt: [UInt8], inputKeyMaterial ikm: SecretBytes) throws -> SecretBytes {
        ensureSodium()
        return try SecretBytes(count: hashCount) { prk in
            try ikm.withUnsafeBytes { ikmBytes in
                salt.withUnsafeBytes { saltBytes in
                    hmac(key: saltBytes, parts: [ikmBytes], into: prk)
                }
            }
        }
    }

    /// HKDF-Expand(PRK, info, L) -> OKM (secret), 1 <= L <= 64.
    /// T(1) is computed into a stack scratch block that is wiped before returning,
    /// so one protected allocation (the output) is made per derived key.
    package static func expand(pseudoRandomKey prk: SecretBytes, info: [UInt8], count: Int) throws -> SecretBytes {
        precondition(count > 0 && count <= hashCount, "Parley's HKDF-Expand produces one block (1...64 bytes)")
        return try prk.withUnsafeBytes { prkBytes in
            withUnsafeTemporaryAllocation(byteCount: hashCount, alignment: 16) { block in
                defer { sodium_memzero(block.baseAddress, hashCount) }
                info.withUnsafeBytes { infoBytes in
                    withUnsafeBytes(of: UInt8(1)) { counterBytes in
                        hmac(key: prkBytes, parts: [infoBytes, counterBytes], into: block)
                    }
                }
                return SecretBytes(count: count) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: block.prefix(count))) }
            }
        }
    }

    /// HMAC-SHA-512 keyed with a secret, its output truncated to the first 32 bytes
    /// (not HMAC over SHA-512/256), for key-confirmation tags. The tag is public once sent.
    package static func tag(key: SecretBytes, message: [UInt8]) throws -> [UInt8] {
        var full = [UInt8](repeating: 0, count: hashCount)
        try key.withUnsafeBytes { keyBytes in
            message.withUnsafeBytes { messageBytes in
                full.withUnsafeMutableBytes { out in
                    hmac(key: keyBytes, parts: [messageBytes], into: out)
                }
            }
        }
        return Array(full.prefix(32))
    }

    private static func hmac(key: UnsafeRawBufferPointer, parts: [UnsafeRawBufferPointer],
                             into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count >= hashCount)
        var state = crypto_auth_hmacsha512_state()
        defer { sodium_memzero(&state, MemoryLayout<crypto_auth_hmacsha512_state>.size) }
        var emptyKey: UInt8 = 0
        if let keyBase = key.baseAddress, key.count > 0 {
            crypto_auth_hmacsha512_init(&state, keyBase.assumingMemoryBound(to: UInt8.self), key.count)
        } else {
            crypto_auth_hmacsha512_init(&state, &emptyKey, 0)
        }
        for part in parts where part.count > 0 {
            crypto_auth_hmacsha512_update(&state, part.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(part.count))
        }
        crypto_auth_hmacsha512_final(&state, out.baseAddress!.assumingMemoryBound(to: UInt8.self))
    }
}
