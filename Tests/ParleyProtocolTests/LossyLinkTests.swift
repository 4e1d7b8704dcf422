import ParleyCrypto
import ParleyTesting
import XCTest

/// The simulated link does what its configuration says, deterministically.
final class LossyLinkTests: XCTestCase {
    private let start = Timestamp(nanoseconds: 1_000_000_000)

    /// Sends `count` packets of `size` bytes every `interval`, returns (arrival time, first byte pair as index) in order of arrival.
    private func drive(_ link: LossyLink, count: Int, size: Int = 1000, interval: Duration) -> [(Timestamp, Int)] {
        var arrivals: [(Timestamp, Int)] = []
        var now = start
        var sent = 0
        while sent < count || link.nextDeliveryTime != nil {
            if sent < count {
                link.send(LossyLink.Datagram(bytes: [UInt8(sent >> 8), UInt8(sent & 0xff)] + [UInt8](repeating: 0, count: size - 2)), now: now)
                sent += 1
            }
            let nextSend = now + interval
            while let time = link.nextDeliveryTime, time <= nextSend || sent == count {
                guard let packet = link.receive(now: time) else { break }
                arrivals.append((time, Int(packet.bytes[0]) << 8 | Int(packet.bytes[1])))
            }
            now = nextSend
        }
        return arrivals
    }

    func testDelayAndRateShapeArrivals() {
        // 8 Mbit/s: a 1000-byte packet takes 1 ms; 10 ms propagation.
        let link = LossyLink(.init(rateBitsPerSecond: 8_000_000, propagationDelay: .milliseconds(10)))
        let arrivals = drive(link, count: 5, interval: .zero)
        XCTAssertEqual(arrivals.map(\.1), [0, 1, 2, 3, 4])
        XCTAssertEqual(arrivals.map { $0.0.nanoseconds - start.nanoseconds }, [11, 12, 13, 14, 15].map { UInt64($0) * 1_000_000 })
    }

    func testDropTailQueueDropsWhatDoesNotFit() {
        let link = LossyLink(.init(rateBitsPerSecond: 8_000_000, propagationDelay: .zero, queueLimitBytes: 3000))
        for index in 0..<10 { link.send(LossyLink.Datagram(bytes: [UInt8(index)] + [UInt8](repeating: 0, count: 999)), now: start) }
        XCTAssertEqual(link.stats.droppedByQueue, 7)
        XCTAssertEqual(link.stats.maxQueueBytes, 3000)
        XCTAssertEqual(link.queuedBytes(now: start + .milliseconds(1)), 2000, "one packet left the bottleneck after 1 ms")
    }

    func testRandomLossMatchesItsProbabilityAndIsRepeatable() {
        func run(seed: UInt64) -> [Int] {
            let link = LossyLink(.init(propagationDelay: .milliseconds(1), lossProbability: 0.1, seed: seed))
            return drive(link, count: 10_000, size: 100, interval: .microseconds(10)).map(\.1)
        }
        let first = run(seed: 5)
        XCTAssertEqual(first, run(seed: 5), "the same seed loses the same packets")
        XCTAssertNotEqual(first, run(seed: 6))
        XCTAssertEqual(Double(10_000 - first.count) / 10_000, 0.1, accuracy: 0.015)
        XCTAssertEqual(first, first.sorted(), "no reordering unless asked")
    }

    func testReorderingAndDuplication() {
        let link = LossyLink(.init(propagationDelay: .milliseconds(1), reorderProbability: 0.2, reorderDelay: .milliseconds(2),
                                   duplicateProbability: 0.1, seed: 3))
        let arrivals = drive(link, count: 2000, size: 10, interval: .microseconds(100)).map(\.1)
        XCTAssertNotEqual(arrivals, arrivals.sorted(), "some packets were overtaken")
        XCTAssertEqual(Set(arrivals).count, 2000, "nothing lost")
        XCTAssertEqual(Double(arrivals.count - 2000) / 2000, 0.1, accuracy: 0.03)
        XCTAssertEqual(link.stats.delivered, UInt64(arrivals.count))
        XCTAssertEqual(link.stats.duplicated, UInt64(arrivals.count - 2000))
    }
}
