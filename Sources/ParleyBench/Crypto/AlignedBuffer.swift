/// Zeroed heap bytes on a 64-byte boundary, freed with their owner. The frame
/// workloads and their libsodium baseline get identical buffers, so neither gains
/// from alignment or cache-line placement.
final class AlignedBuffer {
    let bytes: UnsafeMutableRawBufferPointer

    init(count: Int) {
        bytes = .allocate(byteCount: count, alignment: 64)
        bytes.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit { bytes.deallocate() }

    /// The first byte, typed for C calls.
    var pointer: UnsafeMutablePointer<UInt8> {
        // allocate(byteCount:) with a non-zero count never returns an empty buffer.
        bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
    }
}

/// `count` consecutive packet slots of `stride` bytes, as a receive queue holds them.
final class PacketSlots {
    let slots: [UnsafeMutableRawBufferPointer]
    private let storage: AlignedBuffer

    init(count: Int, stride: Int) {
        let storage = AlignedBuffer(count: count * stride)
        slots = (0..<count).map { UnsafeMutableRawBufferPointer(rebasing: storage.bytes[$0 * stride..<($0 + 1) * stride]) }
        self.storage = storage
    }
}
