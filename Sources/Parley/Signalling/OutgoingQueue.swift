/// Encoded messages waiting for the socket, first in first out, with a byte budget.
/// Messages the client makes itself (auth, ping) skip the budget check but count.
/// Zero value ready to use; not thread-safe (the client's lock guards it).
struct OutgoingQueue {
    private var items: [[UInt8]] = []
    private var head = 0
    /// Bytes of all queued messages.
    private(set) var byteCount = 0

    var isEmpty: Bool { head == items.count }
    /// Size of the oldest message, if any.
    var firstCount: Int? { head < items.count ? items[head].count : nil }
    var count: Int { items.count - head }

    /// Appends when the result stays within `limit`; false (and nothing queued) otherwise.
    mutating func append(_ message: [UInt8], limit: Int) -> Bool {
        guard byteCount + message.count <= limit else { return false }
        append(message)
        return true
    }

    /// Appends whatever the budget says.
    mutating func append(_ message: [UInt8]) {
        items.append(message)
        byteCount += message.count
    }

    mutating func popFirst() -> [UInt8]? {
        guard head < items.count else { return nil }
        let message = items[head]
        items[head] = []
        head += 1
        byteCount -= message.count
        if head == items.count {
            items.removeAll(keepingCapacity: items.capacity <= 64)
            head = 0
        } else if head >= 64 && head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
        return message
    }

    mutating func removeAll() {
        items.removeAll()
        head = 0
        byteCount = 0
    }
}
