/// Which sequence numbers of one stream are closed (delivered or dropped) near the
/// newest closed one, read with 16-bit wrap-around (spec-drafts/media.md, "Sequence
/// window"). The zero value is ready: nothing closed yet, every sequence is ahead.
struct MediaSequenceWindow: Sendable {
    enum Position: Equatable {
        /// Newer than anything closed (or nothing closed yet): `by` steps ahead.
        case ahead(by: Int)
        /// At most `maxFramesBehind` behind the newest closed frame, and not closed.
        case open(behind: Int)
        /// Delivered or dropped already.
        case closed
        /// More than `maxFramesBehind` (and at most `sequenceHorizon`) behind.
        case late
    }

    /// The newest closed sequence number; nil until the first frame closes.
    private(set) var newest: UInt16?
    /// Bit b set: sequence `newest - b` is closed (bit 0 is `newest` itself).
    private var closedBits: UInt64 = 0

    func position(of sequence: UInt16) -> Position {
        guard let newest else { return .ahead(by: 0) }
        let delta = Int(sequence &- newest)
        guard delta != 0 else { return .closed }
        let behind = (1 << 16) - delta
        guard behind <= MediaLimits.sequenceHorizon else { return .ahead(by: delta) }
        guard behind <= MediaLimits.maxFramesBehind else { return .late }
        return closedBits & (1 << UInt64(behind)) != 0 ? .closed : .open(behind: behind)
    }

    /// Marks `sequence` closed, moving the window forward when it is ahead.
    mutating func close(_ sequence: UInt16) {
        switch position(of: sequence) {
        case let .ahead(by: steps):
            closedBits = newest == nil || steps >= UInt64.bitWidth ? 1 : closedBits << UInt64(steps) | 1
            newest = sequence
        case let .open(behind: behind):
            closedBits |= 1 << UInt64(behind)
        case .closed, .late:
            break
        }
    }
}
