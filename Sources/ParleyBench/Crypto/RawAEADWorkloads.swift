import CSodium

/// A ChaCha20-Poly1305 key in a plain buffer. Acceptable for the baseline only:
/// it measures libsodium alone, and the key protects nothing.
private final class BaselineKey {
    let buffer = AlignedBuffer(count: Int(crypto_aead_chacha20poly1305_ietf_KEYBYTES))

    init() throws {
        guard sodium_init() >= 0 else { throw BenchmarkError(workload: "raw libsodium", problem: "sodium_init failed") }
        randombytes_buf(buffer.pointer, buffer.bytes.count)
    }

    deinit { sodium_memzero(buffer.pointer, buffer.bytes.count) }
}

/// The 12-byte IETF nonce, 4 zero bytes then a 64-bit big-endian counter, as frames use it.
private final class CounterNonce {
    let buffer = AlignedBuffer(count: Int(crypto_aead_chacha20poly1305_ietf_NPUBBYTES))

    @inline(__always)
    func set(_ counter: UInt64) {
        buffer.bytes.storeBytes(of: counter.bigEndian, toByteOffset: 4, as: UInt64.self)
    }
}

/// The floor for `FrameSealWorkload`: crypto_aead_chacha20poly1305_ietf_encrypt_detached
/// on the same 1200-byte payload, into a packet of the frame layout (8-byte header as
/// AD, ciphertext, tag), with a counter nonce.
final class RawSealWorkload: Workload {
    let name = "frame seal 1200 B, raw libsodium"
    let batchSize = FrameBench.batchSize
    let payloadBytes: Int? = FrameBench.payloadCount
    let displayUnit = DisplayUnit.nanoseconds
    private let key: BaselineKey
    private let nonce = CounterNonce()
    private let payload: AlignedBuffer
    private let packet = AlignedBuffer(count: FrameBench.packetCount)
    private var counter: UInt64 = 0

    init(payload: AlignedBuffer) throws {
        key = try BaselineKey()
        self.payload = payload
    }

    func measure(_ count: Int) throws -> Duration {
        let keyPointer = key.buffer.pointer
        let noncePointer = nonce.buffer.pointer
        let input = payload.pointer
        let header = packet.pointer
        let ciphertext = header + FrameBench.headerCount
        let tag = ciphertext + FrameBench.payloadCount
        let clock = ContinuousClock()
        var failures = 0
        let start = clock.now
        for _ in 0..<count {
            nonce.set(counter)
            failures += crypto_aead_chacha20poly1305_ietf_encrypt_detached(
                ciphertext, tag, nil, input, UInt64(FrameBench.payloadCount),
                header, UInt64(FrameBench.headerCount), nil, noncePointer, keyPointer) == 0 ? 0 : 1
            counter &+= 1
        }
        let elapsed = start.duration(to: clock.now)
        guard failures == 0 else { throw BenchmarkError(workload: name, problem: "\(failures) encryptions failed") }
        return elapsed
    }
}

/// The floor for `FrameOpenWorkload`: crypto_aead_chacha20poly1305_ietf_decrypt_detached
/// of a batch of packets with the same layout and footprint. Like the wrapper's, each
/// batch is sealed afresh before the clock starts, so both open packets just written
/// (equally warm in cache) even though the baseline has no replay filter to satisfy.
final class RawOpenWorkload: Workload {
    let name = "frame open 1200 B, raw libsodium"
    let batchSize = FrameBench.batchSize
    let payloadBytes: Int? = FrameBench.payloadCount
    let displayUnit = DisplayUnit.nanoseconds
    private let key: BaselineKey
    private let nonce = CounterNonce()
    private let packets = PacketSlots(count: FrameBench.batchSize, stride: FrameBench.packetCount)
    private let opened = AlignedBuffer(count: FrameBench.payloadCount)
    private let payload: AlignedBuffer
    private var counter: UInt64 = 0

    init(payload: AlignedBuffer) throws {
        key = try BaselineKey()
        self.payload = payload
    }

    func measure(_ count: Int) throws -> Duration {
        let keyPointer = key.buffer.pointer
        let noncePointer = nonce.buffer.pointer
        let slots = packets.slots
        let first = counter
        for index in 0..<count {
            // The AD plays the frame header: version/type byte, then the counter.
            slots[index].storeBytes(of: counter.bigEndian, toByteOffset: 0, as: UInt64.self)
            slots[index][0] = 0x41
            nonce.set(counter)
            let header = slots[index].baseAddress!.assumingMemoryBound(to: UInt8.self)  // a slot is never empty
            crypto_aead_chacha20poly1305_ietf_encrypt_detached(
                header + FrameBench.headerCount, header + FrameBench.headerCount + FrameBench.payloadCount, nil,
                payload.pointer, UInt64(FrameBench.payloadCount),
                header, UInt64(FrameBench.headerCount), nil, noncePointer, keyPointer)
            counter &+= 1
        }
        let output = opened.pointer
        let clock = ContinuousClock()
        var failures = 0
        let start = clock.now
        for index in 0..<count {
            nonce.set(first &+ UInt64(index))
            let header = slots[index].baseAddress!.assumingMemoryBound(to: UInt8.self)  // a slot is never empty
            let ciphertext = header + FrameBench.headerCount
            failures += crypto_aead_chacha20poly1305_ietf_decrypt_detached(
                output, nil, ciphertext, UInt64(FrameBench.payloadCount), ciphertext + FrameBench.payloadCount,
                header, UInt64(FrameBench.headerCount), noncePointer, keyPointer) == 0 ? 0 : 1
        }
        let elapsed = start.duration(to: clock.now)
        guard failures == 0 else { throw BenchmarkError(workload: name, problem: "\(failures) packets failed to authenticate") }
        return elapsed
    }
}
