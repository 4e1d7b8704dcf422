// Shared by every fuzz target, ParleyCrypto's and ParleyProtocol's: the oracle's way to
// stop, the input reader and the seed writer. run.sh compiles it into every binary, next
// to FuzzSupport.swift (ParleyCrypto targets) or ProtocolFuzzSupport.swift (ParleyProtocol
// targets), which hold the libFuzzer hooks.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// MARK: Oracle

/// Stops the process with `message`; libFuzzer saves the input as a crash file.
func fuzzBug(_ message: String) -> Never {
    fatalError("fuzz oracle: \(message)")
}

/// Stops the process unless `condition` holds.
func fuzzCheck(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fuzzBug(message()) }
}

// MARK: Input

/// Consumes a fuzz input front to back. Reads past the end yield zeros, so every
/// input, however short, is a complete program for the target. Numbers are big-endian.
struct FuzzInput {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ data: UnsafePointer<UInt8>, _ size: Int) {
        bytes = Array(UnsafeBufferPointer(start: data, count: size))
    }

    var isAtEnd: Bool { offset >= bytes.count }

    mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func uint16() -> UInt16 { UInt16(uint(byteCount: 2)) }

    mutating func uint32() -> UInt32 { UInt32(uint(byteCount: 4)) }

    mutating func uint64() -> UInt64 { uint(byteCount: 8) }

    /// `count` bytes big-endian (at most 8).
    mutating func uint(byteCount count: Int) -> UInt64 {
        var value: UInt64 = 0
        for _ in 0..<count { value = value << 8 | UInt64(byte()) }
        return value
    }

    /// Exactly `count` bytes, zero-filled past the end of the input.
    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in byte() }
    }

    /// Everything not consumed yet.
    mutating func rest() -> [UInt8] {
        guard offset < bytes.count else { return [] }
        defer { offset = bytes.count }
        return Array(bytes[offset...])
    }
}

// MARK: Seeds

/// Writes `seeds` as `seed-0`, `seed-1`, ... into `directory` (PARLEY_FUZZ_SEED_DIR).
func writeSeeds(_ seeds: [[UInt8]], into directory: String) {
    for (index, seed) in seeds.enumerated() {
        let path = directory + "/seed-" + String(index)
        guard let file = fopen(path, "wb") else { fatalError("cannot create \(path): \(String(cString: strerror(errno)))") }
        let written = fwrite(seed, 1, seed.count, file)
        guard fclose(file) == 0, written == seed.count else { fatalError("cannot write \(path)") }
    }
}
