import ParleyCrypto

/// An event waiting for `pollEvent`, with the stream offset it releases to the receive
/// window when taken (receive side only) or none.
struct ReliableQueuedEvent {
    var event: ReliableEvent?
    var release: UInt64? = nil
}

/// The sending half of a channel: the send buffer and its scheduler (messages before file
/// chunks), packet numbers, loss detection (RFC 9002 packet and time thresholds, probe
/// timeout), RTT, delivery-rate sampling, BBR-style congestion control, pacing and the
/// peer's flow-control window. Times in nanoseconds.
struct ReliableSender {
    private struct SentPacket {
        var packetNumber: UInt64
        var offset: UInt64
        var length: Int32
        var bytes: UInt32
        var state: State
        var isAppLimited: Bool
        var sentTime: UInt64
        var delivered: UInt64
        var deliveredTime: UInt64
        var firstSentTime: UInt64

        enum State: UInt8 { case inFlight, acked, lost }
    }

    /// A record assigned to the stream in pieces: header then body.
    private struct PartialRecord {
        var header: [UInt8]
        var body: [UInt8]
        var written = 0
        var count: Int { header.count + body.count }
        var remaining: Int { count - written }
        /// Counted in `unassignedBytes` (messages) or not (small file records).
        var counted: Bool
    }

    private enum Marker {
        case message(ReliableMessageID)
        case fileData(ReliableFileID, through: UInt64)
        case fileEnd(ReliableFileID)
    }

    private final class OutgoingFile {
        let id: ReliableFileID
        let size: UInt64
        let name: [UInt8]
        let digest = StreamingDigest()
        var pending = ByteRing()
        var supplied: UInt64 = 0
        var assigned: UInt64 = 0
        var acknowledged: UInt64 = 0
        var startAssigned = false
        var endAssigned = false
        var finalDigest: [UInt8] = []
        var progressChanged = false

        init(id: ReliableFileID, size: UInt64, name: [UInt8]) {
            self.id = id
            self.size = size
            self.name = name
        }

        /// Has a record or data to assign.
        var hasWork: Bool { !startAssigned || pending.count > 0 || readyToEnd }
        /// Every byte was supplied and assigned; the end record is due.
        var readyToEnd: Bool { startAssigned && !endAssigned && supplied == size && pending.count == 0 }
    }

    private let maxPayload: Int
    private let sendBufferBytes: Int

    // Stream: bytes assigned to packets and not yet acknowledged in order.
    private var stream = ByteRing()
    private(set) var peerLimit = ReliableConstants.initialWindowBytes
    private var messages = RingQueue<(id: ReliableMessageID, bytes: [UInt8])>()
    private var partial: PartialRecord?
    /// Cancel records, sent before queued messages (small, bounded by the open files; not counted in the buffer).
    private var controlRecords = RingQueue<[UInt8]>()
    private var files: [OutgoingFile] = []
    private var markers = RingQueue<(end: UInt64, marker: Marker)>()
    /// Message and file bytes accepted from the app and not yet assigned to the stream.
    private var unassignedBytes = 0
    private var nextMessageID: ReliableMessageID = 1
    private var nextFileID: ReliableFileID = 1
    private var writableThreshold: Int?

    // Packets.
    private var nextPacketNumber: UInt64 = 0
    private var sent = RingQueue<SentPacket>()
    private var retransmissions = RingQueue<(offset: UInt64, length: Int)>()
    private var recentlyLost = RingQueue<UInt64>()
    private static let recentlyLostLimit = 128
    private(set) var bytesInFlight: UInt64 = 0
    private var largestAcked: UInt64?
    private var lossTime: UInt64?
    private var probeCount = 0
    private var lastAckElicitingSent: UInt64 = 0
    private var probesPending = 0
    private var ackRanges: [AckRange] = []

    private var rtt = ReliableRTTEstimator()
    private var congestion: ReliableCongestion
    private var delivered: UInt64 = 0
    private var deliveredTime: UInt64
    private var firstSentTime: UInt64
    private var appLimitedUntil: UInt64 = 0
    private var pacerTime: UInt64 = 0

    // Liveness: the last ack, and since when something is outstanding.
    private var lastAckTime: UInt64
    private var outstandingSince: UInt64 = 0

    // Counters for stats.
    private(set) var packetsSent: UInt64 = 0
    private(set) var retransmittedPackets: UInt64 = 0
    private(set) var lostPackets: UInt64 = 0
    private(set) var spuriousLosses: UInt64 = 0
    private(set) var probeTimeouts: UInt64 = 0

    init(configuration: ReliableConfiguration, now: UInt64) {
        maxPayload = configuration.maxPacketPayload
        sendBufferBytes = configuration.sendBufferBytes
        congestion = ReliableCongestion(packetBytes: configuration.maxPacketPayload,
                                        initialCwndPackets: configuration.initialCwndPackets, now: now)
        deliveredTime = now
        firstSentTime = now
        lastAckTime = now
    }

    // MARK: App input

    var sendBufferFree: Int { max(0, sendBufferBytes - stream.count - unassignedBytes) }

    mutating func send(message: [UInt8]) throws(ReliableError) -> ReliableMessageID {
        guard message.count <= ReliableConstants.maxMessageBytes else {
            throw .messageTooLarge(limit: ReliableConstants.maxMessageBytes, actual: message.count)
        }
        let needed = message.count + ReliableConstants.recordHeaderBytes
        let free = sendBufferFree
        guard needed <= free else {
            writableThreshold = max(writableThreshold ?? 0, needed)
            throw .sendBufferFull(needed: needed, free: free)
        }
        let id = nextMessageID
        nextMessageID += 1
        messages.append((id, message))
        unassignedBytes += needed
        return id
    }

    mutating func startFile(size: UInt64, name: String?) throws(ReliableError) -> ReliableFileID {
        let nameBytes = Array((name ?? "").utf8)
        guard nameBytes.count <= ReliableConstants.maxFileNameBytes else {
            throw .fileNameTooLong(limit: ReliableConstants.maxFileNameBytes, actual: nameBytes.count)
        }
        guard files.count < ReliableConstants.maxOpenFiles else { throw .tooManyOpenFiles(limit: ReliableConstants.maxOpenFiles) }
        let id = nextFileID
        nextFileID &+= 1
        files.append(OutgoingFile(id: id, size: size, name: nameBytes))
        return id
    }

    /// Takes as many of `bytes` as the send buffer holds now and returns that count.
    mutating func writeFile(_ id: ReliableFileID, bytes: UnsafeRawBufferPointer) throws(ReliableError) -> Int {
        guard let file = files.first(where: { $0.id == id && !$0.endAssigned }) else { throw .unknownFile(id) }
        let offered = file.supplied + UInt64(bytes.count)
        guard offered <= file.size else { throw .fileOverrun(size: file.size, offered: offered) }
        let take = min(bytes.count, sendBufferFree)
        if take < bytes.count { writableThreshold = max(writableThreshold ?? 0, min(bytes.count - take, sendBufferBytes / 4)) }
        guard take > 0 else { return 0 }
        let accepted = UnsafeRawBufferPointer(rebasing: bytes.prefix(take))
        file.pending.append(accepted)
        file.digest.update(accepted)
        file.supplied += UInt64(take)
        unassignedBytes += take
        return take
    }

    mutating func cancelFile(_ id: ReliableFileID, reason: UInt16) throws(ReliableError) {
        guard let index = files.firstIndex(where: { $0.id == id && !$0.endAssigned }) else { throw .unknownFile(id) }
        let file = files[index]
        unassignedBytes -= file.pending.count
        files.remove(at: index)
        if file.startAssigned {
            controlRecords.append(ReliableRecordEncoder.fileCancel(id: id, reason: reason))
        }
    }

    // MARK: Acks

    /// Applies an ack. Everything is validated before anything changes.
    mutating func handleAck(_ payload: UnsafeRawBufferPointer, now: UInt64,
                            events: inout RingQueue<ReliableQueuedEvent>) throws(ReliableError) {
        let fixed = try ReliableAckPacket.decode(payload, ranges: &ackRanges)
        let largest = ackRanges[0].high
        guard largest < nextPacketNumber else {
            throw .ackOfUnsentPacket(packetNumber: largest, largestSent: nextPacketNumber == 0 ? nil : nextPacketNumber - 1)
        }
        lastAckTime = now
        peerLimit = max(peerLimit, fixed.windowLimit)

        var ackedBytes: UInt64 = 0
        var newest: SentPacket?
        let firstNumber = sent.first?.packetNumber ?? nextPacketNumber
        countSpurious(below: firstNumber)
        for range in ackRanges {
            guard range.high >= firstNumber else { continue }
            for number in max(range.low, firstNumber)...range.high {
                let index = Int(number - firstNumber)
                guard sent[index].state == .inFlight else { continue }
                ackedBytes += acknowledge(index)
                if number > (newest?.packetNumber ?? 0) || newest == nil { newest = sent[index] }
            }
        }
        // Bytes the peer holds in order are delivered, whatever the ranges said.
        if fixed.receivedOffset > stream.start {
            var index = 0
            while index < sent.count, sent[index].offset + UInt64(sent[index].length) <= fixed.receivedOffset {
                if sent[index].state == .inFlight { ackedBytes += acknowledge(index) }
                index += 1
            }
            stream.discard(upTo: fixed.receivedOffset)
        }

        var sample: ReliableRateSample?
        if let newest {
            if largestAcked.map({ newest.packetNumber > $0 }) ?? true { largestAcked = newest.packetNumber }
            if newest.packetNumber == largest {
                rtt.update(sample: now - newest.sentTime, ackDelay: UInt64(fixed.ackDelayMicroseconds) * 1000)
            }
            sample = rateSample(for: newest, now: now)
            probeCount = 0
        }
        if delivered > appLimitedUntil { appLimitedUntil = 0 }
        detectLosses(now: now)
        dropResolvedPackets()
        if ackedBytes > 0 || sample != nil {
            congestion.onAck(now: now, acked: ackedBytes, sample: sample, delivered: delivered,
                             inFlight: bytesInFlight, smoothedRTT: rtt.smoothedOrInitial)
        }
        emitAcknowledged(events: &events)
    }

    /// Marks one packet acknowledged; returns its bytes.
    private mutating func acknowledge(_ index: Int) -> UInt64 {
        sent[index].state = .acked
        let bytes = UInt64(sent[index].bytes)
        bytesInFlight -= bytes
        delivered += bytes
        return bytes
    }

    private mutating func rateSample(for packet: SentPacket, now: UInt64) -> ReliableRateSample? {
        deliveredTime = now
        firstSentTime = packet.sentTime
        let sendElapsed = packet.sentTime - packet.firstSentTime
        let ackElapsed = now - packet.deliveredTime
        let interval = max(sendElapsed, ackElapsed)
        let packetRTT = now - packet.sentTime
        guard interval > 0, interval >= min(rtt.minimum, packetRTT) else { return nil }
        let rate = Double(delivered - packet.delivered) * 1e9 / Double(interval)
        return ReliableRateSample(rate: rate, rtt: packetRTT, priorDelivered: packet.delivered, isAppLimited: packet.isAppLimited)
    }

    /// Counts packets declared lost (and already forgotten) that this ack shows arrived.
    /// One pass over both sorted lists: recently lost ascending, ack ranges descending.
    private mutating func countSpurious(below firstNumber: UInt64) {
        let lowest = ackRanges[ackRanges.count - 1].low
        while let first = recentlyLost.first, first == .max || first < lowest { recentlyLost.removeFirst() }
        var rangeIndex = ackRanges.count - 1
        for index in 0..<recentlyLost.count {
            let number = recentlyLost[index]
            guard number != .max else { continue }
            guard number < firstNumber else { break }
            while rangeIndex >= 0, ackRanges[rangeIndex].high < number { rangeIndex -= 1 }
            guard rangeIndex >= 0 else { break }
            if ackRanges[rangeIndex].low <= number {
                spuriousLosses += 1
                recentlyLost[index] = .max
            }
        }
    }

    /// RFC 9002 loss detection: a packet below the largest acknowledged is lost when 3
    /// later numbers were acknowledged, or when it was sent 9/8 RTT ago.
    private mutating func detectLosses(now: UInt64) {
        lossTime = nil
        guard let largestAcked, let firstNumber = sent.first?.packetNumber, largestAcked >= firstNumber else { return }
        let delay = rtt.lossDelay
        let lastIndex = Int(min(largestAcked - firstNumber, UInt64(sent.count - 1)))
        for index in 0...lastIndex where sent[index].state == .inFlight && sent[index].packetNumber < largestAcked {
            let packet = sent[index]
            if largestAcked - packet.packetNumber >= ReliableConstants.packetThreshold || packet.sentTime + delay <= now {
                sent[index].state = .lost
                bytesInFlight -= UInt64(packet.bytes)
                lostPackets += 1
                congestion.onLoss(bytes: UInt64(packet.bytes))
                if packet.length > 0 { retransmissions.append((packet.offset, Int(packet.length))) }
                if recentlyLost.count == ReliableSender.recentlyLostLimit { recentlyLost.removeFirst() }
                recentlyLost.append(packet.packetNumber)
            } else {
                lossTime = min(lossTime ?? .max, packet.sentTime + delay)
            }
        }
    }

    private mutating func dropResolvedPackets() {
        while let first = sent.first, first.state != .inFlight { sent.removeFirst() }
    }

    /// Turns the in-order acknowledged offset into delivered, progress and sent events,
    /// and `writable` when room came back.
    private mutating func emitAcknowledged(events: inout RingQueue<ReliableQueuedEvent>) {
        var progressed = false
        while let first = markers.first, first.end <= stream.start {
            markers.removeFirst()
            switch first.marker {
            case let .message(id):
                events.append(ReliableQueuedEvent(event: .delivered(id)))
            case let .fileData(id, through):
                if let file = files.first(where: { $0.id == id }) {
                    file.acknowledged = through
                    file.progressChanged = true
                    progressed = true
                }
            case let .fileEnd(id):
                if let index = files.firstIndex(where: { $0.id == id }) {
                    let file = files.remove(at: index)
                    if file.progressChanged {
                        events.append(ReliableQueuedEvent(event: .fileProgress(id: id, acknowledged: file.acknowledged, size: file.size)))
                    }
                    events.append(ReliableQueuedEvent(event: .fileSent(id: id, digest: file.finalDigest)))
                }
            }
        }
        if progressed {
            for file in files where file.progressChanged {
                file.progressChanged = false
                events.append(ReliableQueuedEvent(event: .fileProgress(id: file.id, acknowledged: file.acknowledged, size: file.size)))
            }
        }
        if let threshold = writableThreshold, sendBufferFree >= threshold {
            writableThreshold = nil
            events.append(ReliableQueuedEvent(event: .writable))
        }
    }

    // MARK: Timers

    /// When the sender needs `handleTimeout` or `pollTransmit` next.
    func nextDeadline(now: UInt64) -> UInt64? {
        var deadline = UInt64.max
        if let lossTime { deadline = min(deadline, lossTime) }
        if let probe = probeDeadline { deadline = min(deadline, probe) }
        if let silence = silenceDeadline { deadline = min(deadline, silence) }
        if probesPending > 0 { deadline = now }
        if hasDataToSend, bytesInFlight < congestion.effectiveCwnd { deadline = min(deadline, max(pacerTime, now)) }
        return deadline == .max ? nil : deadline
    }

    private var probeDeadline: UInt64? {
        guard bytesInFlight > 0 || (hasNewData && flowBlocked) else { return nil }
        return lastAckElicitingSent + rtt.probeTimeout(backoff: probeCount)
    }

    /// With data outstanding, the time at which the peer's silence fails the channel.
    var silenceDeadline: UInt64? {
        guard bytesInFlight > 0 else { return nil }
        return max(lastAckTime, outstandingSince) + ReliableConstants.peerSilenceLimit.reliableNanoseconds
    }

    /// Handles expired timers; returns an error when the peer has been silent too long.
    mutating func handleTimeout(now: UInt64) -> ReliableError? {
        if let silence = silenceDeadline, now >= silence {
            return .peerUnresponsive(seconds: Int(ReliableConstants.peerSilenceLimit.components.seconds))
        }
        if let lossTime, now >= lossTime {
            detectLosses(now: now)
            dropResolvedPackets()
        } else if let probe = probeDeadline, now >= probe {
            probeTimeouts += 1
            probeCount += 1
            probesPending = ReliableConstants.probePackets
        }
        return nil
    }

    // MARK: Transmit

    private var hasNewData: Bool {
        partial != nil || !messages.isEmpty || !controlRecords.isEmpty || files.contains(where: { $0.hasWork })
    }

    private var flowBlocked: Bool { stream.end >= peerLimit }

    private var hasDataToSend: Bool { !retransmissions.isEmpty || (hasNewData && !flowBlocked) }

    /// Writes the next data packet into `buffer` if pacing, the congestion window and the
    /// peer's window allow one; returns its length.
    mutating func pollTransmit(now: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        let isProbe = probesPending > 0
        if !isProbe {
            guard hasDataToSend else {
                if bytesInFlight < congestion.effectiveCwnd { markAppLimited(now: now) }
                return nil
            }
            guard bytesInFlight < congestion.effectiveCwnd, now >= pacerTime else { return nil }
        }
        let data = UnsafeMutableRawBufferPointer(rebasing: buffer[ReliableConstants.dataHeaderBytes..<maxPayload])
        var offset = stream.end
        var length = writeRetransmission(into: data, offset: &offset)
        if length == nil, !flowBlocked {
            offset = stream.end
            let written = assignNewData(into: UnsafeMutableRawBufferPointer(rebasing: data.prefix(Int(min(UInt64(data.count), peerLimit - stream.end)))))
            if written > 0 { length = written }
        }
        if length == nil, isProbe {
            // Nothing new or lost to send: repeat the oldest unacknowledged bytes, or send an
            // empty probe that asks for an ack (a window probe when the peer's window is shut).
            if let oldest = oldestInFlightRange() {
                offset = oldest.offset
                stream.copy(from: offset, into: UnsafeMutableRawBufferPointer(rebasing: data.prefix(oldest.length)))
                length = oldest.length
            } else {
                offset = stream.end
                length = 0
            }
        }
        guard let length else { return nil }
        if isProbe { probesPending -= 1 }
        return finishPacket(offset: offset, length: length, now: now, buffer: buffer, isRetransmission: isProbe || offset < stream.end - UInt64(length))
    }

    private mutating func markAppLimited(now: UInt64) {
        appLimitedUntil = max(delivered + bytesInFlight, 1)
        if bytesInFlight == 0 { congestion.onIdle(now: now) }
    }

    /// Copies the next lost range still unacknowledged into `data`.
    private mutating func writeRetransmission(into data: UnsafeMutableRawBufferPointer, offset: inout UInt64) -> Int? {
        while let range = retransmissions.first {
            retransmissions.removeFirst()
            let start = max(range.offset, stream.start)
            let end = range.offset + UInt64(range.length)
            guard start < end else { continue }
            let count = Int(end - start)
            stream.copy(from: start, into: UnsafeMutableRawBufferPointer(rebasing: data.prefix(count)))
            offset = start
            return count
        }
        return nil
    }

    private func oldestInFlightRange() -> (offset: UInt64, length: Int)? {
        for index in 0..<sent.count where sent[index].state == .inFlight && sent[index].length > 0 {
            let start = max(sent[index].offset, stream.start)
            let end = sent[index].offset + UInt64(sent[index].length)
            if start < end { return (start, Int(end - start)) }
        }
        return nil
    }

    private mutating func finishPacket(offset: UInt64, length: Int, now: UInt64,
                                       buffer: UnsafeMutableRawBufferPointer, isRetransmission: Bool) -> Int {
        let number = nextPacketNumber
        nextPacketNumber += 1
        ReliableDataHeader(packetNumber: number, offset: offset, length: length).encode(into: buffer)
        let bytes = ReliableConstants.dataHeaderBytes + length
        if bytesInFlight == 0 {
            firstSentTime = now
            deliveredTime = now
            outstandingSince = now
        }
        sent.append(SentPacket(packetNumber: number, offset: offset, length: Int32(length), bytes: UInt32(bytes),
                               state: .inFlight, isAppLimited: appLimitedUntil > 0, sentTime: now,
                               delivered: delivered, deliveredTime: deliveredTime, firstSentTime: firstSentTime))
        bytesInFlight += UInt64(bytes)
        lastAckElicitingSent = now
        packetsSent += 1
        if isRetransmission { retransmittedPackets += 1 }
        advancePacer(bytes: bytes, now: now)
        return bytes
    }

    private mutating func advancePacer(bytes: Int, now: UInt64) {
        let rate = max(congestion.pacingRate, 1)
        let transmission = UInt64(Double(bytes) * 1e9 / rate)
        let burst = max(UInt64(Double(2 * maxPayload) * 1e9 / rate), ReliableConstants.pacingBurst.reliableNanoseconds)
        let floor = now > burst ? now - burst : 0
        pacerTime = max(pacerTime, floor) + transmission
    }

    /// Fills `data` with new stream bytes, messages first, then file records, appending
    /// them to the stream. Returns the count written.
    private mutating func assignNewData(into data: UnsafeMutableRawBufferPointer) -> Int {
        var written = 0
        while written < data.count {
            if partial == nil, !startNextRecord(at: stream.end + UInt64(written)) {
                guard let chunk = writeFileChunk(into: UnsafeMutableRawBufferPointer(rebasing: data[written...]),
                                                 at: stream.end + UInt64(written)) else { break }
                written += chunk
                continue
            }
            // Cannot be nil: startNextRecord returned true or a record was already partial.
            var record = partial!
            let take = min(record.remaining, data.count - written)
            var copied = 0
            if record.written < record.header.count {
                let headerTake = min(take, record.header.count - record.written)
                record.header.withUnsafeBytes { header in
                    UnsafeMutableRawBufferPointer(rebasing: data[written..<written + headerTake])
                        .copyMemory(from: UnsafeRawBufferPointer(rebasing: header[record.written..<record.written + headerTake]))
                }
                copied = headerTake
            }
            if copied < take {
                let bodyStart = record.written + copied - record.header.count
                let bodyTake = take - copied
                record.body.withUnsafeBytes { body in
                    UnsafeMutableRawBufferPointer(rebasing: data[(written + copied)..<(written + take)])
                        .copyMemory(from: UnsafeRawBufferPointer(rebasing: body[bodyStart..<bodyStart + bodyTake]))
                }
            }
            record.written += take
            written += take
            if record.counted { unassignedBytes -= take }
            partial = record.remaining == 0 ? nil : record
        }
        stream.append(UnsafeRawBufferPointer(rebasing: data.prefix(written)))
        return written
    }

    /// Starts the next whole record (control record, message, file start or end) at stream
    /// offset `offset`. Returns false when only file data (or nothing) is left.
    private mutating func startNextRecord(at offset: UInt64) -> Bool {
        if !controlRecords.isEmpty {
            let record = controlRecords.removeFirst()
            partial = PartialRecord(header: [], body: record, counted: false)
            return true
        }
        if !messages.isEmpty {
            let message = messages.removeFirst()
            let header = ReliableRecordEncoder.header(kind: .message, bodyLength: message.bytes.count)
            partial = PartialRecord(header: header, body: message.bytes, counted: true)
            markers.append((offset + UInt64(header.count + message.bytes.count), .message(message.id)))
            return true
        }
        for file in files where !file.startAssigned || file.readyToEnd {
            let record: [UInt8]
            if !file.startAssigned {
                file.startAssigned = true
                record = ReliableRecordEncoder.fileStart(id: file.id, size: file.size, name: file.name)
            } else {
                file.endAssigned = true
                file.finalDigest = file.digest.finalize()
                record = ReliableRecordEncoder.fileEnd(id: file.id, digest: file.finalDigest)
                markers.append((offset + UInt64(record.count), .fileEnd(file.id)))
            }
            partial = PartialRecord(header: [], body: record, counted: false)
            return true
        }
        return false
    }

    /// Writes one file data record that fits `data` whole; nil when there is no file data
    /// or not even one byte of it fits after the record header.
    private mutating func writeFileChunk(into data: UnsafeMutableRawBufferPointer, at offset: UInt64) -> Int? {
        let headerBytes = ReliableRecordEncoder.fileDataHeaderBytes
        guard data.count > headerBytes, let file = files.first(where: { $0.startAssigned && $0.pending.count > 0 }) else { return nil }
        let count = min(file.pending.count, data.count - headerBytes, ReliableConstants.maxFileDataRecordBytes - 4)
        ReliableRecordEncoder.writeFileDataHeader(id: file.id, dataCount: count, into: data)
        file.pending.copy(from: file.pending.start, into: UnsafeMutableRawBufferPointer(rebasing: data[headerBytes..<headerBytes + count]))
        file.pending.discard(upTo: file.pending.start + UInt64(count))
        file.assigned += UInt64(count)
        unassignedBytes -= count
        markers.append((offset + UInt64(headerBytes + count), .fileData(file.id, through: file.assigned)))
        return headerBytes + count
    }

    // MARK: Stats

    var smoothedRTT: UInt64? { rtt.smoothed }
    var bytesAcknowledged: UInt64 { stream.start }
    var congestionState: ReliableCongestion { congestion }
}
