// Fuzz target: MediaReassembler and MediaFragmentHeader.parse, fed by MediaPacketizer
// (Sources/ParleyProtocol/Frames/Media*.swift).
//
// A ParleyProtocol target: compiled with ProtocolFuzzSupport.swift and the ParleyProtocol
// sources into one module (run.sh); imports ParleyCrypto for Timestamp.
//
// Input: mode (1) | budget (2) | first sequence (2) | frame count (1) | frames | steps.
// The mode byte (modulo 2) picks the oracle:
//
//   0 honest  only the packetizer's fragments reach the reassembler. Every delivered
//             frame must equal the frame sent with that stream and sequence, and no
//             frame may be delivered twice. Afterwards every sent frame, fed whole and in
//             order to a fresh reassembler, must come out exactly once.
//   1 mixed   the packetizer's fragments plus fragments built from the input (valid
//             headers with any fields and media, and raw bytes of any frame type). Every
//             delivered frame must be made of fragments that were fed: for some fragment
//             count, each fragment's bytes and header fields were received.
//
// Frames: at most 16, each kind/stream (1) | flags (1) | size (2): stream 0...3 (0 is
// audio, the rest video), size modulo 8300 for audio and 40000 for video. The budget is
// 16 + (value modulo 1400). Frames the packetizer refuses are skipped.
//
// Steps, at most 512, opcode (1, modulo 6) then operands:
//   0 deliver  index (2)   : packetized fragment index modulo the pool size (repeats allowed)
//   1 next                 : the next packetized fragment in order
//   2 advance  ms (1)      : the clock moves ms x 4 (up to 1020 ms)
//   3 timeout              : handleTimeout(now:)
//   4 forge    stream (1) | seq (1) | pt/flags (1) | total (2) | count (1) | index (1) | fill (1):
//                            a fragment with a valid header layout (mixed mode only)
//   5 raw      type (1) | length (2) | bytes: any bytes as any frame type (mixed mode only)
//
// Invariants after every step: buffered bytes and partial frames within their limits,
// a deadline exactly when a partial frame is held, none at or before now after a
// timeout, and every receive counted as received or malformed. A trap, a crash or a
// sanitizer report stops the target.

import ParleyCrypto

private let maxFrames = 16
private let maxSteps = 512
private let maxPoolFragments = 4096

func fuzzOneInput(_ input: inout FuzzInput) {
    var harness = FuzzMediaHarness(honest: input.byte() % 2 == 0, input: &input)
    harness.run(&input)
    harness.finish()
}

// MARK: Oracle

/// What identifies a frame's fragments: every header field but the index.
private struct FuzzFragmentFamily: Hashable {
    var stream: UInt8
    var sequence: UInt16
    var kind: MediaFrameKind
    var payloadType: UInt8
    var timestamp: UInt32
    var flags: UInt8
    var totalLength: Int
    var count: Int
}

private struct FuzzFrameKey: Hashable {
    var stream: UInt8
    var sequence: UInt16
}

private struct FuzzMediaHarness {
    let honest: Bool
    var reassembler = MediaReassembler()
    var now = Timestamp(nanoseconds: 1_000_000_000)
    /// Every fragment the packetizer produced, in order, with its frame type.
    var pool: [(kind: MediaFrameKind, bytes: [UInt8])] = []
    var nextInPool = 0
    var sent: [FuzzFrameKey: MediaFrame] = [:]
    var sentInOrder: [MediaFrame] = []
    var delivered: Set<FuzzFrameKey> = []
    /// Media bytes of every fragment that parsed, per family and index.
    var received: [FuzzFragmentFamily: [Int: Set<[UInt8]>]] = [:]
    var receiveCalls = 0

    init(honest: Bool, input: inout FuzzInput) {
        self.honest = honest
        let budget = MediaLimits.minPacketPayload + Int(input.uint16()) % 1400
        let firstSequence = input.uint16()
        // The budget is within minPacketPayload...maxPacketPayload by construction.
        var packetizer = try! MediaPacketizer(maxPacketPayload: budget, firstSequence: firstSequence)
        for _ in 0..<Int(input.byte()) % (maxFrames + 1) {
            let selector = input.byte(), flags = input.byte(), size = Int(input.uint16())
            let stream = selector % 4
            let kind: MediaFrameKind = stream == 0 ? .audio : .video
            let length = kind == .audio ? size % 8300 : size % 40_000
            var frame = MediaFrame(stream: stream, kind: kind, payloadType: selector >> 1 & 0x7f,
                                   timestamp: UInt32(selector) &* 0x0101_0101, flags: MediaFlags(rawValue: flags),
                                   payload: (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(flags) &+ Int(selector)) })
            var fragments: [[UInt8]] = []
            do {
                frame.sequence = try packetizer.packetize(frame) { fragments.append(Array($0)) }
            } catch {
                switch error {
                case .frameTooLarge, .tooManyFragments: continue
                default: fuzzBug("packetize refused a frame within its limits: \(error)")
                }
            }
            guard pool.count + fragments.count <= maxPoolFragments else { break }
            for bytes in fragments {
                fuzzCheck(bytes.count <= budget, "fragment of \(bytes.count) bytes over the budget of \(budget)")
                pool.append((kind, bytes))
            }
            let key = FuzzFrameKey(stream: frame.stream, sequence: frame.sequence)
            fuzzCheck(sent[key] == nil, "the packetizer reused sequence \(frame.sequence) on stream \(frame.stream)")
            sent[key] = frame
            sentInOrder.append(frame)
        }
    }

    mutating func run(_ input: inout FuzzInput) {
        for _ in 0..<maxSteps where !input.isAtEnd {
            switch input.byte() % 6 {
            case 0:
                let index = Int(input.uint16())
                if !pool.isEmpty { feed(pool[index % pool.count].bytes, type: pool[index % pool.count].kind.frameType) }
            case 1:
                if nextInPool < pool.count {
                    feed(pool[nextInPool].bytes, type: pool[nextInPool].kind.frameType)
                    nextInPool += 1
                }
            case 2:
                now = now + .milliseconds(Int(input.byte()) * 4)
            case 3:
                reassembler.handleTimeout(now: now)
                if let deadline = reassembler.nextDeadline { fuzzCheck(deadline > now, "a deadline at or before now survived handleTimeout") }
            case 4:
                let forged = forge(&input)
                if !honest { feed(forged.bytes, type: forged.kind.frameType) }
            default:
                let typeByte = input.byte(), length = Int(input.uint16()) % 17_000
                let bytes = input.bytes(length)
                if !honest, let type = FrameType(rawValue: typeByte % 7) { feed(bytes, type: type) }
            }
            checkInvariants()
        }
    }

    /// A fragment with a header laid out as the format allows, fields from the input.
    func forge(_ input: inout FuzzInput) -> (kind: MediaFrameKind, bytes: [UInt8]) {
        let stream = input.byte() % 4, sequence = UInt16(input.byte() % 8)
        let ptFlags = input.byte(), total = Int(input.uint16()) % 20_000
        let count = 1 + Int(input.byte()) % 24, index = Int(input.byte())
        let fill = input.byte()
        let kind: MediaFrameKind = ptFlags & 0x80 != 0 ? .audio : .video
        let header = MediaFragmentHeader(stream: stream, payloadType: ptFlags & 0x7f, sequence: sequence, timestamp: UInt32(fill),
                                         flags: MediaFlags(rawValue: ptFlags >> 5), totalLength: total,
                                         index: count == 1 ? 0 : index % count, count: count)
        let media = count == 1 ? total : max(0, header.mediaRange.count)
        var bytes = [UInt8](repeating: fill, count: header.byteCount + media)
        bytes.withUnsafeMutableBytes { header.write(into: $0) }
        return (kind, bytes)
    }

    mutating func feed(_ bytes: [UInt8], type: FrameType) {
        receiveCalls += 1
        let frame: MediaFrame?
        do {
            frame = try reassembler.receive(bytes, type: type, now: now)
        } catch {
            fuzzCheck(!error.description.isEmpty, "an error without a message")
            return
        }
        record(bytes, type: type)
        guard let frame else { return }
        checkMadeOfReceivedFragments(frame)
        let key = FuzzFrameKey(stream: frame.stream, sequence: frame.sequence)
        if honest {
            fuzzCheck(frame == sent[key], "delivered \(frame), which differs from what was sent")
            fuzzCheck(!delivered.contains(key), "delivered \(frame) twice")
        }
        delivered.insert(key)
    }

    /// Remembers a fragment that parsed (so the reassembler may use it).
    mutating func record(_ bytes: [UInt8], type: FrameType) {
        guard let kind = MediaFrameKind(frameType: type),
              let header = try? bytes.withUnsafeBytes({ try MediaFragmentHeader.parse($0, kind: kind) }) else {
            fuzzBug("the reassembler accepted a fragment that does not parse")
        }
        let family = FuzzFragmentFamily(stream: header.stream, sequence: header.sequence, kind: kind, payloadType: header.payloadType,
                                    timestamp: header.timestamp, flags: header.flags.rawValue, totalLength: header.totalLength,
                                    count: header.count)
        received[family, default: [:]][header.index, default: []].insert(Array(bytes[header.byteCount...]))
    }

    /// A delivered frame must be, for some fragment count, the concatenation of one
    /// received fragment per index, all with the frame's header fields.
    func checkMadeOfReceivedFragments(_ frame: MediaFrame) {
        let families = received.filter { family, _ in
            family.stream == frame.stream && family.sequence == frame.sequence && family.kind == frame.kind
                && family.payloadType == frame.payloadType && family.timestamp == frame.timestamp
                && family.flags == frame.flags.rawValue && family.totalLength == frame.payload.count
        }
        let consistent = families.contains { family, fragments in
            let size = MediaFragmentHeader.fragmentSize(totalLength: family.totalLength, count: family.count)
            return (0..<family.count).allSatisfy { index in
                let start = index * size
                let slice = Array(frame.payload[start..<min(start + size, family.totalLength)])
                return fragments[index]?.contains(slice) == true
            }
        }
        fuzzCheck(consistent, "delivered \(frame), which is not made of fragments that were received")
    }

    func checkInvariants() {
        fuzzCheck(reassembler.bufferedBytes >= 0 && reassembler.bufferedBytes <= MediaLimits.maxBufferedBytes,
                  "buffered \(reassembler.bufferedBytes) bytes")
        fuzzCheck(reassembler.partialFrameCount <= MediaLimits.maxPartialFrames, "\(reassembler.partialFrameCount) partial frames")
        fuzzCheck((reassembler.nextDeadline == nil) == (reassembler.partialFrameCount == 0), "deadline and partial frames disagree")
        fuzzCheck((reassembler.bufferedBytes == 0) == (reassembler.partialFrameCount == 0), "buffered bytes and partial frames disagree")
        let stats = reassembler.stats
        fuzzCheck(stats.fragmentsReceived + stats.fragmentsMalformed == receiveCalls, "a receive was not counted")
        fuzzCheck(stats.framesDelivered >= delivered.count, "delivered more frames than counted")
    }

    /// Honest mode: every sent frame, fed whole and in order to a fresh reassembler at one
    /// instant, is delivered exactly once.
    func finish() {
        guard honest else { return }
        var fresh = MediaReassembler()
        var delivered: [MediaFrame] = []
        for (kind, bytes) in pool {
            do {
                if let frame = try fresh.receive(bytes, type: kind.frameType, now: now) { delivered.append(frame) }
            } catch {
                fuzzBug("a packetizer fragment was refused: \(error)")
            }
        }
        fuzzCheck(delivered == sentInOrder, "in-order delivery lost or changed frames: \(delivered.count) of \(sentInOrder.count)")
    }
}

// MARK: Seeds

func fuzzSeeds() -> [[UInt8]] {
    // honest | budget 16 + 1160 = 1176 | first sequence 65533, then 5 frames
    let prelude: [UInt8] = [0x00, 0x04, 0x88, 0xff, 0xfd]
    let frames: [UInt8] = [5, 0x00, 0, 0, 80, 0x01, 1, 0x2a, 0xf8, 0x02, 0, 0x0f, 0xa0, 0x03, 2, 0x01, 0x00, 0x04, 0, 0, 100]
    let inOrder = [UInt8](repeating: 1, count: 40)
    let shuffled: [UInt8] = (0..<40).flatMap { [0, 0, UInt8(($0 * 17) % 41)] }
    let withTime: [UInt8] = (0..<30).flatMap { _ in [1, 2, 40, 3] }
    let forged: [UInt8] = [4, 1, 3, 96, 0x0b, 0xb8, 3, 0, 0x55, 4, 1, 3, 96, 0x0b, 0xb8, 3, 1, 0x55, 4, 1, 3, 96, 0x0b, 0xb9, 3, 2, 0x55]
    let raw: [UInt8] = [5, 2, 0, 20, 0x81, 96, 0, 1, 0, 0, 0, 0, 0, 0, 30, 0, 0, 0, 2, 1, 2, 3, 4, 5]
    return [
        prelude + frames + inOrder,
        prelude + frames + shuffled,
        prelude + frames + withTime,
        [0x01] + prelude.dropFirst() + frames + inOrder + forged + raw,
        // mixed | budget 16 + 16 = 32 | first sequence 0, then 2 frames
        [0x01, 0x00, 0x10, 0x00, 0x00, 2, 0x01, 0, 0x13, 0x88, 0x00, 0, 0, 10] + shuffled,
    ]
}
