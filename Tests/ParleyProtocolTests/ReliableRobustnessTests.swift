import ParleyCrypto
import ParleyProtocol
import ParleyTesting
import XCTest

/// Hostile or broken input: malformed packets are refused without changing anything, a
/// silent peer fails the channel within the documented limit, a broken record stream
/// fails it at once.
final class ReliableRobustnessTests: XCTestCase {
    private let now = Timestamp(nanoseconds: 1_000_000_000)

    private func ack(largest: UInt64, ranges: [AckRange]? = nil, received: UInt64 = 0, limit: UInt64 = 1 << 22) -> [UInt8] {
        ReliableAckPacket(ackDelayMicroseconds: 0, receivedOffset: received, windowLimit: limit,
                          ranges: ranges ?? [AckRange(low: 0, high: largest)]).encoded()
    }

    func testMalformedAcksAreRefusedAndChangeNothing() throws {
        let channel = try ReliableChannel(now: now)
        try channel.send(message: [1, 2, 3], now: now)
        XCTAssertNotNil(channel.pollTransmit(now: now))
        let before = channel.stats
        var valid = ack(largest: 0)
        let cases: [(String, [UInt8])] = [
            ("empty", []),
            ("short", Array(valid.prefix(22))),
            ("zero ranges", { var b = valid; b[22] = 0; return Array(b.prefix(23)) }()),
            ("33 ranges", { var b = valid; b[22] = 33; return b }()),
            ("trailing byte", valid + [0]),
            ("first gap not 0", { var b = valid; b[26] = 1; return b }()),
            ("empty range", { var b = valid; b[30] = 0; return b }()),
            ("range below 0", { var b = valid; b[30] = 2; return b }()),
            ("limit below received", ack(largest: 0, received: 10, limit: 5)),
        ]
        for (name, bytes) in cases {
            XCTAssertThrowsError(try channel.handleIncoming(type: .messageAck, payload: bytes, now: now), name) { error in
                guard case .malformedPacket = error as? ReliableError else { return XCTFail("\(name): \(error)") }
                XCTAssertEqual((error as? ReliableError)?.code, 6053)
            }
            XCTAssertEqual(channel.stats, before, "\(name) changed the channel")
        }
        XCTAssertThrowsError(try channel.handleIncoming(type: .messageAck, payload: ack(largest: 5), now: now)) {
            XCTAssertEqual($0 as? ReliableError, .ackOfUnsentPacket(packetNumber: 5, largestSent: 0))
        }
        XCTAssertEqual(channel.stats, before)
        XCTAssertThrowsError(try channel.handleIncoming(type: .audio, payload: valid, now: now)) {
            XCTAssertEqual($0 as? ReliableError, .unexpectedFrameType(1))
        }
        // The valid ack still works afterwards.
        valid = ack(largest: 0, received: 8)
        XCTAssertNoThrow(try channel.handleIncoming(type: .messageAck, payload: valid, now: now + .milliseconds(50)))
        XCTAssertEqual(channel.pollEvent(), .delivered(1))
    }

    func testMalformedAndOutOfWindowDataIsRefusedAndChangesNothing() throws {
        let channel = try ReliableChannel(now: now)
        let before = channel.stats
        var beyond = [UInt8](repeating: 0, count: 12 + 100)
        beyond.withUnsafeMutableBytes { ReliableDataHeader(packetNumber: 0, offset: ReliableConstants.initialWindowBytes * 16, length: 100).encode(into: $0) }
        var offEnd = [UInt8](repeating: 0xff, count: 12 + 1)
        offEnd[0] = 0
        let cases: [([UInt8], Int)] = [
            ([], 6053), ([0, 0, 0], 6053), ([UInt8](repeating: 0, count: 11), 6053),
            ([UInt8](repeating: 0, count: ReliableConstants.maxFramePayloadBytes + 1), 6053),
            (offEnd, 6053), (beyond, 6054),
        ]
        for (bytes, code) in cases {
            XCTAssertThrowsError(try channel.handleIncoming(type: .messageData, payload: bytes, now: now)) {
                XCTAssertEqual(($0 as? ReliableError)?.code, code, "\($0)")
            }
            XCTAssertEqual(channel.stats, before)
            XCTAssertNil(channel.pollTransmit(now: now), "a refused packet is not acknowledged")
            XCTAssertNil(channel.pollEvent())
        }
    }

    func testPeerThatNeverAcksFailsTheChannelWithinTheSilenceLimit() throws {
        // Everything a sends is lost: b never acks.
        let path = try ReliableTestPath(link: .path(loss: 1.0))
        try path.a.send(message: Array("hello?".utf8), now: path.clock.now)
        let start = path.clock.now
        var failure: ReliableError?
        path.onEvent = { side, event in if side == .a, case let .failed(error) = event { failure = error } }
        try path.run(within: .seconds(30)) { failure != nil }
        XCTAssertEqual(failure, .peerUnresponsive(seconds: 10))
        XCTAssertEqual(failure?.code, 6057)
        let elapsed = path.clock.now.since(start)
        XCTAssertGreaterThanOrEqual(elapsed, ReliableConstants.peerSilenceLimit)
        XCTAssertLessThanOrEqual(elapsed, ReliableConstants.peerSilenceLimit + .milliseconds(1))
        XCTAssertGreaterThanOrEqual(path.a.stats.probeTimeouts, 3, "it probed with backoff before giving up")
        XCTAssertLessThan(path.a.stats.probeTimeouts, 12, "probes back off exponentially")
        XCTAssertThrowsError(try path.a.send(message: [1], now: path.clock.now)) {
            XCTAssertEqual($0 as? ReliableError, .channelFailed(code: 6057))
        }
        XCTAssertNil(path.a.nextDeadline(now: path.clock.now), "a failed channel wants no more timers")
    }

    func testTailLossIsRecoveredByTheProbeTimeout() throws {
        let path = try ReliableTestPath(link: .path())
        var dropped = 0
        // Drop the first two data packets: with nothing after them, only the probe timeout can recover.
        path.intercept = { receiver, type, _ in
            if receiver == .b, type == .messageData, dropped < 2 {
                dropped += 1
                return false
            }
            return true
        }
        try path.a.send(message: [UInt8](repeating: 5, count: 1500), now: path.clock.now)
        var received: [UInt8]?
        path.onEvent = { side, event in if side == .b, case let .message(bytes) = event { received = bytes } }
        try path.run(within: .seconds(5)) { received != nil }
        XCTAssertEqual(received, [UInt8](repeating: 5, count: 1500))
        XCTAssertGreaterThanOrEqual(path.a.stats.probeTimeouts, 1)
    }

    func testBrokenRecordStreamFailsTheReceiver() throws {
        let channel = try ReliableChannel(now: now)
        // A record of unknown kind 9 at offset 0.
        var packet = [UInt8](repeating: 0, count: 12 + 5)
        packet[12] = 9
        XCTAssertNoThrow(try channel.handleIncoming(type: .messageData, payload: packet, now: now))
        guard case .failed(.protocolViolation)? = channel.pollEvent() else { return XCTFail("expected a protocol violation") }
        XCTAssertEqual(channel.failure?.code, 6058)
        XCTAssertThrowsError(try channel.handleIncoming(type: .messageData, payload: packet, now: now)) {
            XCTAssertEqual($0 as? ReliableError, .channelFailed(code: 6058))
        }
    }

    func testMessageRecordLongerThanTheLimitFailsTheReceiver() throws {
        let channel = try ReliableChannel(now: now)
        let length = ReliableConstants.maxMessageBytes + 1
        let packet: [UInt8] = [UInt8](repeating: 0, count: 12) + [1, UInt8(length >> 24), UInt8((length >> 16) & 0xff), UInt8((length >> 8) & 0xff), UInt8(length & 0xff)]
        XCTAssertNoThrow(try channel.handleIncoming(type: .messageData, payload: packet, now: now))
        guard case .failed(.protocolViolation)? = channel.pollEvent() else { return XCTFail("expected a protocol violation") }
    }

    func testDuplicateAndReplayedDataIsDeliveredOnce() throws {
        let channel = try ReliableChannel(now: now)
        var packet = [UInt8](repeating: 0, count: 12)
        packet += [1, 0, 0, 0, 3, 7, 8, 9]
        for _ in 0..<3 { try channel.handleIncoming(type: .messageData, payload: packet, now: now) }
        // The same bytes under a new packet number (a retransmission) too.
        packet[5] = 1
        try channel.handleIncoming(type: .messageData, payload: packet, now: now)
        XCTAssertEqual(channel.pollEvent(), .message([7, 8, 9]))
        XCTAssertNil(channel.pollEvent())
        XCTAssertEqual(channel.stats.duplicatePackets, 3)
    }

    /// The live shell reads its clock on several threads before taking its lock, so a send
    /// can carry a time earlier than an ack already handled. Such a time counts as the
    /// latest one seen: before, the rate sample subtracted a later send time from an
    /// earlier one and trapped (found by the call throughput benchmark).
    func testInputsWhoseTimeGoesBackwardsCountAsTheLatestTimeSeen() throws {
        let sender = try ReliableChannel(now: now)
        let receiver = try ReliableChannel(now: now)
        func move(from: ReliableChannel, to: ReliableChannel, at time: Timestamp) throws -> Int {
            var moved = 0
            while let (type, payload) = from.pollTransmit(now: time) {
                try to.handleIncoming(type: type, payload: payload, now: time)
                moved += 1
            }
            return moved
        }
        func at(milliseconds: UInt64) -> Timestamp { Timestamp(nanoseconds: now.nanoseconds + milliseconds * 1_000_000) }
        for round in 0..<6 {
            // Each round's data leaves at a time earlier than the previous round's ack
            // (sent at 100, 99, 98, ... ms; acked at 150, 200, 250, ... ms).
            let sendTime = at(milliseconds: 100 - UInt64(round)), ackTime = at(milliseconds: 150 + 50 * UInt64(round))
            try sender.send(message: [UInt8](repeating: UInt8(round), count: 64), now: sendTime)
            XCTAssertEqual(try move(from: sender, to: receiver, at: sendTime), 1)
            XCTAssertEqual(receiver.pollEvent(), .message([UInt8](repeating: UInt8(round), count: 64)))
            XCTAssertGreaterThan(try move(from: receiver, to: sender, at: ackTime), 0)
        }
        var delivered = 0
        while let event = sender.pollEvent() { if case .delivered = event { delivered += 1 } }
        XCTAssertEqual(delivered, 6)
        XCTAssertNil(sender.failure)
        XCTAssertNotNil(sender.stats.smoothedRTTNanoseconds)
    }
}
