/// A FIFO queue on a ring of slots: O(1) append and removal at the front, indexed access
/// from the front. Grows by doubling; never shrinks (it is bounded by its owner's limits).
struct RingQueue<Element> {
    private var slots: [Element?] = []
    private var head = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func append(_ element: Element) {
        if count == slots.count { grow() }
        slots[(head + count) & (slots.count - 1)] = element
        count += 1
    }

    @discardableResult
    mutating func removeFirst() -> Element {
        precondition(count > 0, "removeFirst on an empty RingQueue")
        // Cannot be nil: slots in head..<head+count are always filled.
        let element = slots[head]!
        slots[head] = nil
        head = (head + 1) & (slots.count - 1)
        count -= 1
        return element
    }

    var first: Element? { count == 0 ? nil : slots[head] }
    var last: Element? { count == 0 ? nil : slots[(head + count - 1) & (slots.count - 1)] }

    /// The element `index` places from the front.
    subscript(index: Int) -> Element {
        get {
            precondition(index >= 0 && index < count)
            // Cannot be nil: the index is within the filled slots.
            return slots[(head + index) & (slots.count - 1)]!
        }
        set {
            precondition(index >= 0 && index < count)
            slots[(head + index) & (slots.count - 1)] = newValue
        }
    }

    mutating func removeAll() {
        slots = []
        head = 0
        count = 0
    }

    private mutating func grow() {
        let newCapacity = max(16, slots.count * 2)
        var newSlots = [Element?](repeating: nil, count: newCapacity)
        for index in 0..<count { newSlots[index] = slots[(head + index) & (slots.count - 1)] }
        slots = newSlots
        head = 0
    }
}

/// Bytes of a stream held in a ring, addressed by absolute stream offset: bytes
/// `start..<end` are held. Appending grows the ring by doubling; `discard(upTo:)` frees
/// the front. The owner bounds `end - start`.
struct ByteRing {
    private var storage: [UInt8] = []
    private var head = 0
    private(set) var start: UInt64
    private(set) var end: UInt64

    init(start: UInt64 = 0) {
        self.start = start
        end = start
    }

    var count: Int { Int(end - start) }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        reserve(count + bytes.count)
        let mask = storage.count - 1
        var at = (head + count) & mask
        storage.withUnsafeMutableBytes { ring in
            var remaining = bytes
            while !remaining.isEmpty {
                let run = min(remaining.count, ring.count - at)
                UnsafeMutableRawBufferPointer(rebasing: ring[at..<at + run]).copyMemory(from: UnsafeRawBufferPointer(rebasing: remaining.prefix(run)))
                remaining = UnsafeRawBufferPointer(rebasing: remaining.dropFirst(run))
                at = (at + run) & mask
            }
        }
        end += UInt64(bytes.count)
    }

    /// Copies bytes `offset..<offset + destination.count` (all held) into `destination`.
    func copy(from offset: UInt64, into destination: UnsafeMutableRawBufferPointer) {
        precondition(offset >= start && offset + UInt64(destination.count) <= end, "ByteRing.copy outside the held bytes")
        guard destination.count > 0 else { return }
        let mask = storage.count - 1
        var at = (head + Int(offset - start)) & mask
        storage.withUnsafeBytes { ring in
            var written = 0
            while written < destination.count {
                let run = min(destination.count - written, ring.count - at)
                UnsafeMutableRawBufferPointer(rebasing: destination[written..<written + run])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: ring[at..<at + run]))
                written += run
                at = (at + run) & mask
            }
        }
    }

    /// Frees every byte below `offset` (clamped to the held range).
    mutating func discard(upTo offset: UInt64) {
        let newStart = min(max(offset, start), end)
        guard newStart > start else { return }
        head = (head + Int(newStart - start)) & max(0, storage.count - 1)
        start = newStart
        if start == end { head = 0 }
    }

    private mutating func reserve(_ needed: Int) {
        guard needed > storage.count else { return }
        var capacity = max(4096, storage.count)
        while capacity < needed { capacity *= 2 }
        var grown = [UInt8](repeating: 0, count: capacity)
        let held = count
        if held > 0 {
            grown.withUnsafeMutableBytes { destination in
                copy(from: start, into: UnsafeMutableRawBufferPointer(rebasing: destination[0..<held]))
            }
        }
        storage = grown
        head = 0
    }
}
