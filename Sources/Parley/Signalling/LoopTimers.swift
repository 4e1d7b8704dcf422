import ParleyCrypto

/// The deadlines of the clients on one loop, earliest first (a binary min-heap). An entry
/// is only a reminder: when it comes due, the loop ticks the client if the client still
/// wants that deadline (`SignallingClient.scheduledDeadline`), so moved deadlines need no
/// removal. Not thread-safe: the loop thread owns it.
struct LoopTimers {
    private struct Entry {
        var at: Timestamp
        var sequence: UInt64
        var client: SignallingClient

        func precedes(_ other: Entry) -> Bool {
            at < other.at || (at == other.at && sequence < other.sequence)
        }
    }

    private var entries: [Entry] = []
    private var sequence: UInt64 = 0

    var earliest: Timestamp? { entries.first?.at }
    var count: Int { entries.count }

    mutating func insert(_ client: SignallingClient, at: Timestamp) {
        sequence &+= 1
        entries.append(Entry(at: at, sequence: sequence, client: client))
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child].precedes(entries[parent]) else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the earliest entry if it is due at `now`.
    mutating func popDue(now: Timestamp) -> (at: Timestamp, client: SignallingClient)? {
        guard let first = entries.first, first.at <= now else { return nil }
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var smallest = parent
                if left < entries.count && entries[left].precedes(entries[smallest]) { smallest = left }
                if right < entries.count && entries[right].precedes(entries[smallest]) { smallest = right }
                guard smallest != parent else { break }
                entries.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return (first.at, first.client)
    }

    mutating func removeAll() { entries.removeAll() }
}
