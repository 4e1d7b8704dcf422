import CSodium
import Synchronization

/// A fixed-size secret held in memory from `sodium_malloc`: guard pages on both
/// sides, locked against swapping where the system allows, zeroed when erased or freed.
///
/// - There is no accessor that returns the bytes; code inside the package borrows
///   them through `withUnsafeBytes` for the duration of a libsodium call.
/// - Equality is constant time (`sodium_memcmp`).
/// - It is a class: passing it around shares the one buffer and never copies the bytes.
/// - `erase()` zeroes the bytes at once and makes every later use throw
///   `CryptoError.secretErased`; the memory itself is released in `deinit`.
///
/// Concurrency: reads may happen from several threads. `erase()` may race with a
/// read without memory unsafety (the buffer stays mapped until deinit), but the
/// read then sees zeros or part of the key: owners erase only when no operation is
/// in flight, which every owner in Parley guarantees by construction.
public final class SecretBytes: @unchecked Sendable {
    /// Number of secret buffers that exist and have not been erased. Tests compare
    /// it before and after a call to prove that every secret of the call is gone.
    public static var liveCount: Int { liveSecrets.load(ordering: .relaxed) }

    /// Length of the secret in bytes.
    public let count: Int
    private let pointer: UnsafeMutableRawPointer
    private let erasedFlag = Atomic<Bool>(false)

    /// A secret of `count` random bytes.
    public convenience init(randomCount count: Int) {
        self.init(uninitializedCount: count)
        randombytes_buf(pointer, count)
    }

    /// A secret of `count` bytes filled by `initializer`, which writes directly
    /// into the protected buffer so the secret never exists anywhere else.
    package convenience init(count: Int, initializer: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        self.init(uninitializedCount: count)
        do {
            try initializer(UnsafeMutableRawBufferPointer(start: pointer, count: count))
        } catch {
            erase()
            throw error
        }
    }

    /// Imports key material that already exists elsewhere (a test vector, a key
    /// handed in by an embedding application). The caller should wipe its copy.
    public convenience init<Bytes: Collection>(copying bytes: Bytes) where Bytes.Element == UInt8 {
        self.init(uninitializedCount: bytes.count)
        let buffer = UnsafeMutableRawBufferPointer(start: pointer, count: count)
        _ = buffer.initializeMemory(as: UInt8.self, from: bytes)
    }

    private init(uninitializedCount count: Int) {
        ensureSodium()
        precondition(count >= 0, "a secret cannot have a negative length")
        // sodium_malloc(0) returns a valid guarded region; empty secrets are allowed so
        // that a wrong-length import fails later with invalidLength, not a trap.
        guard let memory = sodium_malloc(count) else {
            // sodium_malloc fails only when the process is out of memory or mappings.
            fatalError("sodium_malloc(\(count)) failed: out of memory")
        }
        self.count = count
        self.pointer = memory
        liveSecrets.add(1, ordering: .relaxed)
    }

    deinit {
        if !erasedFlag.load(ordering: .acquiring) {
            liveSecrets.subtract(1, ordering: .relaxed)
        }
        sodium_free(pointer)  // also zeroes the buffer
    }

    /// True once `erase()` has run.
    public var isErased: Bool { erasedFlag.load(ordering: .acquiring) }

    /// Zeroes the secret now. Idempotent. Later uses throw `CryptoError.secretErased`.
    public func erase() {
        let (exchanged, _) = erasedFlag.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing)
        guard exchanged else { return }
        sodium_memzero(pointer, count)
        liveSecrets.subtract(1, ordering: .relaxed)
    }

    /// Lends the secret's bytes to `body` for the duration of the call.
    /// Package-internal: only Parley's own crypto code reads a secret.
    @inline(__always)
    package func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard !erasedFlag.load(ordering: .acquiring) else { throw CryptoError.secretErased }
        return try body(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    /// Constant-time comparison; false for different lengths or an erased side.
    public func constantTimeEquals(_ other: SecretBytes) -> Bool {
        guard count == other.count, !isErased, !other.isErased else { return false }
        return sodium_memcmp(pointer, other.pointer, count) == 0
    }
}

private let liveSecrets = Atomic<Int>(0)
