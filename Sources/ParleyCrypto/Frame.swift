import CSodium

/// A frame on the direct path (PROTOCOL.md, "Frames"): 24 bytes of overhead.
///
///     byte 0    : version (2 bits, 01) | key phase (1 bit) | frame type (5 bits)
///     bytes 1-7 : counter, 56 bits big-endian, unique per direction for the whole call
///     then      : ChaCha20-Poly1305 ciphertext of the payload, then the 16-byte tag
///     nonce     : 4 zero bytes | counter as 8 bytes big-endian
///     AD        : the 8 header bytes
public struct FrameHeader: Equatable, Sendable {
    static let versionBits: UInt8 = 0b01
    public var keyPhase: Bool
    public var type: UInt8
    public var counter: UInt64

    public init(keyPhase: Bool, type: UInt8, counter: UInt64) {
        self.keyPhase = keyPhase
        self.type = type
        self.counter = counter
    }

    func write(to out: UnsafeMutableRawBufferPointer) {
        out[0] = FrameHeader.versionBits << 6 | (keyPhase ? 0x20 : 0) | (type & 0x1f)
        for index in 1..<SpecConstants.frameHeaderCount {
            out[index] = UInt8(truncatingIfNeeded: counter >> UInt64(8 * (SpecConstants.frameHeaderCount - 1 - index)))
        }
    }

    /// Parses the header of a frame packet; throws on a short packet or unknown version.
    public static func parse(_ packet: UnsafeRawBufferPointer) throws -> FrameHeader {
        guard packet.count >= SpecConstants.frameOverhead else {
            throw CryptoError.malformed("frame of \(packet.count) bytes is shorter than its \(SpecConstants.frameOverhead)-byte overhead")
        }
        let first = packet[0]
        guard first >> 6 == versionBits else { throw CryptoError.unsupportedVersion(first >> 6) }
        var counter: UInt64 = 0
        for index in 1..<SpecConstants.frameHeaderCount { counter = counter << 8 | UInt64(packet[index]) }
        return FrameHeader(keyPhase: first & 0x20 != 0, type: first & 0x1f, counter: counter)
    }
}

/// Derives the next frame key of a direction: HKDF-Expand(current key, lv("parley/1 frame rekey"), 32).
func nextFrameKey(after key: SecretBytes) throws -> SecretBytes {
    try HKDF.expand(pseudoRandomKey: key, info: CPace.prependLen(Labels.frameRekey), count: KeySchedule.keyCount)
}

/// The 12-byte nonce without a heap allocation: 4 zero bytes, then the counter
/// big-endian (three UInt32 in big-endian memory order, on any host).
@inline(__always)
private func frameNonce(_ counter: UInt64) -> (UInt32, UInt32, UInt32) {
    (0, UInt32(truncatingIfNeeded: counter >> 32).bigEndian, UInt32(truncatingIfNeeded: counter).bigEndian)
}

/// Seals one direction's frames. Moves to the next key after
/// `SpecConstants.rekeyAfterPackets` packets or `rekeyAfterTime` (counted from the
/// first packet under a key), erasing the old one. Get it from
/// `CallKeys.frameSealer`: one per direction and call, so counters never repeat.
/// Not thread-safe: one sender owns it.
public final class FrameSealer {
    private var key: SecretBytes
    private var keyPhase = false
    private var nextCounter: UInt64 = 0
    private var packetsUnderKey: UInt64 = 0
    private var keyFirstUsed: Timestamp?
    private let rekeyAfterPackets: UInt64
    private let rekeyAfterTime: Duration

    /// The limits default to the spec constants; tests lower them to reach a rekey quickly.
    package init(key: SecretBytes,
                 rekeyAfterPackets: UInt64 = SpecConstants.rekeyAfterPackets,
                 rekeyAfterTime: Duration = SpecConstants.rekeyAfterTime) {
        self.key = key
        self.rekeyAfterPackets = rekeyAfterPackets
        self.rekeyAfterTime = rekeyAfterTime
    }

    /// Number of rekeys so far (the key epoch).
    public private(set) var epoch: UInt64 = 0

    /// Seals `payload` as a frame of `type` into `out`, which must hold
    /// `payload.count + SpecConstants.frameOverhead` bytes. Returns the bytes written.
    public func seal(type: UInt8, payload: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer, now: Timestamp) throws -> Int {
        guard type <= SpecConstants.frameMaxType else { throw CryptoError.malformed("frame type \(type) does not fit in 5 bits") }
        guard payload.count <= SpecConstants.frameMaxPayload else {
            throw CryptoError.tooLarge(limit: SpecConstants.frameMaxPayload, actual: payload.count)
        }
        let total = payload.count + SpecConstants.frameOverhead
        guard out.count >= total else { throw CryptoError.invalidLength(what: "frame output buffer", expected: total, actual: out.count) }
        guard nextCounter < SpecConstants.frameRejectAfterCounter else { throw CryptoError.counterExhausted }
        let firstUse = keyFirstUsed ?? now
        if packetsUnderKey >= rekeyAfterPackets || now.since(firstUse) >= rekeyAfterTime {
            try rekey(now: now)
        } else {
            keyFirstUsed = firstUse
        }
        let counter = nextCounter
        FrameHeader(keyPhase: keyPhase, type: type, counter: counter).write(to: out)
        var nonce = frameNonce(counter)
        let base = out.baseAddress!.assumingMemoryBound(to: UInt8.self)
        try key.withUnsafeBytes { keyBytes in
            _ = withUnsafeBytes(of: &nonce) { nonceBytes in
                crypto_aead_chacha20poly1305_ietf_encrypt_detached(
                    base + SpecConstants.frameHeaderCount,
                    base + SpecConstants.frameHeaderCount + payload.count, nil,
                    payload.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(payload.count),
                    base, UInt64(SpecConstants.frameHeaderCount), nil,
                    nonceBytes.baseAddress!.assumingMemoryBound(to: UInt8.self),
                    keyBytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        nextCounter += 1
        packetsUnderKey += 1
        return total
    }

    /// Convenience: seals into a new array.
    public func seal(type: UInt8, payload: [UInt8], now: Timestamp) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: payload.count + SpecConstants.frameOverhead)
        _ = try payload.withUnsafeBytes { input in
            try out.withUnsafeMutableBytes { try seal(type: type, payload: input, into: $0, now: now) }
        }
        return out
    }

    private func rekey(now: Timestamp) throws {
        let next = try nextFrameKey(after: key)
        key.erase()
        key = next
        keyPhase.toggle()
        packetsUnderKey = 0
        keyFirstUsed = now
        epoch += 1
    }

    /// Erases the current frame key.
    public func erase() { key.erase() }

    public var isErased: Bool { key.isErased }
}

/// Opens the peer's frames (get it from `CallKeys.frameOpener`: one per direction
/// and call, so one replay window): checks the replay window, authenticates, follows the
/// peer's rekeying (the key phase bit; one key ahead, or two when a whole key's
/// packets were lost), keeps the previous key for
/// `SpecConstants.previousKeyGraceTime` for late packets, then erases it.
/// Not thread-safe: one receiver owns it.
public final class FrameOpener {
    private struct Epoch {
        let key: SecretBytes
        let phase: Bool
        /// Lowest counter seen under this key; counters below it belong to the previous key.
        var firstCounter: UInt64
    }

    private var current: Epoch
    private var previous: Epoch?
    private var previousExpires = Timestamp.zero
    private var replay = ReplayFilter(window: SpecConstants.frameReplayWindow)
    /// The keys one and two ahead of the current one, derived once per epoch so a
    /// flood of forged "next phase" frames costs a decryption attempt each, not a
    /// key derivation and a protected allocation each.
    private var lookahead: [SecretBytes] = []

    package init(key: SecretBytes) {
        current = Epoch(key: key, phase: false, firstCounter: 0)
    }

    /// Number of peer rekeys followed so far.
    public private(set) var epoch: UInt64 = 0

    /// Opens a frame into `out` (at least `packet.count - frameOverhead` bytes).
    /// Returns the header and the payload length. Errors: `secretErased` (the call
    /// ended), `malformed`, `unsupportedVersion`, `tooLarge`, `replayed`, `authenticationFailed`.
    public func open(_ packet: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer, now: Timestamp) throws -> (header: FrameHeader, count: Int) {
        guard !current.key.isErased else { throw CryptoError.secretErased }
        let header = try FrameHeader.parse(packet)
        let payloadCount = packet.count - SpecConstants.frameOverhead
        guard payloadCount <= SpecConstants.frameMaxPayload else { throw CryptoError.tooLarge(limit: SpecConstants.frameMaxPayload, actual: payloadCount) }
        guard out.count >= payloadCount else { throw CryptoError.invalidLength(what: "frame payload buffer", expected: payloadCount, actual: out.count) }
        guard replay.wouldAccept(header.counter, limit: SpecConstants.frameRejectAfterCounter) else { throw CryptoError.replayed }
        expirePrevious(now: now)

        // Which key: the phase bit says current or not, the counter says older or
        // newer than the current key's first packet. Every candidate must authenticate.
        let older = header.counter < current.firstCounter
        let previousMatches = previous.map { $0.phase == header.keyPhase && older } ?? false
        if header.keyPhase == current.phase {
            if (try? decrypt(packet, header: header, key: current.key, into: out)) != nil {
                current.firstCounter = min(current.firstCounter, header.counter)
            } else if previousMatches, let old = previous {
                // After a two-key jump the previous key has the current phase too.
                try decrypt(packet, header: header, key: old.key, into: out)
            } else if !older && header.counter != current.firstCounter {
                // Every packet of the peer's next key was lost (an idle sender rekeys
                // on its next send): the key two ahead has this same phase.
                try advance(by: 2, packet: packet, header: header, into: out, now: now)
            } else {
                throw CryptoError.authenticationFailed
            }
        } else if previousMatches, let old = previous {
            // Sent under the previous key: usable only within its grace time.
            try decrypt(packet, header: header, key: old.key, into: out)
        } else if older {
            throw CryptoError.authenticationFailed
        } else {
            // The peer moved to its next key.
            try advance(by: 1, packet: packet, header: header, into: out, now: now)
        }
        // The packet authenticated: only now does it count against the window.
        guard replay.accept(header.counter, limit: SpecConstants.frameRejectAfterCounter) else { throw CryptoError.replayed }
        return (header, payloadCount)
    }

    /// Convenience: opens into a new array.
    public func open(_ packet: [UInt8], now: Timestamp) throws -> (header: FrameHeader, payload: [UInt8]) {
        var out = [UInt8](repeating: 0, count: max(0, packet.count - SpecConstants.frameOverhead))
        let result = try packet.withUnsafeBytes { input in
            try out.withUnsafeMutableBytes { try open(input, into: $0, now: now) }
        }
        return (result.header, Array(out.prefix(result.count)))
    }

    /// Tries the key `steps` (1 or 2) ahead of the current one; on success it becomes
    /// current, the current key becomes previous, and any skipped key is erased.
    private func advance(by steps: Int, packet: UnsafeRawBufferPointer, header: FrameHeader,
                         into out: UnsafeMutableRawBufferPointer, now: Timestamp) throws {
        while lookahead.count < steps {
            lookahead.append(try nextFrameKey(after: lookahead.last ?? current.key))
        }
        let candidate = lookahead[steps - 1]
        try decrypt(packet, header: header, key: candidate, into: out)
        for skipped in lookahead.prefix(steps - 1) { skipped.erase() }
        lookahead.removeFirst(steps)
        previous?.key.erase()
        previous = current
        previousExpires = now + SpecConstants.previousKeyGraceTime
        current = Epoch(key: candidate, phase: header.keyPhase, firstCounter: header.counter)
        epoch += UInt64(steps)
    }

    private func expirePrevious(now: Timestamp) {
        if let old = previous, now >= previousExpires {
            old.key.erase()
            previous = nil
        }
    }

    private func decrypt(_ packet: UnsafeRawBufferPointer, header: FrameHeader, key: SecretBytes, into out: UnsafeMutableRawBufferPointer) throws {
        let payloadCount = packet.count - SpecConstants.frameOverhead
        var nonce = frameNonce(header.counter)
        let base = packet.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let status: Int32 = try key.withUnsafeBytes { keyBytes in
            withUnsafeBytes(of: &nonce) { nonceBytes in
                crypto_aead_chacha20poly1305_ietf_decrypt_detached(
                    out.baseAddress?.assumingMemoryBound(to: UInt8.self), nil,
                    base + SpecConstants.frameHeaderCount, UInt64(payloadCount),
                    base + SpecConstants.frameHeaderCount + payloadCount,
                    base, UInt64(SpecConstants.frameHeaderCount),
                    nonceBytes.baseAddress!.assumingMemoryBound(to: UInt8.self),
                    keyBytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        guard status == 0 else { throw CryptoError.authenticationFailed }
    }

    /// Erases every key this opener holds.
    public func erase() {
        current.key.erase()
        previous?.key.erase()
        previous = nil
        lookahead.forEach { $0.erase() }
        lookahead = []
    }

    public var isErased: Bool { current.key.isErased && previous == nil && lookahead.isEmpty }
}
