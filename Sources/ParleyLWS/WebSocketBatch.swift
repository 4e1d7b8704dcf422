import CWebSockets
import DequeModule

/// Writes queued WebSocket binary messages coalesced: several whole frames framed here and
/// handed to lws in one `lws_write(LWS_WRITE_RAW)`, which lws passes to TLS as is (one TLS
/// record and one system call for many messages; lws still buffers a partial send and
/// writes its own control frames between batches). A batch stops before `targetBytes`
/// unless its first message alone is bigger. Owned by one service thread.
package struct WebSocketBatchWriter: ~Copyable {
    /// Enough to amortise the system call and TLS record; small enough that a slow reader's
    /// partial batch (buffered by lws) stays small.
    package static let targetBytes = 16 * 1024
    private static let maxHeaderBytes = 14

    private let buffer: UnsafeMutableRawPointer
    private let capacity: Int
    /// Client frames are masked (RFC 6455 5.3); the mask comes from this generator.
    private var maskSource: MaskGenerator

    /// `maxMessageBytes` is the largest payload any single frame will carry.
    package init(maxMessageBytes: Int) {
        capacity = lwsPre + max(Self.targetBytes, maxMessageBytes) + Self.maxHeaderBytes
        buffer = .allocate(byteCount: capacity, alignment: 16)
        maskSource = MaskGenerator()
    }

    deinit { buffer.deallocate() }

    /// Frames messages from the front of `queue` into one batch and writes it. Returns the
    /// payload bytes taken off the queue, or nil when lws refused the write (close the
    /// connection). Does nothing (returns 0) on an empty queue.
    package mutating func writeBatch(_ wsi: OpaquePointer, from queue: inout Deque<[UInt8]>, masked: Bool) -> Int? {
        var end = lwsPre
        var payloadBytes = 0
        while let message = queue.first, fits(message, at: end, masked: masked) {
            end += frame(message, at: buffer + end, masked: masked)
            payloadBytes += message.count
            queue.removeFirst()
        }
        return write(wsi, end: end) ? payloadBytes : nil
    }

    /// Writes `messages` (taken with `Self.takeBatch`-style bounds by the caller) as one batch.
    /// False when lws refused the write (close the connection).
    package mutating func writeBatch(_ wsi: OpaquePointer, messages: [[UInt8]], masked: Bool) -> Bool {
        var end = lwsPre
        for message in messages {
            precondition(end + Self.headerCount(message.count, masked: masked) + message.count <= capacity,
                         "a batch larger than the writer's buffer")
            end += frame(message, at: buffer + end, masked: masked)
        }
        return write(wsi, end: end)
    }

    /// Whether `message` joins a batch whose frames end at `end`: the first message always
    /// does; later ones while the batch stays within `targetBytes`.
    private func fits(_ message: [UInt8], at end: Int, masked: Bool) -> Bool {
        let frameBytes = Self.headerCount(message.count, masked: masked) + message.count
        return (end == lwsPre || end - lwsPre + frameBytes <= Self.targetBytes) && end + frameBytes <= capacity
    }

    private func write(_ wsi: OpaquePointer, end: Int) -> Bool {
        let count = end - lwsPre
        guard count > 0 else { return true }
        return lws_write(wsi, (buffer + lwsPre).assumingMemoryBound(to: UInt8.self), count, LWS_WRITE_HTTP) >= count
    }

    package static func headerCount(_ payloadCount: Int, masked: Bool) -> Int {
        (payloadCount < 126 ? 2 : payloadCount <= 0xffff ? 4 : 10) + (masked ? 4 : 0)
    }

    /// One final binary frame (FIN, opcode 2) at `target`; returns its size.
    private mutating func frame(_ payload: [UInt8], at target: UnsafeMutableRawPointer, masked: Bool) -> Int {
        let out = target.assumingMemoryBound(to: UInt8.self)
        out[0] = 0x82
        let maskBit: UInt8 = masked ? 0x80 : 0
        var offset: Int
        switch payload.count {
        case ..<126:
            out[1] = maskBit | UInt8(payload.count)
            offset = 2
        case ...0xffff:
            out[1] = maskBit | 126
            out[2] = UInt8(payload.count >> 8)
            out[3] = UInt8(payload.count & 0xff)
            offset = 4
        default:
            out[1] = maskBit | 127
            for index in 0..<8 { out[2 + index] = UInt8((UInt64(payload.count) >> UInt64(56 - 8 * index)) & 0xff) }
            offset = 10
        }
        payload.withUnsafeBytes { source in
            guard let base = source.baseAddress, source.count > 0 else { return }
            (target + offset + (masked ? 4 : 0)).copyMemory(from: base, byteCount: source.count)
        }
        if masked {
            let key = maskSource.next()
            withUnsafeBytes(of: key) { keyBytes in
                for index in 0..<4 { out[offset + index] = keyBytes[index] }
            }
            let body = out + offset + 4
            // XOR eight bytes at a time with the key repeated, then the tail.
            let key64 = UInt64(key) | UInt64(key) << 32
            var index = 0
            let raw = UnsafeMutableRawPointer(body)
            while index + 8 <= payload.count {
                let word = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                raw.storeBytes(of: word ^ key64, toByteOffset: index, as: UInt64.self)
                index += 8
            }
            withUnsafeBytes(of: key) { keyBytes in
                while index < payload.count {
                    body[index] ^= keyBytes[index & 3]
                    index += 1
                }
            }
            offset += 4
        }
        return offset + payload.count
    }
}

/// Masking keys for client frames: xoshiro256** seeded from the system CSPRNG. RFC 6455
/// wants masks an intermediary cannot predict; they protect proxies, not secrets (every
/// Parley payload is already inside TLS), so a CSPRNG-seeded generator is enough and
/// avoids a system call per frame.
struct MaskGenerator {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    init() {
        var system = SystemRandomNumberGenerator()
        state = (system.next(), system.next(), system.next(), system.next() | 1)
    }

    mutating func next() -> UInt32 {
        let result = rotate(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotate(state.3, 45)
        return UInt32(truncatingIfNeeded: result >> 32)
    }

    private func rotate(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}
