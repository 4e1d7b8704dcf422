import ParleyCrypto

/// What a reassembler did with the fragments it was given, since it was created.
public struct MediaReassemblyStats: Equatable, Sendable {
    /// Frames handed to the application, and their media bytes.
    public var framesDelivered = 0
    public var bytesDelivered = 0
    /// Partial frames dropped when their reassembly deadline passed.
    public var framesDroppedIncomplete = 0
    /// Partial frames dropped because their stream moved more than `maxFramesBehind`
    /// past them, and single-fragment frames refused as late.
    public var framesDroppedLate = 0
    /// Partial frames dropped because a fragment with the same stream and sequence
    /// disagreed on kind, payload type, timestamp, flags, length or fragment count.
    public var framesDroppedConflicting = 0
    /// Partial frames dropped to make room (per-stream, total count or byte limit).
    public var framesDroppedOverflow = 0
    /// Fragments that parsed (whatever became of them).
    public var fragmentsReceived = 0
    /// Fragments refused with a `MediaError`.
    public var fragmentsMalformed = 0
    /// Fragments already held, or of a frame already delivered or dropped.
    public var fragmentsDuplicate = 0
    /// Fragments of a frame more than `maxFramesBehind` behind its stream.
    public var fragmentsLate = 0

    public init() {}
}

/// The receiver side of audio and video: turns opened frame payloads back into whole
/// frames, sans-IO (time is the `now:` of each call).
///
/// Frames are delivered as soon as their last missing fragment arrives (completion
/// order, never held back to reorder); a frame more than `maxFramesBehind` behind its
/// stream's newest closed frame is dropped as late. A frame is delivered at most once,
/// only when every fragment arrived and all agreed on its header; an incomplete frame
/// is dropped at its deadline (`nextDeadline`, `handleTimeout(now:)`). Memory is
/// bounded by `MediaLimits.maxBufferedBytes` and the partial-frame limits; on overflow
/// the oldest partial frame goes first. Rules: spec-drafts/media.md, "Receiver rules".
public struct MediaReassembler: Sendable {
    public private(set) var stats = MediaReassemblyStats()
    /// Bytes reserved by partial frames now (at most `MediaLimits.maxBufferedBytes`).
    public private(set) var bufferedBytes = 0
    /// Partial frames held now.
    public var partialFrameCount: Int { partials.count }

    /// Oldest first (in the order their first fragment arrived).
    private var partials: [PartialMediaFrame] = []
    private var windows = Array(repeating: MediaSequenceWindow(), count: MediaLimits.maxStreams)
    private var streamKinds = [MediaFrameKind?](repeating: nil, count: MediaLimits.maxStreams)

    public init() {}

    /// When `handleTimeout(now:)` next has work: the earliest deadline of a partial frame.
    public var nextDeadline: Timestamp? { partials.lazy.map(\.deadline).min() }

    /// Drops every partial frame whose deadline is at or before `now`.
    public mutating func handleTimeout(now: Timestamp) {
        while let index = partials.firstIndex(where: { $0.deadline <= now }) {
            let expired = removePartial(at: index)
            stats.framesDroppedIncomplete += 1
            close(stream: expired.stream, sequence: expired.sequence)
        }
    }

    /// Takes one opened frame payload of type `type`. Returns the frame it completes,
    /// if any. Throws for a malformed fragment, which changes nothing but the
    /// `fragmentsMalformed` count. Expired partial frames are dropped first, as by
    /// `handleTimeout(now:)`.
    public mutating func receive(_ payload: UnsafeRawBufferPointer, type: FrameType, now: Timestamp) throws(MediaError) -> MediaFrame? {
        let header: MediaFragmentHeader, kind: MediaFrameKind
        do throws(MediaError) {
            guard let mediaKind = MediaFrameKind(frameType: type) else { throw MediaError.notMediaFrameType(type.rawValue) }
            kind = mediaKind
            header = try MediaFragmentHeader.parse(payload, kind: kind)
            let stream = Int(header.stream)
            if let established = streamKinds[stream], established != kind {
                throw MediaError.streamKindMismatch(stream: stream, established: established, actual: kind)
            }
            streamKinds[stream] = kind
        } catch {
            stats.fragmentsMalformed += 1
            throw error
        }
        stats.fragmentsReceived += 1
        handleTimeout(now: now)

        switch windows[Int(header.stream)].position(of: header.sequence) {
        case .closed:
            stats.fragmentsDuplicate += 1
            return nil
        case .late:
            stats.fragmentsLate += 1
            if header.count == 1 { stats.framesDroppedLate += 1 }
            return nil
        case .ahead, .open:
            break
        }
        let media = UnsafeRawBufferPointer(rebasing: payload[header.byteCount...])

        if let index = partials.firstIndex(where: { $0.stream == header.stream && $0.sequence == header.sequence }) {
            guard partials[index].agrees(with: header, kind: kind) else {
                removePartial(at: index)
                stats.framesDroppedConflicting += 1
                close(stream: header.stream, sequence: header.sequence)
                return nil
            }
            guard partials[index].absorb(media, index: header.index, now: now) else {
                stats.fragmentsDuplicate += 1
                return nil
            }
            guard partials[index].isComplete else { return nil }
            let complete = removePartial(at: index)
            return deliver(complete.frame)
        }

        guard header.count > 1 else {
            return deliver(MediaFrame(stream: header.stream, kind: kind, payloadType: header.payloadType, sequence: header.sequence,
                                      timestamp: header.timestamp, flags: header.flags, payload: Array(media)))
        }
        makeRoom(stream: header.stream, bytes: header.totalLength)
        var partial = PartialMediaFrame(header: header, kind: kind, now: now)
        // A fresh partial has no fragment yet, so the first one is always absorbed.
        _ = partial.absorb(media, index: header.index, now: now)
        partials.append(partial)
        bufferedBytes += header.totalLength
        return nil
    }

    /// `receive` for a payload held in an array.
    public mutating func receive(_ payload: [UInt8], type: FrameType, now: Timestamp) throws(MediaError) -> MediaFrame? {
        let outcome = payload.withUnsafeBytes { bytes in
            Result { () throws(MediaError) in try receive(bytes, type: type, now: now) }
        }
        return try outcome.get()
    }

    // MARK: Internals

    private mutating func deliver(_ frame: MediaFrame) -> MediaFrame {
        stats.framesDelivered += 1
        stats.bytesDelivered += frame.payload.count
        close(stream: frame.stream, sequence: frame.sequence)
        return frame
    }

    /// Closes a sequence number and drops the stream's partial frames it made late.
    private mutating func close(stream: UInt8, sequence: UInt16) {
        windows[Int(stream)].close(sequence)
        while let index = partials.firstIndex(where: { $0.stream == stream && windows[Int(stream)].position(of: $0.sequence) == .late }) {
            removePartial(at: index)
            stats.framesDroppedLate += 1
        }
    }

    /// Drops the oldest partial frames until one more of `bytes` fits every limit.
    private mutating func makeRoom(stream: UInt8, bytes: Int) {
        while partials.lazy.filter({ $0.stream == stream }).count >= MediaLimits.maxPartialFramesPerStream {
            // The stream holds partial frames, so one exists.
            dropForOverflow(at: partials.firstIndex(where: { $0.stream == stream })!)
        }
        while !partials.isEmpty && (partials.count >= MediaLimits.maxPartialFrames || bufferedBytes + bytes > MediaLimits.maxBufferedBytes) {
            dropForOverflow(at: 0)
        }
    }

    private mutating func dropForOverflow(at index: Int) {
        let dropped = removePartial(at: index)
        stats.framesDroppedOverflow += 1
        close(stream: dropped.stream, sequence: dropped.sequence)
    }

    @discardableResult
    private mutating func removePartial(at index: Int) -> PartialMediaFrame {
        let partial = partials.remove(at: index)
        bufferedBytes -= partial.totalLength
        return partial
    }
}

/// A frame some of whose fragments arrived: its header fields, a buffer of its full
/// length, and which fragments are in.
private struct PartialMediaFrame: Sendable {
    let stream: UInt8
    let sequence: UInt16
    let kind: MediaFrameKind
    let payloadType: UInt8
    let timestamp: UInt32
    let flags: MediaFlags
    let totalLength: Int
    let count: Int
    private var buffer: [UInt8]
    private var received: [UInt64]
    private var receivedCount = 0
    private let firstArrival: Timestamp
    private var lastProgress: Timestamp

    init(header: MediaFragmentHeader, kind: MediaFrameKind, now: Timestamp) {
        stream = header.stream
        sequence = header.sequence
        self.kind = kind
        payloadType = header.payloadType
        timestamp = header.timestamp
        flags = header.flags
        totalLength = header.totalLength
        count = header.count
        buffer = Array(repeating: 0, count: header.totalLength)
        received = Array(repeating: 0, count: (header.count + 63) / 64)
        firstArrival = now
        lastProgress = now
    }

    /// Idle timeout after the last new fragment, capped by the maximum reassembly time.
    var deadline: Timestamp {
        min(lastProgress + MediaLimits.reassemblyIdleTimeout, firstArrival + MediaLimits.reassemblyMaxTime)
    }

    var isComplete: Bool { receivedCount == count }

    /// Whether a fragment's header describes this same frame.
    func agrees(with header: MediaFragmentHeader, kind: MediaFrameKind) -> Bool {
        kind == self.kind && header.payloadType == payloadType && header.timestamp == timestamp && header.flags == flags
            && header.totalLength == totalLength && header.count == count
    }

    /// Copies fragment `index` into place; false (and nothing changes) if it is already in.
    /// `media` has the fragment's exact length: `MediaFragmentHeader.parse` checked it.
    mutating func absorb(_ media: UnsafeRawBufferPointer, index: Int, now: Timestamp) -> Bool {
        let word = index / 64, bit = UInt64(1) << UInt64(index % 64)
        guard received[word] & bit == 0 else { return false }
        received[word] |= bit
        receivedCount += 1
        if now > lastProgress { lastProgress = now }
        let start = index * MediaFragmentHeader.fragmentSize(totalLength: totalLength, count: count)
        buffer.withUnsafeMutableBytes { frame in
            UnsafeMutableRawBufferPointer(rebasing: frame[start..<start + media.count]).copyMemory(from: media)
        }
        return true
    }

    var frame: MediaFrame {
        MediaFrame(stream: stream, kind: kind, payloadType: payloadType, sequence: sequence, timestamp: timestamp,
                   flags: flags, payload: buffer)
    }
}
