import ParleyCrypto

/// The receiving half of a channel: reassembles the stream in order (out-of-order bytes
/// held up to the advertised window), splits it into records, delivers each message once,
/// checks incoming files against their digest, and decides when to acknowledge.
/// Times in nanoseconds.
struct ReliableReceiver {
    private struct Segment {
        var offset: UInt64
        var bytes: [UInt8]
        var end: UInt64 { offset + UInt64(bytes.count) }
    }

    private final class IncomingFile {
        let size: UInt64
        let digest = StreamingDigest()
        var received: UInt64 = 0
        var failed = false

        init(size: UInt64) { self.size = size }
    }

    private let windowBytes: UInt64

    /// Every stream byte below this was received.
    private(set) var receivedOffset: UInt64 = 0
    /// Every stream byte below this was handed to the app (its events taken).
    private var releasedOffset: UInt64 = 0
    /// The highest window limit sent in an ack (the initial window before any).
    private(set) var advertisedLimit = ReliableConstants.initialWindowBytes
    /// Out-of-order bytes, sorted by offset, disjoint, all above `receivedOffset`.
    private var segments: [Segment] = []
    private var segmentHead = 0
    private var parser = ReliableRecordParser()
    private var parsed: [ReliableParsedRecord] = []
    private var files: [ReliableFileID: IncomingFile] = [:]

    // Acknowledgement state: received packet numbers, lowest range first.
    private var received: [AckRange] = []
    private static let trackedRanges = 2 * ReliableConstants.maxAckRanges
    private var largestReceivedTime: UInt64 = 0
    private var unacknowledgedPackets = 0
    private var ackDeadline: UInt64?
    private var ackScratch: [AckRange] = []

    private(set) var duplicatePackets: UInt64 = 0
    private(set) var acksSent: UInt64 = 0

    init(configuration: ReliableConfiguration) {
        windowBytes = UInt64(configuration.receiveWindowBytes)
    }

    /// The limit this side allows now: what the app took plus the window.
    var windowLimit: UInt64 { releasedOffset + windowBytes }

    // MARK: Data

    /// Takes a data packet. Throws, changing nothing, for a malformed packet or one beyond the window.
    /// Returns a protocol violation found in the stream (the channel must fail), else nil.
    mutating func handleData(_ payload: UnsafeRawBufferPointer, now: UInt64,
                             events: inout RingQueue<ReliableQueuedEvent>) throws(ReliableError) -> ReliableError? {
        let header = try ReliableDataHeader.decode(payload)
        guard header.end <= windowLimit else { throw .flowControlViolation(end: header.end, limit: windowLimit) }
        let data = UnsafeRawBufferPointer(rebasing: payload[ReliableConstants.dataHeaderBytes...])

        let inOrderNumber = received.last.map { header.packetNumber == $0.high + 1 } ?? (header.packetNumber == 0)
        let newNumber = recordPacketNumber(header.packetNumber)
        if newNumber, received.last?.high == header.packetNumber { largestReceivedTime = now }

        var immediate = !inOrderNumber || header.length == 0
        if header.end <= receivedOffset || !newNumber {
            if header.length > 0 { duplicatePackets += 1 }
            immediate = true
        } else if header.offset <= receivedOffset {
            let skip = Int(receivedOffset - header.offset)
            if let violation = deliverInOrder(UnsafeRawBufferPointer(rebasing: data[skip...]), events: &events) { return violation }
            if let violation = drainSegments(events: &events) { return violation }
        } else {
            store(offset: header.offset, bytes: data)
            immediate = true
        }
        if segmentHead < segments.count { immediate = true }

        unacknowledgedPackets += 1
        if immediate || unacknowledgedPackets >= ReliableConstants.ackEveryPackets {
            ackDeadline = now
        } else if ackDeadline == nil {
            ackDeadline = now + ReliableConstants.maxAckDelay.reliableNanoseconds
        }
        return nil
    }

    /// Adds `number` to the received ranges; false if it was already there.
    private mutating func recordPacketNumber(_ number: UInt64) -> Bool {
        guard let last = received.last else {
            received.append(AckRange(low: number, high: number))
            return true
        }
        if number == last.high + 1 {
            received[received.count - 1].high = number
            return true
        }
        if number > last.high + 1 {
            received.append(AckRange(low: number, high: number))
            if received.count > ReliableReceiver.trackedRanges { received.removeFirst() }
            return true
        }
        // Below the highest range: find the range at or below it, from the top.
        var index = received.count - 1
        while index >= 0, received[index].low > number { index -= 1 }
        if index >= 0, received[index].high >= number { return false }
        if index < 0, received.count == ReliableReceiver.trackedRanges { return true }
        let joinsBelow = index >= 0 && received[index].high + 1 == number
        let joinsAbove = index + 1 < received.count && received[index + 1].low == number + 1
        switch (joinsBelow, joinsAbove) {
        case (true, true):
            received[index].high = received[index + 1].high
            received.remove(at: index + 1)
        case (true, false):
            received[index].high = number
        case (false, true):
            received[index + 1].low = number
        case (false, false):
            received.insert(AckRange(low: number, high: number), at: index + 1)
            if received.count > ReliableReceiver.trackedRanges { received.removeFirst() }
        }
        return true
    }

    /// Keeps bytes above the in-order point, without overlapping what is already held.
    private mutating func store(offset: UInt64, bytes: UnsafeRawBufferPointer) {
        let end = offset + UInt64(bytes.count)
        var cursor = offset
        // First held segment that ends after `offset` (segments are sorted by offset and by end).
        var low = segmentHead, high = segments.count
        while low < high {
            let middle = (low + high) / 2
            if segments[middle].end <= offset { low = middle + 1 } else { high = middle }
        }
        var index = low
        while cursor < end {
            if index < segments.count, segments[index].offset <= cursor {
                cursor = max(cursor, segments[index].end)
                index += 1
                continue
            }
            let pieceEnd = index < segments.count ? min(end, segments[index].offset) : end
            let from = Int(cursor - offset), to = Int(pieceEnd - offset)
            segments.insert(Segment(offset: cursor, bytes: Array(UnsafeRawBufferPointer(rebasing: bytes[from..<to]))), at: index)
            index += 1
            cursor = pieceEnd
        }
    }

    /// Feeds held segments that became contiguous.
    private mutating func drainSegments(events: inout RingQueue<ReliableQueuedEvent>) -> ReliableError? {
        while segmentHead < segments.count, segments[segmentHead].offset <= receivedOffset {
            let segment = segments[segmentHead]
            segments[segmentHead].bytes = []
            segmentHead += 1
            if segment.end > receivedOffset {
                let skip = Int(receivedOffset - segment.offset)
                let violation = segment.bytes.withUnsafeBytes { bytes in
                    deliverInOrder(UnsafeRawBufferPointer(rebasing: bytes[skip...]), events: &events)
                }
                if let violation { return violation }
            }
        }
        if segmentHead == segments.count {
            segments.removeAll(keepingCapacity: true)
            segmentHead = 0
        } else if segmentHead > 64, segmentHead * 2 > segments.count {
            segments.removeFirst(segmentHead)
            segmentHead = 0
        }
        return nil
    }

    /// Parses bytes that start exactly at `receivedOffset` and turns records into events.
    private mutating func deliverInOrder(_ bytes: UnsafeRawBufferPointer,
                                         events: inout RingQueue<ReliableQueuedEvent>) -> ReliableError? {
        guard bytes.count > 0 else { return nil }
        parsed.removeAll(keepingCapacity: true)
        do {
            try parser.consume(bytes, at: receivedOffset, into: &parsed)
        } catch {
            return error
        }
        receivedOffset += UInt64(bytes.count)
        for record in parsed {
            if let violation = apply(record, events: &events) { return violation }
        }
        return nil
    }

    private mutating func apply(_ record: ReliableParsedRecord, events: inout RingQueue<ReliableQueuedEvent>) -> ReliableError? {
        switch record {
        case let .message(bytes, end):
            events.append(ReliableQueuedEvent(event: .message(bytes), release: end))
        case let .fileStart(id, size, name, end):
            guard files[id] == nil else { return .protocolViolation("file \(id) started twice") }
            guard files.count < ReliableConstants.maxOpenFiles else {
                return .protocolViolation("more than \(ReliableConstants.maxOpenFiles) files open at once")
            }
            files[id] = IncomingFile(size: size)
            events.append(ReliableQueuedEvent(event: .fileStarted(id: id, size: size, name: name), release: end))
        case let .fileData(id, bytes, end):
            guard let file = files[id] else { return .protocolViolation("data for file \(id), which is not open") }
            guard !file.failed else {
                events.append(ReliableQueuedEvent(event: nil, release: end))
                return nil
            }
            file.received += UInt64(bytes.count)
            if file.received > file.size {
                file.failed = true
                events.append(ReliableQueuedEvent(event: .fileFailed(id: id, error: .fileSizeMismatch(announced: file.size, received: file.received)), release: end))
                return nil
            }
            file.digest.update(bytes)
            events.append(ReliableQueuedEvent(event: .fileData(id: id, bytes: bytes, received: file.received), release: end))
        case let .fileEnd(id, digest, end):
            guard let file = files.removeValue(forKey: id) else { return .protocolViolation("end of file \(id), which is not open") }
            let event: ReliableEvent?
            if file.failed {
                event = nil
            } else if file.received != file.size {
                event = .fileFailed(id: id, error: .fileSizeMismatch(announced: file.size, received: file.received))
            } else {
                let computed = file.digest.finalize()
                event = computed == digest ? .fileCompleted(id: id, size: file.size, digest: computed) : .fileFailed(id: id, error: .fileIntegrity)
            }
            events.append(ReliableQueuedEvent(event: event, release: end))
        case let .fileCancel(id, reason, end):
            guard let file = files.removeValue(forKey: id) else { return .protocolViolation("cancel of file \(id), which is not open") }
            events.append(ReliableQueuedEvent(event: file.failed ? nil : .fileFailed(id: id, error: .fileCancelled(reason: reason)), release: end))
        }
        return nil
    }

    // MARK: Window and acks

    /// The app took events up to stream offset `offset`: the window moves; a window update
    /// is due when it moved a quarter window past the last limit sent.
    mutating func release(upTo offset: UInt64) {
        guard offset > releasedOffset else { return }
        releasedOffset = offset
        if !received.isEmpty, windowLimit >= advertisedLimit + windowBytes / ReliableConstants.windowUpdateFraction, ackDeadline == nil {
            ackDeadline = 0
        }
    }

    func nextDeadline() -> UInt64? { received.isEmpty ? nil : ackDeadline }

    /// Writes an ack into `buffer` when one is due; returns its length.
    mutating func pollAck(now: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        guard let deadline = ackDeadline, now >= deadline, !received.isEmpty else { return nil }
        var ranges = ackScratch
        ackScratch = []
        ranges.removeAll(keepingCapacity: true)
        for range in received.reversed() {
            if let previous = ranges.last, previous.low - range.high - 1 > UInt64(UInt32.max) { break }
            let count = min(range.high - range.low + 1, UInt64(UInt32.max))
            ranges.append(AckRange(low: range.high + 1 - count, high: range.high))
            if ranges.count == ReliableConstants.maxAckRanges || count < range.high - range.low + 1 { break }
        }
        let delay = (now > largestReceivedTime ? now - largestReceivedTime : 0) / 1000
        let limit = windowLimit
        let ack = ReliableAckPacket(ackDelayMicroseconds: UInt32(min(delay, UInt64(UInt32.max))), receivedOffset: receivedOffset,
                                    windowLimit: limit, ranges: ranges)
        defer { ackScratch = ack.ranges }
        advertisedLimit = max(advertisedLimit, limit)
        ackDeadline = nil
        unacknowledgedPackets = 0
        acksSent += 1
        return ack.encode(into: buffer)
    }
}
