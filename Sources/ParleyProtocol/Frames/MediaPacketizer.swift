/// The sender side of audio and video: cuts each frame into fragments that fit one
/// datagram's plaintext budget, with a per-stream sequence number. One packetizer per
/// call direction (it numbers all 32 streams); sans-IO, no clock, no allocation per
/// fragment. Fragments must be sealed in the order they are produced (so per-stream
/// sequence order follows the frame counter; spec-drafts/media.md, "Sender rules").
public struct MediaPacketizer: Sendable {
    /// Plaintext bytes per datagram: what one frame payload may hold.
    public let maxPacketPayload: Int
    private var nextSequence: [UInt16]
    private var streamKinds: [MediaFrameKind?]
    private var scratch: [UInt8]

    /// - Parameters:
    ///   - maxPacketPayload: the plaintext budget per datagram, from the path MTU minus
    ///     the 24-byte frame overhead; `minPacketPayload...maxPacketPayload`.
    ///   - firstSequence: the sequence number of every stream's first frame.
    public init(maxPacketPayload: Int = MediaLimits.defaultMaxPacketPayload, firstSequence: UInt16 = 0) throws(MediaError) {
        guard (MediaLimits.minPacketPayload...MediaLimits.maxPacketPayload).contains(maxPacketPayload) else {
            throw .packetBudgetOutOfRange(budget: maxPacketPayload, minimum: MediaLimits.minPacketPayload,
                                          maximum: MediaLimits.maxPacketPayload)
        }
        self.maxPacketPayload = maxPacketPayload
        nextSequence = Array(repeating: firstSequence, count: MediaLimits.maxStreams)
        streamKinds = Array(repeating: nil, count: MediaLimits.maxStreams)
        scratch = Array(repeating: 0, count: maxPacketPayload)
    }

    /// Checks `frame`, assigns it the stream's next sequence number (`frame.sequence`
    /// is ignored) and returns how it is cut. Nothing is numbered when it throws.
    public mutating func plan(_ frame: MediaFrame) throws(MediaError) -> MediaFragmentPlan {
        guard Int(frame.stream) < MediaLimits.maxStreams else { throw .streamOutOfRange(Int(frame.stream)) }
        guard frame.payloadType <= MediaLimits.maxPayloadType else { throw .payloadTypeOutOfRange(Int(frame.payloadType)) }
        let limit = MediaLimits.maxFrameBytes(frame.kind)
        guard frame.payload.count <= limit else { throw .frameTooLarge(kind: frame.kind, limit: limit, actual: frame.payload.count) }
        let stream = Int(frame.stream)
        if let established = streamKinds[stream], established != frame.kind {
            throw .streamKindMismatch(stream: stream, established: established, actual: frame.kind)
        }
        let total = frame.payload.count
        var count = 1
        if MediaLimits.singleHeaderCount + total > maxPacketPayload {
            let capacity = maxPacketPayload - MediaLimits.fragmentHeaderCount
            count = (total + capacity - 1) / capacity
            guard count <= MediaLimits.maxFragments else { throw .tooManyFragments(needed: count, limit: MediaLimits.maxFragments) }
        }
        streamKinds[stream] = frame.kind
        let sequence = nextSequence[stream]
        nextSequence[stream] = sequence &+ 1
        let header = MediaFragmentHeader(stream: frame.stream, payloadType: frame.payloadType, sequence: sequence,
                                         timestamp: frame.timestamp, flags: frame.flags,
                                         totalLength: total, index: 0, count: count)
        return MediaFragmentPlan(header: header, payload: frame.payload)
    }

    /// Plans `frame` and hands each fragment, in index order, to `emit` (send it as
    /// frame type `frame.kind.frameType`). The bytes are valid only during the call:
    /// they live in a buffer reused for every fragment. Returns the sequence number
    /// assigned. To stop on a sealing error, use `plan` and write fragments yourself.
    @discardableResult
    public mutating func packetize(_ frame: MediaFrame, emit: (UnsafeRawBufferPointer) -> Void) throws(MediaError) -> UInt16 {
        let plan = try plan(frame)
        scratch.withUnsafeMutableBytes { buffer in
            for index in 0..<plan.count {
                let written = plan.write(fragment: index, into: buffer)
                emit(UnsafeRawBufferPointer(rebasing: buffer[0..<written]))
            }
        }
        return plan.sequence
    }
}

/// How one frame is cut: its header fields and payload (shared, not copied), and a way
/// to write any fragment into a caller's buffer (for instance a sealer's input).
public struct MediaFragmentPlan: Sendable {
    private let header: MediaFragmentHeader
    private let payload: [UInt8]

    init(header: MediaFragmentHeader, payload: [UInt8]) {
        self.header = header
        self.payload = payload
    }

    /// The sequence number the packetizer assigned.
    public var sequence: UInt16 { header.sequence }
    /// Number of fragments (1 for a frame sent whole).
    public var count: Int { header.count }

    /// The header of fragment `index`.
    public func header(ofFragment index: Int) -> MediaFragmentHeader {
        precondition((0..<header.count).contains(index), "fragment index \(index) outside 0..<\(header.count)")
        var fragmentHeader = header
        fragmentHeader.index = index
        return fragmentHeader
    }

    /// Bytes of fragment `index`: header and media.
    public func byteCount(ofFragment index: Int) -> Int {
        let fragmentHeader = header(ofFragment: index)
        return fragmentHeader.byteCount + fragmentHeader.mediaRange.count
    }

    /// Writes fragment `index` at the start of `buffer` and returns its length.
    /// `buffer` must hold `byteCount(ofFragment: index)` bytes (a packet budget's worth always does).
    public func write(fragment index: Int, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let fragmentHeader = header(ofFragment: index)
        let range = fragmentHeader.mediaRange
        let total = fragmentHeader.byteCount + range.count
        precondition(buffer.count >= total, "buffer of \(buffer.count) bytes cannot hold a fragment of \(total) bytes")
        fragmentHeader.write(into: buffer)
        payload.withUnsafeBytes { media in
            UnsafeMutableRawBufferPointer(rebasing: buffer[fragmentHeader.byteCount..<total])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: media[range]))
        }
        return total
    }
}
