import ParleyCrypto
import ParleyProtocol
import ParleyTesting
import XCTest

/// Throughput and congestion behaviour on simulated links, in virtual time (deterministic,
/// so the figures may be asserted; nothing here depends on the machine's speed).
final class ReliableCongestionTests: XCTestCase {
    /// Goodput (message bytes the receiving app took) in bits per second over `measured`
    /// seconds, after `warmUp`, with the sender keeping its buffer full.
    private func goodput(_ path: ReliableTestPath, warmUp: Duration, measured: Duration) throws -> Double {
        let message = [UInt8](repeating: 0x33, count: 16_384)
        var bytes: UInt64 = 0
        path.onEvent = { side, event in if side == .b, case let .message(body) = event { bytes += UInt64(body.count) } }
        func fill() throws {
            while path.a.sendBufferFree > message.count + 5 { try path.a.send(message: message, now: path.clock.now) }
        }
        let warmEnd = path.clock.now + warmUp
        try path.run(within: warmUp + .seconds(1)) { try fill(); return path.clock.now >= warmEnd }
        bytes = 0
        let start = path.clock.now, end = start + measured
        try path.run(within: measured + .seconds(1)) { try fill(); return path.clock.now >= end }
        let seconds = Double(path.clock.now.since(start).components.seconds) + Double(path.clock.now.since(start).components.attoseconds) / 1e18
        return Double(bytes) * 8 / seconds
    }

    func testGoodputAbove50PercentOfCapacityAt50msRTTAnd1PercentLoss() throws {
        let path = try ReliableTestPath(link: .path(megabits: 20, delay: .milliseconds(25), loss: 0.01, seed: 21))
        let bitsPerSecond = try goodput(path, warmUp: .seconds(2), measured: .seconds(8))
        XCTAssertGreaterThan(bitsPerSecond, 0.5 * 20_000_000, "goodput \(bitsPerSecond / 1e6) Mbit/s of 20")
        XCTAssertGreaterThan(path.a.stats.lostPackets, 0, "the link did lose packets")
        XCTAssertEqual(path.a.stats.phase, "probeBandwidth")
    }

    func testRandomLossDoesNotCollapseTheRate() throws {
        // The same link with and without 1% random loss: the rate with loss stays close.
        let clean = try goodput(try ReliableTestPath(link: .path(megabits: 20, seed: 4)), warmUp: .seconds(2), measured: .seconds(6))
        let lossy = try goodput(try ReliableTestPath(link: .path(megabits: 20, loss: 0.01, seed: 4)), warmUp: .seconds(2), measured: .seconds(6))
        XCTAssertGreaterThan(lossy, 0.85 * clean, "1% random loss cost more than 15%: \(lossy / 1e6) vs \(clean / 1e6) Mbit/s")
    }

    func testShallowDropTailQueueIsNotKeptOverflowing() throws {
        // 20 Mbit/s, 50 ms RTT, a queue of 12 packets (a tenth of the BDP), no random loss:
        // every drop is the sender's doing.
        let path = try ReliableTestPath(link: .path(megabits: 20, queueBytes: 12 * 1200, seed: 8))
        let bitsPerSecond = try goodput(path, warmUp: .seconds(3), measured: .seconds(12))
        let sent = path.aToB.stats.sent, dropped = path.aToB.stats.droppedByQueue
        let dropRate = Double(dropped) / Double(sent)
        XCTAssertLessThan(dropRate, 0.02, "the queue-drop rate stays bounded: \(dropped) of \(sent)")
        XCTAssertGreaterThan(bitsPerSecond, 0.7 * 20_000_000, "and the link stays used: \(bitsPerSecond / 1e6) Mbit/s")
        XCTAssertLessThanOrEqual(path.aToB.stats.maxQueueBytes, 12 * 1200)
    }

    func testDeepQueueStaysNearlyEmptyOnceTheModelIsLearned() throws {
        // With a queue of 4 BDPs, a loss-based sender would fill it; BBR keeps it short.
        let path = try ReliableTestPath(link: .path(megabits: 20, queueBytes: 500_000, seed: 9))
        _ = try goodput(path, warmUp: .seconds(3), measured: .seconds(3))
        let srtt = try XCTUnwrap(path.a.stats.smoothedRTTNanoseconds)
        let minRTT = try XCTUnwrap(path.a.stats.minRTTNanoseconds)
        XCTAssertLessThan(Double(srtt), 1.5 * Double(minRTT), "queueing delay stays under half the base RTT")
    }

    func testModelLearnsBandwidthAndRTT() throws {
        let path = try ReliableTestPath(link: .path(megabits: 20, delay: .milliseconds(25), seed: 10))
        _ = try goodput(path, warmUp: .seconds(2), measured: .seconds(2))
        let stats = path.a.stats
        let minRTT = Double(try XCTUnwrap(stats.minRTTNanoseconds))
        XCTAssertEqual(minRTT, 50e6, accuracy: 3e6, "min RTT is the path's 50 ms")
        // Payload bytes per second: the link carries 1200-byte sealed frames of 1176-byte payloads.
        XCTAssertEqual(stats.bandwidthBytesPerSecond, 20e6 / 8 * 1176 / 1200, accuracy: 0.1 * 20e6 / 8)
        XCTAssertGreaterThan(stats.congestionWindowBytes, UInt64(0.9 * 20e6 / 8 * 0.05))
    }
}
