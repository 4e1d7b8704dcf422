import CSodium
import ParleyCrypto

/// What the frame workloads and their libsodium baseline share.
enum FrameBench {
    /// A full-MTU media payload.
    static let payloadCount = 1200
    static let packetCount = payloadCount + SpecConstants.frameOverhead
    static let headerCount = SpecConstants.frameHeaderCount
    /// Packets per batch: 32 x 1224 B = 39 KB, so a batch's packets stay in L1d/L2.
    static let batchSize = 32
    static let frameType: UInt8 = 1
    /// The explicit clock for sealers and openers. It never moves, so no
    /// time-based rekey happens mid-run (the packet-count rekey is 2^30 frames away).
    static let now = Timestamp(nanoseconds: 1_000_000_000)

    /// The one 1200-byte payload every frame workload seals, filled with random bytes.
    static func makePayload() -> AlignedBuffer {
        let payload = AlignedBuffer(count: payloadCount)
        randombytes_buf(payload.pointer, payloadCount)
        return payload
    }
}
