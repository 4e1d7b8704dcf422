import ParleyCrypto
import ParleyProtocol
import ParleyTesting
import XCTest

/// A call's media through a simulated link with seeded loss, jitter (reordering) and
/// duplication, on a virtual clock: whatever is delivered is exactly a frame that was
/// sent, once; with moderate jitter, every frame whose fragments all arrived is delivered
/// and every other one is accounted for.
final class MediaLossyLinkTests: XCTestCase {
    private struct Link {
        var lossPercent: Int
        var duplicatePercent: Int
        var maxJitterMilliseconds: Int
    }

    private struct Arrival {
        var time: Timestamp
        var order: Int
        var kind: MediaFrameKind
        var key: FrameKey
        var index: Int
        var bytes: [UInt8]
    }

    private struct FrameKey: Hashable {
        var stream: UInt8
        var sequence: UInt16
    }

    private struct Outcome {
        var sent: [FrameKey: MediaFrame] = [:]
        var fragmentCounts: [FrameKey: Int] = [:]
        /// Distinct fragment indices that arrived, per frame.
        var arrived: [FrameKey: Set<Int>] = [:]
        var arrivals = 0
        var delivered: [FrameKey: MediaFrame] = [:]
        var stats = MediaReassemblyStats()
    }

    /// Audio on stream 0 every 20 ms, video on stream 1 every 50 ms (a 60 KB keyframe
    /// every 25 frames) and on stream 2 every 100 ms, for `milliseconds` of call, with
    /// sequence numbers that wrap. Fragments cross `link`; arrivals are fed in time order.
    private func run(seed: UInt64, link: Link, milliseconds: Int = 3000, timeJumps: Bool = false,
                     file: StaticString = #filePath, line: UInt = #line) -> Outcome {
        var random = Xoshiro256StarStar(seed: seed)
        var packetizer = MediaFixtures.packetizer(firstSequence: 65_500)
        var outcome = Outcome()
        var arrivals: [Arrival] = []
        for time in stride(from: 0, to: milliseconds, by: 10) {
            var frames: [MediaFrame] = []
            if time % 20 == 0 {
                frames.append(MediaFixtures.audio(stream: 0, bytes: Int.random(in: 60...160, using: &random), seed: time))
            }
            if time % 50 == 0 {
                let keyframe = time % 1250 == 0
                frames.append(MediaFixtures.video(stream: 1, bytes: keyframe ? 60_000 : Int.random(in: 300...12_000, using: &random),
                                                  seed: time, flags: keyframe ? .keyframe : []))
            }
            if time % 100 == 0 {
                frames.append(MediaFixtures.video(stream: 2, bytes: Int.random(in: 100...4000, using: &random), seed: time + 1))
            }
            for frame in frames {
                let (sent, fragments) = MediaFixtures.fragments(frame, with: &packetizer, file: file, line: line)
                let key = FrameKey(stream: sent.stream, sequence: sent.sequence)
                XCTAssertNil(outcome.sent[key], "sequence reused within one run", file: file, line: line)
                outcome.sent[key] = sent
                outcome.fragmentCounts[key] = fragments.count
                for (index, bytes) in fragments.enumerated() where Int.random(in: 0..<100, using: &random) >= link.lossPercent {
                    let copies = Int.random(in: 0..<100, using: &random) < link.duplicatePercent ? 2 : 1
                    for _ in 0..<copies {
                        let delay = Int.random(in: 0...link.maxJitterMilliseconds, using: &random)
                        arrivals.append(Arrival(time: MediaFixtures.at(milliseconds: time + delay), order: arrivals.count,
                                                kind: sent.kind, key: key, index: index, bytes: bytes))
                    }
                }
            }
        }
        arrivals.sort { ($0.time, $0.order) < ($1.time, $1.order) }

        var reassembler = MediaReassembler()
        var skew = Duration.zero
        for arrival in arrivals {
            if timeJumps && Int.random(in: 0..<200, using: &random) == 0 { skew += .milliseconds(Int.random(in: 100...2000, using: &random)) }
            let now = arrival.time + skew
            if let deadline = reassembler.nextDeadline, deadline <= now { reassembler.handleTimeout(now: now) }
            outcome.arrivals += 1
            outcome.arrived[arrival.key, default: []].insert(arrival.index)
            if let frame = mediaFeed(&reassembler, arrival.bytes, arrival.kind, at: now, file: file, line: line) {
                let key = FrameKey(stream: frame.stream, sequence: frame.sequence)
                XCTAssertNil(outcome.delivered[key], "frame \(key) delivered twice", file: file, line: line)
                XCTAssertEqual(frame, outcome.sent[key], "delivered frame differs from the one sent", file: file, line: line)
                XCTAssertEqual(outcome.arrived[key]?.count, outcome.fragmentCounts[key], "delivered before all fragments arrived",
                               file: file, line: line)
                outcome.delivered[key] = frame
            }
            XCTAssertLessThanOrEqual(reassembler.bufferedBytes, MediaLimits.maxBufferedBytes, file: file, line: line)
            XCTAssertLessThanOrEqual(reassembler.partialFrameCount, MediaLimits.maxPartialFrames, file: file, line: line)
        }
        reassembler.handleTimeout(now: MediaFixtures.at(milliseconds: milliseconds + 10_000) + skew)
        XCTAssertEqual(reassembler.partialFrameCount, 0, file: file, line: line)
        XCTAssertEqual(reassembler.bufferedBytes, 0, file: file, line: line)
        XCTAssertNil(reassembler.nextDeadline, file: file, line: line)
        outcome.stats = reassembler.stats
        return outcome
    }

    func testModerateLossJitterAndDuplicatesDeliverExactlyTheFramesThatArrivedWhole() {
        for seed: UInt64 in [1, 2, 3] {
            let outcome = run(seed: 0x6c6f_7373_0000 + seed, link: Link(lossPercent: 5, duplicatePercent: 5, maxJitterMilliseconds: 80))
            let whole = Set(outcome.arrived.filter { $0.value.count == outcome.fragmentCounts[$0.key] }.keys)
            let partial = outcome.arrived.filter { $0.value.count < outcome.fragmentCounts[$0.key]! }.count
            XCTAssertEqual(Set(outcome.delivered.keys), whole, "seed \(seed)")
            XCTAssertGreaterThan(partial, 0, "seed \(seed): the link lost no frame, so loss was not exercised")
            XCTAssertEqual(outcome.stats.framesDroppedIncomplete, partial, "seed \(seed)")
            XCTAssertEqual(outcome.stats.framesDroppedLate, 0, "seed \(seed)")
            XCTAssertEqual(outcome.stats.framesDroppedOverflow, 0, "seed \(seed)")
            XCTAssertEqual(outcome.stats.framesDroppedConflicting, 0, "seed \(seed)")
            XCTAssertEqual(outcome.stats.fragmentsReceived, outcome.arrivals, "seed \(seed)")
            XCTAssertEqual(outcome.stats.fragmentsDuplicate, outcome.arrivals - outcome.arrived.values.map(\.count).reduce(0, +),
                           "seed \(seed)")
            XCTAssertEqual(outcome.stats.bytesDelivered, outcome.delivered.values.map(\.payload.count).reduce(0, +), "seed \(seed)")
        }
    }

    func testHeavyLossLongJitterAndClockJumpsNeverDeliverAnythingButSentFramesOnce() {
        for seed: UInt64 in [11, 12, 13, 14] {
            let outcome = run(seed: 0x6368_616f_7300 + seed, link: Link(lossPercent: 30, duplicatePercent: 25, maxJitterMilliseconds: 1000),
                              timeJumps: true)
            // Checked per delivery inside run: equal to the sent frame, never twice, all fragments in.
            let stats = outcome.stats
            XCTAssertEqual(stats.framesDelivered, outcome.delivered.count, "seed \(seed)")
            XCTAssertGreaterThan(stats.framesDelivered, 0, "seed \(seed)")
            XCTAssertGreaterThan(stats.framesDroppedLate + stats.fragmentsLate, 0, "seed \(seed): the late rule was not exercised")
            // (Late single-fragment frames are left out: each late copy counts.)
            let closed = stats.framesDelivered + stats.framesDroppedIncomplete + stats.framesDroppedOverflow
                + stats.framesDroppedConflicting
            XCTAssertLessThanOrEqual(closed, outcome.arrived.count, "seed \(seed): more frames closed than began to arrive")
            XCTAssertEqual(stats.framesDroppedConflicting, 0, "seed \(seed): an honest sender never conflicts")
        }
    }
}
