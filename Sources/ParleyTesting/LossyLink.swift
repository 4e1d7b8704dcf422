import ParleyCrypto

/// A one-way simulated network link on a virtual clock: a bottleneck of `rate` bits per
/// second fed by a drop-tail queue of `queueLimitBytes`, then `propagationDelay`, with
/// random loss, reordering and duplication drawn from a seeded generator. The same
/// configuration, seed and inputs give the same deliveries, so runs are repeatable.
///
/// Packets are datagrams (bytes) with a one-byte tag the caller may use, for example for
/// the frame type of an unsealed payload. Two links, one each way, make a path.
/// Not thread-safe: one simulation drives it.
public final class LossyLink {
    /// One packet on the link.
    public struct Datagram: Equatable, Sendable {
        public var tag: UInt8
        public var bytes: [UInt8]

        public init(tag: UInt8 = 0, bytes: [UInt8]) {
            self.tag = tag
            self.bytes = bytes
        }
    }

    public struct Configuration: Sendable {
        /// Bottleneck rate in bits per second; nil for no bottleneck (no queueing either).
        public var rateBitsPerSecond: UInt64?
        /// One-way propagation delay, added after the bottleneck.
        public var propagationDelay: Duration
        /// Drop-tail queue limit in bytes: a packet that would make the bytes waiting for the
        /// bottleneck exceed it is dropped. Ignored without a bottleneck.
        public var queueLimitBytes: Int
        /// Probability (0...1) that a packet is lost at random, before the queue.
        public var lossProbability: Double
        /// Probability that a packet is held back by up to `reorderDelay` more, so later
        /// packets overtake it.
        public var reorderProbability: Double
        public var reorderDelay: Duration
        /// Probability that a delivered packet is delivered twice.
        public var duplicateProbability: Double
        /// Seed of the generator behind loss, reordering and duplication.
        public var seed: UInt64

        public init(rateBitsPerSecond: UInt64? = nil, propagationDelay: Duration = .zero, queueLimitBytes: Int = 1 << 20,
                    lossProbability: Double = 0, reorderProbability: Double = 0, reorderDelay: Duration = .milliseconds(5),
                    duplicateProbability: Double = 0, seed: UInt64 = 1) {
            self.rateBitsPerSecond = rateBitsPerSecond
            self.propagationDelay = propagationDelay
            self.queueLimitBytes = queueLimitBytes
            self.lossProbability = lossProbability
            self.reorderProbability = reorderProbability
            self.reorderDelay = reorderDelay
            self.duplicateProbability = duplicateProbability
            self.seed = seed
        }
    }

    /// What happened to the packets sent so far.
    public struct Stats: Equatable, Sendable {
        public var sent: UInt64 = 0
        public var sentBytes: UInt64 = 0
        public var droppedByLoss: UInt64 = 0
        public var droppedByQueue: UInt64 = 0
        public var reordered: UInt64 = 0
        public var duplicated: UInt64 = 0
        public var delivered: UInt64 = 0
        public var deliveredBytes: UInt64 = 0
        /// The most bytes ever waiting in the queue.
        public var maxQueueBytes: Int = 0
    }

    private struct InTransit {
        var time: Timestamp
        var sequence: UInt64
        var packet: Datagram
        var byteCount: Int
    }

    public let configuration: Configuration
    public private(set) var stats = Stats()
    private var random: Xoshiro256StarStar
    /// When the bottleneck finishes sending what it has queued.
    private var bottleneckFree = Timestamp.zero
    /// Packets waiting for or in the bottleneck: departure time and size.
    private var queue: [(departure: Timestamp, byteCount: Int)] = []
    private var queueHead = 0
    private var queuedBytes = 0
    /// Packets past the bottleneck, in a min-heap by delivery time (then send order).
    private var inTransit: [InTransit] = []
    private var sequence: UInt64 = 0

    public init(_ configuration: Configuration) {
        self.configuration = configuration
        random = Xoshiro256StarStar(seed: configuration.seed)
    }

    /// Puts `packet` on the link at `now`. It occupies `wireBytes` on the link (default: its
    /// length), so callers can count headers the simulation does not carry.
    public func send(_ packet: Datagram, wireBytes: Int? = nil, now: Timestamp) {
        let byteCount = wireBytes ?? packet.bytes.count
        stats.sent += 1
        stats.sentBytes += UInt64(byteCount)
        if configuration.lossProbability > 0, random.nextUnit() < configuration.lossProbability {
            stats.droppedByLoss += 1
            return
        }
        var departure = now
        if let rate = configuration.rateBitsPerSecond, rate > 0 {
            drainQueue(now: now)
            guard queuedBytes + byteCount <= configuration.queueLimitBytes else {
                stats.droppedByQueue += 1
                return
            }
            let start = max(bottleneckFree, now)
            departure = start + .nanoseconds(Int64(UInt64(byteCount) * 8 * 1_000_000_000 / rate))
            bottleneckFree = departure
            queue.append((departure, byteCount))
            queuedBytes += byteCount
            stats.maxQueueBytes = max(stats.maxQueueBytes, queuedBytes)
        }
        var arrival = departure + configuration.propagationDelay
        if configuration.reorderProbability > 0, random.nextUnit() < configuration.reorderProbability {
            stats.reordered += 1
            arrival = arrival + .nanoseconds(Int64(random.nextUnit() * Double(configuration.reorderDelay.components.seconds * 1_000_000_000
                + configuration.reorderDelay.components.attoseconds / 1_000_000_000)))
        }
        push(InTransit(time: arrival, sequence: nextSequence(), packet: packet, byteCount: byteCount))
        if configuration.duplicateProbability > 0, random.nextUnit() < configuration.duplicateProbability {
            stats.duplicated += 1
            push(InTransit(time: arrival + .microseconds(1), sequence: nextSequence(), packet: packet, byteCount: byteCount))
        }
    }

    /// The next packet whose delivery time is at or before `now`, or nil.
    public func receive(now: Timestamp) -> Datagram? {
        guard let first = inTransit.first, first.time <= now else { return nil }
        let delivered = popFirst()
        stats.delivered += 1
        stats.deliveredBytes += UInt64(delivered.byteCount)
        return delivered.packet
    }

    /// When the next packet arrives, or nil when none is on the way.
    public var nextDeliveryTime: Timestamp? { inTransit.first?.time }

    /// Bytes waiting in the bottleneck queue at `now`.
    public func queuedBytes(now: Timestamp) -> Int {
        drainQueue(now: now)
        return queuedBytes
    }

    private func drainQueue(now: Timestamp) {
        while queueHead < queue.count, queue[queueHead].departure <= now {
            queuedBytes -= queue[queueHead].byteCount
            queueHead += 1
        }
        if queueHead > 1024, queueHead * 2 > queue.count {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
    }

    private func nextSequence() -> UInt64 {
        sequence += 1
        return sequence
    }

    // MARK: Heap

    private static func earlier(_ a: InTransit, _ b: InTransit) -> Bool {
        a.time < b.time || (a.time == b.time && a.sequence < b.sequence)
    }

    private func push(_ item: InTransit) {
        inTransit.append(item)
        var child = inTransit.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard LossyLink.earlier(inTransit[child], inTransit[parent]) else { break }
            inTransit.swapAt(child, parent)
            child = parent
        }
    }

    private func popFirst() -> InTransit {
        let first = inTransit[0]
        let last = inTransit.removeLast()
        guard !inTransit.isEmpty else { return first }
        inTransit[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < inTransit.count, LossyLink.earlier(inTransit[left], inTransit[smallest]) { smallest = left }
            if right < inTransit.count, LossyLink.earlier(inTransit[right], inTransit[smallest]) { smallest = right }
            guard smallest != parent else { break }
            inTransit.swapAt(parent, smallest)
            parent = smallest
        }
        return first
    }
}

/// xoshiro256** seeded through SplitMix64: a small, fast, deterministic generator for
/// simulations and tests (not for anything secret). The one seeded generator of the
/// simulations: as a `RandomNumberGenerator` it also drives `shuffled(using:)`,
/// `Int.random(in:using:)` and the like, so a seed replays the whole run.
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var mix = seed
        func splitMix() -> UInt64 {
            mix &+= 0x9e37_79b9_7f4a_7c15
            var z = mix
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
        state = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    public mutating func next() -> UInt64 {
        let result = rotate(state.1 &* 5, 7) &* 9
        let shifted = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= shifted
        state.3 = rotate(state.3, 45)
        return result
    }

    /// Uniform in [0, 1).
    public mutating func nextUnit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    private func rotate(_ value: UInt64, _ count: UInt64) -> UInt64 {
        (value << count) | (value >> (64 - count))
    }
}
