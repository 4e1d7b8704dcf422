import ParleyCrypto
import ParleyProtocol
import ParleyTesting
import XCTest

/// Bounded buffers: the send buffer refuses with a retryable error and says when to retry,
/// the sender never exceeds the receiver's window, oversize messages are refused.
final class ReliableLimitsTests: XCTestCase {
    func testOversizeMessageIsRefusedWithAdviceToStreamAFile() throws {
        let channel = try ReliableChannel(now: Timestamp(nanoseconds: 0))
        let limit = ReliableConstants.maxMessageBytes
        XCTAssertNoThrow(try channel.send(message: [UInt8](repeating: 0, count: limit), now: Timestamp(nanoseconds: 0)))
        XCTAssertThrowsError(try channel.send(message: [UInt8](repeating: 0, count: limit + 1), now: Timestamp(nanoseconds: 0))) { error in
            XCTAssertEqual(error as? ReliableError, .messageTooLarge(limit: limit, actual: limit + 1))
            XCTAssertEqual((error as? ReliableError)?.code, 6051)
            XCTAssertTrue("\(error)".contains("file"), "the message tells the app to stream it as a file")
        }
    }

    func testFullSendBufferRefusesThenSignalsWritable() throws {
        var configuration = ReliableConfiguration()
        configuration.sendBufferBytes = 1 << 21
        let path = try ReliableTestPath(link: .path(), a: configuration)
        let message = [UInt8](repeating: 9, count: 100_000)
        var accepted = 0
        var refusal: ReliableError?
        while refusal == nil {
            do {
                try path.a.send(message: message, now: path.clock.now)
                accepted += 1
            } catch {
                refusal = error
            }
        }
        XCTAssertEqual(accepted, (1 << 21) / (message.count + ReliableConstants.recordHeaderBytes), "the buffer holds exactly what fits")
        guard case let .sendBufferFull(needed, free)? = refusal else { return XCTFail("expected sendBufferFull, got \(String(describing: refusal))") }
        XCTAssertEqual(needed, message.count + ReliableConstants.recordHeaderBytes)
        XCTAssertLessThan(free, needed)
        XCTAssertEqual(refusal?.code, 6052)

        var writable = false
        path.onEvent = { side, event in if side == .a, event == .writable { writable = true } }
        try path.run(within: .seconds(10)) { writable }
        XCTAssertGreaterThanOrEqual(path.a.sendBufferFree, needed, "after writable the refused message fits")
        XCTAssertNoThrow(try path.a.send(message: message, now: path.clock.now))
    }

    func testSenderNeverExceedsTheReceiversAdvertisedWindow() throws {
        // A receiver whose app takes nothing for a while: the window must close the sender.
        let path = try ReliableTestPath(link: .path(megabits: 100))
        var violations: [UInt64] = []
        var highestEnd: UInt64 = 0
        path.intercept = { receiver, type, payload in
            guard receiver == .b, type == .messageData else { return true }
            // Cannot throw: the test sender writes well-formed packets.
            let header = try! payload.withUnsafeBytes { try ReliableDataHeader.decode($0) }
            highestEnd = max(highestEnd, header.end)
            if header.end > path.b.stats.advertisedWindowLimit { violations.append(header.end) }
            return true
        }
        let message = [UInt8](repeating: 1, count: 60_000)
        var sent = 0
        // Phase 1: b's app does not poll events, so nothing is released.
        let end = path.clock.now + .seconds(3)
        while path.clock.now < end {
            while path.a.sendBufferFree > 70_000 {
                try path.a.send(message: message, now: path.clock.now)
                sent += 1
            }
            try stepWithoutDraining(path)
        }
        let window = UInt64(ReliableConfiguration().receiveWindowBytes)
        XCTAssertTrue(violations.isEmpty, "data beyond the advertised window: \(violations.prefix(3))")
        XCTAssertLessThanOrEqual(highestEnd, window, "a receiver that took nothing holds at most its window")
        XCTAssertGreaterThan(highestEnd, window - 70_000, "the sender used the whole window")
        XCTAssertEqual(path.b.stats.bytesReceived, highestEnd)

        // Phase 2: the app reads; the window reopens and everything arrives.
        var received = 0
        path.onEvent = { side, event in if side == .b, case .message = event { received += 1 } }
        try path.run(within: .seconds(20)) { received == sent }
        XCTAssertTrue(violations.isEmpty)
    }

    /// Moves packets and time without taking b's events, so b's window does not reopen.
    private func stepWithoutDraining(_ path: ReliableTestPath) throws {
        var buffer = [UInt8](repeating: 0, count: 2048)
        let now = path.clock.now
        for (link, side) in [(path.bToA, ReliableTestPath.Side.a), (path.aToB, .b)] {
            while let datagram = link.receive(now: now) {
                var payload = datagram.bytes
                // Cannot be nil: the path tags datagrams with frame types.
                let type = FrameType(rawValue: datagram.tag)!
                guard path.intercept(side, type, &payload) else { continue }
                try path.channel(side).handleIncoming(type: type, payload: payload, now: now)
            }
        }
        while path.a.pollEvent() != nil {}
        for (channel, link) in [(path.a, path.aToB), (path.b, path.bToA)] {
            while let transmit = buffer.withUnsafeMutableBytes({ channel.pollTransmit(now: now, into: $0) }) {
                link.send(LossyLink.Datagram(tag: transmit.type.rawValue, bytes: Array(buffer[0..<transmit.byteCount])),
                          wireBytes: transmit.byteCount + 24, now: now)
            }
        }
        let next = [path.a.nextDeadline(now: now), path.b.nextDeadline(now: now), path.aToB.nextDeliveryTime, path.bToA.nextDeliveryTime]
            .compactMap { $0 }.min() ?? now + .milliseconds(10)
        path.clock.advance(to: max(next, now + .nanoseconds(1)))
        path.a.handleTimeout(now: path.clock.now)
        path.b.handleTimeout(now: path.clock.now)
    }

    func testTooManyOpenFilesAndOverrunAreRefused() throws {
        let channel = try ReliableChannel(now: Timestamp(nanoseconds: 0))
        let now = Timestamp(nanoseconds: 0)
        let ids = try (0..<ReliableConstants.maxOpenFiles).map { _ in try channel.startFile(size: 10, name: nil, now: now) }
        XCTAssertThrowsError(try channel.startFile(size: 10, name: nil, now: now)) {
            XCTAssertEqual($0 as? ReliableError, .tooManyOpenFiles(limit: ReliableConstants.maxOpenFiles))
        }
        XCTAssertEqual(try channel.writeFile(ids[0], bytes: [UInt8](repeating: 0, count: 10), now: now), 10)
        XCTAssertThrowsError(try channel.writeFile(ids[1], bytes: [UInt8](repeating: 0, count: 11), now: now)) {
            XCTAssertEqual($0 as? ReliableError, .fileOverrun(size: 10, offered: 11))
        }
        XCTAssertThrowsError(try channel.startFile(size: 1, name: String(repeating: "é", count: 128), now: now)) {
            XCTAssertEqual($0 as? ReliableError, .fileNameTooLong(limit: 255, actual: 256))
        }
    }

    func testConfigurationOutOfRangeIsRefused() {
        var configuration = ReliableConfiguration()
        configuration.receiveWindowBytes = 1000
        XCTAssertThrowsError(try ReliableChannel(configuration: configuration, now: Timestamp(nanoseconds: 0))) {
            XCTAssertEqual(($0 as? ReliableError)?.code, 6067)
        }
    }
}
