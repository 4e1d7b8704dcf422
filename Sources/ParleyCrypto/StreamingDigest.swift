import CSodium

/// An incremental BLAKE2b-256 digest (libsodium `crypto_generichash`, no key) for checking
/// the integrity of streamed data, such as a file sent over a call, without holding it all.
///
/// Feed the bytes in order with `update`, then call `finalize()` once. The digest is of
/// public data: it detects corruption and truncation end to end (the frames themselves are
/// authenticated by the AEAD), it is not a secret and not a MAC.
///
/// Not thread-safe: one owner feeds it from one thread. The hash state lives in its own
/// 64-byte aligned allocation (libsodium declares the state 64-byte aligned).
public final class StreamingDigest {
    /// Digest length in bytes (BLAKE2b-256).
    public static let byteCount = 32

    private static let stateByteCount = crypto_generichash_statebytes()
    private let state: UnsafeMutableRawPointer
    private var finished = false

    public init() {
        ensureSodium()
        state = UnsafeMutableRawPointer.allocate(byteCount: StreamingDigest.stateByteCount, alignment: 64)
        let result = crypto_generichash_init(OpaquePointer(state),
                                             nil, 0, StreamingDigest.byteCount)
        // Cannot fail: no key, and 32 is within crypto_generichash_BYTES_MIN...MAX.
        precondition(result == 0, "crypto_generichash_init refused a 32-byte unkeyed digest")
    }

    deinit {
        sodium_memzero(state, StreamingDigest.stateByteCount)
        state.deallocate()
    }

    /// Whether `finalize()` was called; `update` and `finalize` must not be called again.
    public var isFinished: Bool { finished }

    /// Adds the next bytes of the stream.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        precondition(!finished, "StreamingDigest.update after finalize")
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        crypto_generichash_update(OpaquePointer(state),
                                  base.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count))
    }

    /// Adds the next bytes of the stream.
    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The digest of everything added (32 bytes). Call once.
    public func finalize() -> [UInt8] {
        precondition(!finished, "StreamingDigest.finalize called twice")
        finished = true
        var digest = [UInt8](repeating: 0, count: StreamingDigest.byteCount)
        crypto_generichash_final(OpaquePointer(state), &digest, digest.count)
        return digest
    }

    /// The digest of `bytes` in one call (the same as one `update` then `finalize`).
    public static func digest(_ bytes: [UInt8]) -> [UInt8] {
        let digest = StreamingDigest()
        digest.update(bytes)
        return digest.finalize()
    }
}
