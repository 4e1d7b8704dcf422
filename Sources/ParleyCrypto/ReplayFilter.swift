/// Sliding-window replay filter after RFC 6479: a ring of 64-bit blocks, one bit
/// per counter. `ReplayFilter()` is ready to use (nothing seen yet).
///
/// Accepting a counter marks it seen, so call `accept` only after the packet has
/// authenticated; `wouldAccept` is a side-effect-free pre-check to skip work on
/// obvious replays. Not thread-safe: each receiving direction owns its filter.
package struct ReplayFilter: Sendable {
    private static let blockBitLog = 6
    private static let blockBits: UInt64 = 1 << 6

    /// Counters this far behind the highest one seen are still accepted once.
    package let windowSize: UInt64
    private var highest: UInt64 = 0
    private var ring: [UInt64]
    private let ringMask: UInt64

    /// A filter whose window is `window` counters, 1 to 2^20 (rounded up to whole 64-bit
    /// blocks; the ring holds one extra block, as in RFC 6479).
    package init(window: Int = SpecConstants.frameReplayWindow) {
        precondition(window > 0 && window <= 1 << 20, "replay window must be 1...1048576 counters")
        var blocks = 1
        while blocks - 1 < (window + 63) / 64 { blocks <<= 1 }
        ring = [UInt64](repeating: 0, count: blocks)
        ringMask = UInt64(blocks - 1)
        windowSize = UInt64(blocks - 1) * ReplayFilter.blockBits
    }

    /// True if `accept(counter, limit)` would return true now.
    package func wouldAccept(_ counter: UInt64, limit: UInt64) -> Bool {
        guard counter < limit else { return false }
        if counter > highest { return true }
        guard highest - counter <= windowSize else { return false }
        let block = ring[Int((counter >> UInt64(ReplayFilter.blockBitLog)) & ringMask)]
        return block & (1 << (counter & (ReplayFilter.blockBits - 1))) == 0
    }

    /// Marks `counter` seen; returns false for a replay, a counter behind the
    /// window, or one at or past `limit`.
    package mutating func accept(_ counter: UInt64, limit: UInt64) -> Bool {
        guard counter < limit else { return false }
        let blockIndex = counter >> UInt64(ReplayFilter.blockBitLog)
        if counter > highest {
            let current = highest >> UInt64(ReplayFilter.blockBitLog)
            let advance = min(blockIndex - current, UInt64(ring.count))
            var step: UInt64 = 1
            while step <= advance {
                ring[Int((current + step) & ringMask)] = 0
                step += 1
            }
            highest = counter
        } else if highest - counter > windowSize {
            return false
        }
        let slot = Int(blockIndex & ringMask)
        let bit: UInt64 = 1 << (counter & (ReplayFilter.blockBits - 1))
        let old = ring[slot]
        ring[slot] = old | bit
        return old & bit == 0
    }
}
