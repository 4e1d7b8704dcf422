import CSodium
import Synchronization

/// Where the crypto core gets its randomness (ephemeral scalars, call IDs, identity seeds).
///
/// Production code always uses `SystemEntropy`: the public API takes no entropy
/// source, so an application cannot hand in a weak or stubbed one (a source that
/// returned without filling would leave sodium_malloc's fixed 0xdb pattern as the
/// "random" scalar). Inside the package, test vectors and the deterministic
/// simulations of ParleyTesting use `DeterministicEntropy` to replay a handshake
/// byte for byte.
package protocol EntropySource: AnyObject, Sendable {
    /// Fills `buffer` with random bytes. Secret destinations are filled in place.
    func fill(_ buffer: UnsafeMutableRawBufferPointer)
}

/// The operating system's CSPRNG through libsodium's `randombytes_buf`.
package final class SystemEntropy: EntropySource {
    package static let shared = SystemEntropy()

    package init() { ensureSodium() }

    package func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        randombytes_buf(base, buffer.count)
    }
}

/// A reproducible stream. With S = BLAKE2b-256(seed), request n (from 0) is filled
/// with `randombytes_buf_deterministic(size, BLAKE2b-256(S || n as 8 bytes big-endian))`.
/// Never use it outside tests and vector generation.
package final class DeterministicEntropy: EntropySource {
    private let seed: [UInt8]
    private let requests = Mutex<UInt64>(0)

    package init(seed: [UInt8]) {
        ensureSodium()
        self.seed = BLAKE2b.hash(seed, outputCount: 32)
    }

    package func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        let index = requests.withLock { count -> UInt64 in
            defer { count += 1 }
            return count
        }
        var input = seed
        input.appendUInt64(index)
        let requestSeed = BLAKE2b.hash(input, outputCount: Int(randombytes_SEEDBYTES))
        randombytes_buf_deterministic(base, buffer.count, requestSeed)
    }
}

extension EntropySource {
    /// Public random bytes (call IDs, nonces).
    package func bytes(_ count: Int) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        result.withUnsafeMutableBytes { fill($0) }
        return result
    }

    /// A new secret filled in protected memory.
    package func secret(_ count: Int) -> SecretBytes {
        SecretBytes(count: count) { fill($0) }
    }
}
