// Fuzz target: the reliable channel's packet decoders and its input path
// (Sources/ParleyProtocol/Frames/ReliablePacket.swift, ReliableRecords.swift,
// ReliableChannel.swift).
//
// A ParleyProtocol target: compiled with ProtocolFuzzSupport.swift and the ParleyProtocol
// sources into one module (run.sh).
//
// The first input byte picks a mode (modulo 4):
//
//   0 data     payload                 : ReliableDataHeader.decode. Accepted exactly when
//                                        12 <= length <= 16384 and offset + length < 2^48;
//                                        the header re-encodes to the first 12 bytes.
//   1 ack      payload                 : ReliableAckPacket.decode. What is accepted
//                                        re-encodes to the same bytes (the encoding is
//                                        canonical) and its ranges are descending, disjoint,
//                                        not adjacent, 1...32 of them.
//   2 session  (type (1) | length (2) | payload)* : fed to a channel that has sent a few
//                                        packets of its own. Every refusal is a ReliableError
//                                        with a code in 6051...6099 and leaves the stats
//                                        unchanged; the outputs (pollTransmit, pollEvent,
//                                        nextDeadline, handleTimeout) never trap.
//   3 stream   bytes                   : the bytes as the in-order stream content of data
//                                        packets (offsets 0, 1000, ...), so the record parser
//                                        sees any records. Message events carry at most
//                                        maxMessageBytes; after a failure nothing more is accepted.

import ParleyCrypto

func fuzzOneInput(_ input: inout FuzzInput) {
    guard !input.isAtEnd else { return }
    let mode = input.byte()
    let rest = input.rest()
    switch mode % 4 {
    case 0: fuzzData(rest)
    case 1: fuzzAck(rest)
    case 2: fuzzSession(rest)
    default: fuzzStream(rest)
    }
}

// MARK: Oracle

private func checkRefusal(_ error: ReliableError, _ what: String) {
    fuzzCheck((6051...6099).contains(error.code), "\(what) refused with code \(error.code): \(error)")
    fuzzCheck(!error.description.isEmpty, "\(what) refused without a message")
}

private let start = Timestamp(nanoseconds: 1_000_000_000)

// MARK: Modes

private func fuzzData(_ payload: [UInt8]) {
    let result: Result<ReliableDataHeader, ReliableError> = payload.withUnsafeBytes { raw in
        do throws(ReliableError) { return .success(try ReliableDataHeader.decode(raw)) } catch { return .failure(error) }
    }
    let offsetFits = payload.count >= 12
        && (payload[6..<12].reduce(UInt64(0)) { $0 << 8 | UInt64($1) } + UInt64(payload.count - 12)) < ReliableConstants.sequenceLimit
    let shouldAccept = payload.count >= 12 && payload.count <= ReliableConstants.maxFramePayloadBytes && offsetFits
    switch result {
    case let .success(header):
        fuzzCheck(shouldAccept, "accepted a data packet of \(payload.count) bytes")
        var again = [UInt8](repeating: 0, count: 12)
        again.withUnsafeMutableBytes { header.encode(into: $0) }
        fuzzCheck(again == Array(payload.prefix(12)), "data header does not re-encode to its bytes")
        fuzzCheck(header.length == payload.count - 12, "data length \(header.length) for \(payload.count) bytes")
    case let .failure(error):
        fuzzCheck(!shouldAccept, "refused a valid data packet: \(error)")
        checkRefusal(error, "data decode")
    }
}

private func fuzzAck(_ payload: [UInt8]) {
    let result: Result<ReliableAckPacket, ReliableError> = payload.withUnsafeBytes { raw in
        do throws(ReliableError) { return .success(try ReliableAckPacket.decode(raw)) } catch { return .failure(error) }
    }
    switch result {
    case let .success(ack):
        fuzzCheck(ack.encoded() == payload, "ack does not re-encode to its bytes")
        fuzzCheck((1...ReliableConstants.maxAckRanges).contains(ack.ranges.count), "\(ack.ranges.count) ranges")
        fuzzCheck(ack.windowLimit >= ack.receivedOffset, "window limit below received offset")
        for (index, range) in ack.ranges.enumerated() {
            fuzzCheck(range.low <= range.high, "range \(index) inverted")
            if index > 0 { fuzzCheck(range.high + 1 < ack.ranges[index - 1].low, "range \(index) touches or overlaps the one above") }
        }
    case let .failure(error):
        checkRefusal(error, "ack decode")
    }
}

/// A channel that has sent `count` data packets of a few messages (so acks can name them).
private func sendingChannel(packets count: Int) -> ReliableChannel {
    // Cannot fail: the default configuration is valid and the messages are small.
    let channel = try! ReliableChannel(now: start)
    for index in 0..<20 { _ = try! channel.send(message: [UInt8](repeating: UInt8(index), count: 500), now: start) }
    var sent = 0
    while sent < count, channel.pollTransmit(now: start) != nil { sent += 1 }
    return channel
}

private func fuzzSession(_ input: [UInt8]) {
    let channel = sendingChannel(packets: 8)
    var now = start
    var index = 0
    var failed = false
    while index + 3 <= input.count {
        let type = FrameType.allCases[Int(input[index]) % FrameType.allCases.count]
        let length = min(Int(input[index + 1]) << 8 | Int(input[index + 2]), input.count - index - 3)
        let payload = Array(input[(index + 3)..<(index + 3 + length)])
        index += 3 + length
        now = now + .milliseconds(Int64(input[index - 1] % 64))
        let before = channel.stats
        do {
            try channel.handleIncoming(type: type, payload: payload, now: now)
            fuzzCheck(!failed, "a failed channel accepted a packet")
        } catch {
            checkRefusal(error, "handleIncoming(\(type))")
            if case .channelFailed = error {
                fuzzCheck(channel.failure != nil, "channelFailed from a live channel")
            } else {
                fuzzCheck(channel.stats == before, "a refused \(type) packet changed the channel")
            }
        }
        failed = channel.failure != nil
        drain(channel, now: now)
    }
    if let deadline = channel.nextDeadline(now: now) {
        channel.handleTimeout(now: deadline)
        drain(channel, now: deadline)
    }
}

private func fuzzStream(_ stream: [UInt8]) {
    // Cannot fail: the default configuration is valid.
    let channel = try! ReliableChannel(now: start)
    var offset = 0
    var number: UInt64 = 0
    while offset < stream.count, channel.failure == nil {
        let piece = Array(stream[offset..<min(stream.count, offset + 1000)])
        var packet = [UInt8](repeating: 0, count: 12)
        packet.withUnsafeMutableBytes { ReliableDataHeader(packetNumber: number, offset: UInt64(offset), length: piece.count).encode(into: $0) }
        do {
            try channel.handleIncoming(type: .messageData, payload: packet + piece, now: start)
        } catch {
            fuzzBug("an in-window data packet was refused: \(error)")
        }
        number += 1
        offset += piece.count
        drain(channel, now: start)
    }
}

private func drain(_ channel: ReliableChannel, now: Timestamp) {
    var transmitted = 0
    while let packet = channel.pollTransmit(now: now) {
        fuzzCheck(packet.payload.count <= channel.configuration.maxPacketPayload, "a packet larger than maxPacketPayload")
        transmitted += 1
        if transmitted > 64 { break }
    }
    while let event = channel.pollEvent() {
        if case let .message(bytes) = event {
            fuzzCheck(bytes.count <= ReliableConstants.maxMessageBytes, "a message of \(bytes.count) bytes")
        }
    }
}

// MARK: Seeds

func fuzzSeeds() -> [[UInt8]] {
    func dataPacket(_ number: UInt64, _ offset: UInt64, _ bytes: [UInt8]) -> [UInt8] {
        var packet = [UInt8](repeating: 0, count: 12)
        packet.withUnsafeMutableBytes { ReliableDataHeader(packetNumber: number, offset: offset, length: bytes.count).encode(into: $0) }
        return packet + bytes
    }
    let ack = ReliableAckPacket(ackDelayMicroseconds: 250, receivedOffset: 505, windowLimit: 1 << 22,
                                ranges: [AckRange(low: 5, high: 7), AckRange(low: 0, high: 2)]).encoded()
    let message: [UInt8] = [1, 0, 0, 0, 3, 0x61, 0x62, 0x63]
    let fileStart: [UInt8] = [2, 0, 0, 0, 14, 0, 0, 0, 1] + [0, 0, 0, 0, 0, 0, 0, 4] + [1, 0x66]
    let fileData: [UInt8] = [3, 0, 0, 0, 8, 0, 0, 0, 1, 1, 2, 3, 4]
    let fileEnd: [UInt8] = [4, 0, 0, 0, 36, 0, 0, 0, 1] + [UInt8](repeating: 0, count: 32)
    let fileCancel: [UInt8] = [5, 0, 0, 0, 6, 0, 0, 0, 1, 0, 7]
    let stream = message + fileStart + fileData + fileEnd + message + fileStart + fileCancel
    func framed(_ type: FrameType, _ payload: [UInt8]) -> [UInt8] {
        [type.rawValue, UInt8(payload.count >> 8), UInt8(payload.count & 0xff)] + payload
    }
    return [
        [0] + dataPacket(0, 0, message),
        [0] + dataPacket(7, 1 << 40, []),
        [1] + ack,
        [1] + ReliableAckPacket(ackDelayMicroseconds: 0, receivedOffset: 0, windowLimit: 0, ranges: [AckRange(low: 0, high: 0)]).encoded(),
        [2] + framed(.messageAck, ack) + framed(.messageData, dataPacket(0, 0, stream)) + framed(.messageData, dataPacket(2, 8, Array(stream.dropFirst(8)))),
        [2] + framed(.messageData, dataPacket(1, 3, Array(message.dropFirst(3)))) + framed(.messageData, dataPacket(0, 0, Array(message.prefix(3)))),
        [3] + stream,
        [3] + [1, 0, 0x10, 0, 0] + [UInt8](repeating: 0x41, count: 3000),
    ]
}
