import CSodium

/// CPace over ristretto255 with SHA-512, exactly as draft-irtf-cfrg-cpace-21
/// specifies it (section "CPace group objects G_Ristretto255", and the string
/// utilities of the appendix). Verified against the draft's test vectors.
public enum CPace {
    public static let dsi: [UInt8] = Array("CPaceRistretto255".utf8)
    public static let dsiISK: [UInt8] = dsi + Array("_ISK".utf8)
    /// SHA-512's input block size, H.s_in_bytes.
    public static let hashBlockCount = 128
    /// Encoded group element size.
    public static let elementCount = Int(crypto_core_ristretto255_BYTES)
    public static let scalarCount = Int(crypto_core_ristretto255_SCALARBYTES)
    /// ISK size: one SHA-512 output.
    public static let iskCount = 64

    /// Which transcript the ISK uses.
    public enum Order: Sendable {
        /// Initiator-responder: transcript_ir(Ya, ADa, Yb, ADb). Parley calls use this.
        case initiatorResponder
        /// Parallel (symmetric) setting: transcript_oc(Ya, ADa, Yb, ADb).
        case parallel
    }

    // MARK: String utilities (draft appendix, "CPace function definitions")

    /// LEB128 length followed by the data.
    public static func prependLen(_ data: [UInt8]) -> [UInt8] { leb128(data.count) + data }

    public static func lvCat(_ parts: [UInt8]...) -> [UInt8] { parts.flatMap(prependLen) }

    public static func leb128(_ value: Int) -> [UInt8] {
        precondition(value >= 0)
        var length = value
        var encoded: [UInt8] = []
        repeat {
            encoded.append(length < 128 ? UInt8(length) : UInt8(length & 0x7f) | 0x80)
            length >>= 7
        } while length > 0
        return encoded
    }

    /// lexiographically_larger(bytes1, bytes2) from the draft.
    public static func lexicographicallyLarger(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        for (left, right) in zip(lhs, rhs) where left != right { return left > right }
        return lhs.count > rhs.count
    }

    /// o_cat: "oc" followed by the larger string first.
    public static func orderedConcat(_ lhs: [UInt8], _ rhs: [UInt8]) -> [UInt8] {
        Array("oc".utf8) + (lexicographicallyLarger(lhs, rhs) ? lhs + rhs : rhs + lhs)
    }

    public static func transcriptIR(ya: [UInt8], adA: [UInt8], yb: [UInt8], adB: [UInt8]) -> [UInt8] {
        lvCat(ya, adA) + lvCat(yb, adB)
    }

    public static func transcriptOC(ya: [UInt8], adA: [UInt8], yb: [UInt8], adB: [UInt8]) -> [UInt8] {
        orderedConcat(lvCat(ya, adA), lvCat(yb, adB))
    }

    public static func transcript(_ order: Order, ya: [UInt8], adA: [UInt8], yb: [UInt8], adB: [UInt8]) -> [UInt8] {
        order == .initiatorResponder ? transcriptIR(ya: ya, adA: adA, yb: yb, adB: adB)
                                     : transcriptOC(ya: ya, adA: adA, yb: yb, adB: adB)
    }

    /// The optional session-id output H("CPaceSidOutput" || transcript).
    public static func sidOutput(transcript: [UInt8]) -> [UInt8] {
        SHA512.hash(Array("CPaceSidOutput".utf8) + transcript)
    }

    // MARK: Generator

    /// The pieces of generator_string(DSI, PRS, CI, sid, s_in_bytes), with PRS kept
    /// in protected memory: lv_cat(DSI, PRS, zero_bytes(len_zpad), CI, sid).
    package static func generatorStringParts(prs: SecretBytes?, ci: [UInt8], sid: [UInt8]) -> [SecretOrPublic] {
        let prsCount = prs?.count ?? 0
        let zpadCount = max(0, hashBlockCount - 1 - (leb128(prsCount).count + prsCount) - prependLen(dsi).count)
        var parts: [SecretOrPublic] = [.public(prependLen(dsi) + leb128(prsCount))]
        if let prs { parts.append(.secret(prs)) }
        parts.append(.public(prependLen([UInt8](repeating: 0, count: zpadCount)) + prependLen(ci) + prependLen(sid)))
        return parts
    }

    /// calculate_generator: element_derivation(SHA-512(generator_string)), a secret
    /// because it is derived from the password.
    package static func generator(prs: SecretBytes?, ci: [UInt8], sid: [UInt8]) throws -> SecretBytes {
        let hash = try SHA512.hash(secretParts: generatorStringParts(prs: prs, ci: ci, sid: sid))
        defer { hash.erase() }
        return try hash.withUnsafeBytes { digest in
            SecretBytes(count: elementCount) { point in
                _ = crypto_core_ristretto255_from_hash(point.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                                       digest.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
    }

    // MARK: Scalars and points

    /// sample_scalar as the draft recommends for ristretto255: 32 random bytes with
    /// the bits above group_size_bits (252) cleared. Zero is rejected and redrawn.
    package static func sampleScalar(entropy: EntropySource) -> SecretBytes {
        while true {
            let scalar = SecretBytes(count: scalarCount) { bytes in
                entropy.fill(bytes)
                bytes[scalarCount - 1] &= 0x0f
            }
            // The buffer was just created, so it cannot be erased: withUnsafeBytes cannot throw.
            let isZero = try! scalar.withUnsafeBytes { sodium_is_zero($0.baseAddress!.assumingMemoryBound(to: UInt8.self), scalarCount) == 1 }
            if !isZero { return scalar }
            scalar.erase()
        }
    }

    /// scalar_mult(y, g): the public message Y.
    package static func scalarMult(scalar: SecretBytes, generator: SecretBytes) throws -> [UInt8] {
        var element = [UInt8](repeating: 0, count: elementCount)
        let status = try scalar.withUnsafeBytes { y in
            try generator.withUnsafeBytes { g in
                crypto_scalarmult_ristretto255(&element, y.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                               g.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        guard status == 0 else { throw CryptoError.invalidPublicKey }
        return element
    }

    /// scalar_mult_vfy(y, X) with the abort built in: libsodium returns -1 when X does
    /// not decode or the product is the identity, and we also reject the all-zero
    /// (identity) encoding explicitly (is_valid_point accepts it in libsodium 1.0.18).
    package static func scalarMultVerify(scalar: SecretBytes, element: [UInt8]) throws -> SecretBytes {
        guard element.count == elementCount else {
            throw CryptoError.invalidLength(what: "CPace element", expected: elementCount, actual: element.count)
        }
        guard element.contains(where: { $0 != 0 }) else { throw CryptoError.invalidPublicKey }
        var status: Int32 = -1
        let point = try scalar.withUnsafeBytes { y in
            SecretBytes(count: elementCount) { k in
                let out = k.baseAddress!.assumingMemoryBound(to: UInt8.self)
                status = crypto_scalarmult_ristretto255(out, y.baseAddress!.assumingMemoryBound(to: UInt8.self), element)
                if status == 0 && sodium_is_zero(out, elementCount) == 1 { status = -1 }
            }
        }
        guard status == 0 else {
            point.erase()
            throw CryptoError.invalidPublicKey
        }
        return point
    }

    /// ISK = H(lv_cat(DSI || "_ISK", sid, K) || transcript). K stays in protected memory.
    package static func intermediateSessionKey(sid: [UInt8], k: SecretBytes, transcript: [UInt8]) throws -> SecretBytes {
        try SHA512.hash(secretParts: [
            .public(prependLen(dsiISK) + prependLen(sid) + leb128(k.count)),
            .secret(k),
            .public(transcript),
        ])
    }

    // MARK: One party

    /// One side of a CPace run: holds the generator and its scalar until `deriveISK`,
    /// then erases both. K is computed, hashed and erased inside `deriveISK`.
    public final class Party {
        /// This party's public message (Ya or Yb).
        public let message: [UInt8]
        private let scalar: SecretBytes
        private let sid: [UInt8]

        /// Starts a run: PRS (nil for the empty string), CI and sid as the draft defines them.
        public convenience init(prs: SecretBytes?, ci: [UInt8], sid: [UInt8]) throws {
            try self.init(prs: prs, ci: ci, sid: sid, entropy: SystemEntropy.shared)
        }

        package convenience init(prs: SecretBytes?, ci: [UInt8], sid: [UInt8], entropy: EntropySource) throws {
            try self.init(prs: prs, ci: ci, sid: sid, scalar: CPace.sampleScalar(entropy: entropy))
        }

        /// Starts a run with a given scalar (test vectors). Takes ownership of `scalar`.
        package init(prs: SecretBytes?, ci: [UInt8], sid: [UInt8], scalar: SecretBytes) throws {
            let generator = try CPace.generator(prs: prs, ci: ci, sid: sid)
            defer { generator.erase() }
            self.scalar = scalar
            self.sid = sid
            do {
                self.message = try CPace.scalarMult(scalar: scalar, generator: generator)
            } catch {
                scalar.erase()
                throw error
            }
        }

        /// Consumes the peer's message and returns the ISK. Throws `invalidPublicKey`
        /// (the draft's abort) when the peer's element is invalid or the identity.
        /// The scalar is erased afterwards whatever the outcome: a party runs once.
        public func deriveISK(peerMessage: [UInt8], transcript: [UInt8]) throws -> SecretBytes {
            defer { scalar.erase() }
            guard !scalar.isErased else { throw CryptoError.invalidState("this CPace party has already finished") }
            let k = try CPace.scalarMultVerify(scalar: scalar, element: peerMessage)
            defer { k.erase() }
            return try CPace.intermediateSessionKey(sid: sid, k: k, transcript: transcript)
        }

        /// Erases the scalar without finishing (the call was abandoned).
        public func erase() { scalar.erase() }
    }
}
