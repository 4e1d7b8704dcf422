import ParleyCrypto

/// Call IDs a device has seen recently, so an invite the server replays rings only
/// once (PROTOCOL.md, "Call flow": an invite is not authenticated until message 3).
/// Bounded: at most `capacity` IDs, each kept for `lifetime`; when full, the oldest
/// goes first. Not thread-safe (one owner).
public struct RecentCallIDs: Sendable {
    public let lifetime: Duration
    public let capacity: Int
    private var seen: [CallID: Timestamp] = [:]
    private var order: [(CallID, Timestamp)] = []
    private var head = 0

    public init(lifetime: Duration = CallSpec.recentCallIDLifetime, capacity: Int = CallSpec.recentCallIDCapacity) {
        self.lifetime = lifetime
        self.capacity = max(1, capacity)
    }

    /// Records `id` at `now`; false when it was already seen within the lifetime.
    public mutating func insert(_ id: CallID, now: Timestamp) -> Bool {
        expire(now: now)
        guard seen[id] == nil else { return false }
        if seen.count >= capacity, head < order.count {
            seen[order[head].0] = nil
            head += 1
        }
        seen[id] = now
        order.append((id, now))
        if head > 1024 && head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
        return true
    }

    public var count: Int { seen.count }

    private mutating func expire(now: Timestamp) {
        while head < order.count, order[head].1 + lifetime <= now {
            if seen[order[head].0] == order[head].1 { seen[order[head].0] = nil }
            head += 1
        }
    }
}
