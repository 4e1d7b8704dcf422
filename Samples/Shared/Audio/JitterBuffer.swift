/// Puts media frames back in sequence order before decoding. Frames are keyed by their
/// 16-bit sequence number (wrapping). `pop()` releases the next frame in order as soon as
/// it is there; when it is missing and more than `depth` later frames are waiting, it gives
/// up on it and releases `.missing` (the decoder conceals it). Frames older than the next
/// one to release, and duplicates, are dropped and counted. A jump of more than `maxGap`
/// frames (the sender restarted, or a long outage) releases what is held and starts again
/// from the new frame, so a gap is never filled with more than `maxGap` concealed frames.
///
/// Not thread-safe: one owner feeds and drains it.
public struct JitterBuffer<Payload> {
    public enum Output {
        case frame(Payload)
        case missing
    }

    public struct Stats: Equatable, Sendable {
        public var late = 0
        public var duplicates = 0
        public var missing = 0
        public var resyncs = 0
    }

    public let depth: Int
    public let maxGap: Int
    public private(set) var stats = Stats()
    private var next: UInt16?
    private var held: [UInt16: Payload] = [:]
    private var ready: [Output] = []

    public init(depth: Int = 3, maxGap: Int = 50) {
        precondition(depth >= 0 && maxGap > depth, "a jitter buffer needs 0 <= depth < maxGap")
        self.depth = depth
        self.maxGap = maxGap
    }

    /// Frames held, waiting for an earlier one.
    public var heldCount: Int { held.count }

    /// Adds a frame; false when it was dropped as late or duplicate.
    @discardableResult
    public mutating func insert(sequence: UInt16, payload: Payload) -> Bool {
        guard let expected = next else {
            next = sequence
            held[sequence] = payload
            return true
        }
        let distance = Int(Int16(bitPattern: sequence &- expected))
        if distance < 0 {
            stats.late += 1
            return false
        }
        if held[sequence] != nil {
            stats.duplicates += 1
            return false
        }
        if distance > maxGap {
            stats.resyncs += 1
            ready += drainHeld()
            next = sequence
        }
        held[sequence] = payload
        return true
    }

    /// The next output in order, or nil when it is better to wait for more frames.
    public mutating func pop() -> Output? {
        if !ready.isEmpty { return ready.removeFirst() }
        guard let expected = next else { return nil }
        if let payload = held.removeValue(forKey: expected) {
            next = expected &+ 1
            return .frame(payload)
        }
        if held.count > depth {
            next = expected &+ 1
            stats.missing += 1
            return .missing
        }
        return nil
    }

    /// Everything still held, in order, with `.missing` for the holes between (the stream ended).
    public mutating func drain() -> [Output] {
        let out = ready + drainHeld()
        ready = []
        return out
    }

    private mutating func drainHeld() -> [Output] {
        guard var expected = next else { return [] }
        var out: [Output] = []
        while !held.isEmpty {
            if let payload = held.removeValue(forKey: expected) {
                out.append(.frame(payload))
            } else {
                out.append(.missing)
                stats.missing += 1
            }
            expected = expected &+ 1
        }
        next = expected
        return out
    }
}
