import ParleyCrypto
import ParleyProtocol
import XCTest

/// The receiver rules of spec-drafts/media.md on a virtual clock: duplicates, the
/// reassembly deadline, conflicts, the late rule and the memory bounds.
final class MediaReassemblyRulesTests: XCTestCase {
    private var packetizer = MediaFixtures.packetizer()
    private var reassembler = MediaReassembler()

    private func send(_ frame: MediaFrame) -> (frame: MediaFrame, fragments: [[UInt8]]) {
        MediaFixtures.fragments(frame, with: &packetizer)
    }

    /// Feeds fragments at `now` and returns the frames they complete.
    private func feed(_ fragments: [[UInt8]], _ kind: MediaFrameKind = .video, at now: Timestamp = MediaFixtures.start,
                      file: StaticString = #filePath, line: UInt = #line) -> [MediaFrame] {
        fragments.compactMap { mediaFeed(&reassembler, $0, kind, at: now, file: file, line: line) }
    }

    // MARK: Duplicates

    func testDuplicateFragmentsAreIgnoredAndTheFrameIsDeliveredOnce() {
        let (sent, fragments) = send(MediaFixtures.video(bytes: 4000, seed: 1))
        XCTAssertEqual(fragments.count, 4)
        let doubled = fragments.flatMap { [$0, $0] }
        XCTAssertEqual(feed(doubled), [sent])
        // Every copy after the first, and every fragment after delivery, is a duplicate.
        XCTAssertEqual(feed(fragments), [])
        XCTAssertEqual(reassembler.stats.fragmentsDuplicate, 4 + 4, "4 second copies, then 4 fragments after delivery")
        XCTAssertEqual(reassembler.stats.framesDelivered, 1)
        XCTAssertEqual(reassembler.partialFrameCount, 0, "a fragment of a delivered frame must not start a new one")
    }

    func testDuplicateAudioFrameIsNotDeliveredTwice() {
        let (sent, fragments) = send(MediaFixtures.audio(seed: 4))
        XCTAssertEqual(feed(fragments + fragments, .audio), [sent])
        XCTAssertEqual(reassembler.stats.fragmentsDuplicate, 1)
    }

    // MARK: Deadline

    func testFrameMissingOneFragmentIsNeverDeliveredAndIsDroppedAtItsDeadline() {
        let (_, fragments) = send(MediaFixtures.video(bytes: 10_000, seed: 2))
        let missing = 4
        for (index, fragment) in fragments.enumerated() where index != missing {
            XCTAssertNil(mediaFeed(&reassembler, fragment, .video, at: MediaFixtures.at(milliseconds: index)))
        }
        let lastArrival = MediaFixtures.at(milliseconds: fragments.count - 1)
        XCTAssertEqual(reassembler.nextDeadline, lastArrival + MediaLimits.reassemblyIdleTimeout)
        XCTAssertEqual(reassembler.bufferedBytes, 10_000)

        reassembler.handleTimeout(now: lastArrival + .milliseconds(149))
        XCTAssertEqual(reassembler.partialFrameCount, 1, "dropped before its deadline")
        reassembler.handleTimeout(now: lastArrival + .milliseconds(150))
        XCTAssertEqual(reassembler.partialFrameCount, 0)
        XCTAssertEqual(reassembler.bufferedBytes, 0)
        XCTAssertNil(reassembler.nextDeadline)
        XCTAssertEqual(reassembler.stats.framesDroppedIncomplete, 1)

        // The missing fragment arriving afterwards completes nothing and starts nothing.
        XCTAssertNil(mediaFeed(&reassembler, fragments[missing], .video, at: lastArrival + .milliseconds(200)))
        XCTAssertEqual(reassembler.partialFrameCount, 0)
        XCTAssertEqual(reassembler.stats.framesDelivered, 0)
        XCTAssertEqual(reassembler.stats.fragmentsDuplicate, 1)
    }

    func testReceiveDropsExpiredFramesEvenWithoutHandleTimeout() {
        let (_, fragments) = send(MediaFixtures.video(bytes: 3000, seed: 3))
        XCTAssertNil(mediaFeed(&reassembler, fragments[0], .video, at: MediaFixtures.start))
        XCTAssertNil(mediaFeed(&reassembler, fragments[1], .video, at: MediaFixtures.at(milliseconds: 150)))
        XCTAssertNil(mediaFeed(&reassembler, fragments[2], .video, at: MediaFixtures.at(milliseconds: 150)))
        XCTAssertEqual(reassembler.stats.framesDroppedIncomplete, 1)
        XCTAssertEqual(reassembler.stats.framesDelivered, 0)
    }

    func testSlowFrameLivesWhileFragmentsKeepComingButNotPastTheMaximumTime() {
        let (sent, fragments) = send(MediaFixtures.video(bytes: 20_000, seed: 5))
        XCTAssertEqual(fragments.count, 18)
        // One fragment every 100 ms: each extends the idle deadline, up to 1 s after the first.
        for index in 0..<10 {
            XCTAssertNil(mediaFeed(&reassembler, fragments[index], .video, at: MediaFixtures.at(milliseconds: 100 * index)))
        }
        XCTAssertEqual(reassembler.nextDeadline, MediaFixtures.at(milliseconds: 1000), "capped at the maximum reassembly time")
        XCTAssertNil(mediaFeed(&reassembler, fragments[10], .video, at: MediaFixtures.at(milliseconds: 1000)))
        XCTAssertEqual(reassembler.stats.framesDroppedIncomplete, 1)

        // The same pace with a frame small enough to finish in time is delivered.
        let (small, smallFragments) = send(MediaFixtures.video(bytes: 8000, seed: 6))
        var delivered: [MediaFrame] = []
        for (index, fragment) in smallFragments.enumerated() {
            if let frame = mediaFeed(&reassembler, fragment, .video, at: MediaFixtures.at(milliseconds: 2000 + 100 * index)) {
                delivered.append(frame)
            }
        }
        XCTAssertEqual(delivered, [small])
        XCTAssertNotEqual(sent.sequence, small.sequence)
    }

    // MARK: Conflicts

    func testConflictingFragmentsNeverProduceAFrame() {
        var conflicts: [(String, MediaFrame)] = []
        let base = MediaFixtures.video(bytes: 3000, seed: 9)
        var other = base; other.payloadType = 97; conflicts.append(("payload type", other))
        other = base; other.timestamp += 1; conflicts.append(("timestamp", other))
        other = base; other.flags = .keyframe; conflicts.append(("flags", other))
        other = base; other.payload = MediaFixtures.media(3001, seed: 9); conflicts.append(("total length", other))
        other = base; other.payload = MediaFixtures.media(2000, seed: 9); conflicts.append(("fragment count", other))
        other = base; other.payload = MediaFixtures.media(100, seed: 9); conflicts.append(("single fragment", other))

        for (number, (what, impostor)) in conflicts.enumerated() {
            // Two packetizers that both number their next frame `number`.
            var honest = MediaFixtures.packetizer(firstSequence: UInt16(number * 100))
            var forger = MediaFixtures.packetizer(firstSequence: UInt16(number * 100))
            let genuine = MediaFixtures.fragments(base, with: &honest).fragments
            let forged = MediaFixtures.fragments(impostor, with: &forger).fragments
            let before = reassembler.stats
            let delivered = feed([genuine[0], forged[forged.count - 1]] + genuine.dropFirst())
            XCTAssertEqual(delivered, [], "\(what): a frame from mixed fragments")
            XCTAssertEqual(reassembler.stats.framesDroppedConflicting, before.framesDroppedConflicting + 1, what)
            XCTAssertEqual(reassembler.stats.fragmentsDuplicate, before.fragmentsDuplicate + genuine.count - 1,
                           "\(what): the rest of the frame is refused")
            XCTAssertEqual(reassembler.partialFrameCount, 0, what)
            XCTAssertEqual(reassembler.bufferedBytes, 0, what)
        }
        XCTAssertEqual(reassembler.stats.framesDelivered, 0)
    }

    func testStreamKeepsTheKindOfItsFirstFrame() {
        let (_, video) = send(MediaFixtures.video(stream: 3, bytes: 100, seed: 1))
        XCTAssertEqual(feed(video).count, 1)
        var audio = video[0]
        audio[2] = 0; audio[3] = 9
        assertMediaRefused(.streamKindMismatch(stream: 3, established: .video, actual: .audio), audio, type: .audio,
                           into: &reassembler)
    }

    // MARK: Late rule

    func testFramesUpTo32BehindAreDeliveredOutOfOrderAndOlderOnesAreLate() {
        var packetizer = MediaFixtures.packetizer()
        let frames = (0...40).map { MediaFixtures.fragments(MediaFixtures.audio(seed: $0), with: &packetizer) }
        XCTAssertEqual(feed(frames[40].fragments, .audio), [frames[40].frame])
        XCTAssertEqual(feed(frames[39].fragments, .audio), [frames[39].frame], "one behind")
        XCTAssertEqual(feed(frames[8].fragments, .audio), [frames[8].frame], "32 behind")
        XCTAssertEqual(feed(frames[7].fragments, .audio), [], "33 behind")
        XCTAssertEqual(reassembler.stats.framesDroppedLate, 1)
        XCTAssertEqual(reassembler.stats.fragmentsLate, 1)
    }

    func testPartialFramesOfAStreamThatMovedOnAreDroppedAsLate() {
        var packetizer = MediaFixtures.packetizer()
        let frames = (0...33).map { MediaFixtures.fragments(MediaFixtures.video(bytes: 2000, seed: $0), with: &packetizer) }
        XCTAssertEqual(feed([frames[0].fragments[0], frames[1].fragments[0]]), [])
        XCTAssertEqual(reassembler.partialFrameCount, 2)
        XCTAssertEqual(feed(frames[33].fragments), [frames[33].frame])
        XCTAssertEqual(reassembler.stats.framesDroppedLate, 1, "frame 0 is 33 behind; frame 1 (32 behind) may still complete")
        XCTAssertEqual(feed([frames[0].fragments[1]]), [])
        XCTAssertEqual(reassembler.stats.fragmentsLate, 1)
        XCTAssertEqual(feed([frames[1].fragments[1]]), [frames[1].frame])
        XCTAssertEqual(reassembler.bufferedBytes, 0)
    }

    func testSequenceFarBehindIsReadAsAJumpAheadAfterALongLoss() {
        var packetizer = MediaFixtures.packetizer(firstSequence: 100)
        let first = MediaFixtures.fragments(MediaFixtures.audio(seed: 1), with: &packetizer)
        XCTAssertEqual(feed(first.fragments, .audio), [first.frame])
        // 56536 frames later (all lost), the sequence reads as 9000 behind: beyond the
        // horizon of 8192, so it is taken as ahead, and the stream goes on.
        var later = MediaFixtures.packetizer(firstSequence: 100 &- 9000)
        let resumed = (0..<3).map { MediaFixtures.fragments(MediaFixtures.audio(seed: $0), with: &later) }
        XCTAssertEqual(resumed.flatMap { feed($0.fragments, .audio) }, resumed.map(\.frame))
        // 8192 behind the newest is still inside the horizon: late.
        var old = MediaFixtures.packetizer(firstSequence: resumed[2].frame.sequence &- 8192)
        XCTAssertEqual(feed(MediaFixtures.fragments(MediaFixtures.audio(seed: 9), with: &old).fragments, .audio), [])
        XCTAssertEqual(reassembler.stats.framesDroppedLate, 1)
    }

    // MARK: Bounds

    func testNinthPartialFrameOfAStreamDropsItsOldest() {
        let frames = (0..<9).map { send(MediaFixtures.video(bytes: 2000, seed: $0)) }
        for (index, frame) in frames.enumerated() {
            XCTAssertNil(mediaFeed(&reassembler, frame.fragments[0], .video, at: MediaFixtures.at(milliseconds: index)))
            XCTAssertLessThanOrEqual(reassembler.partialFrameCount, MediaLimits.maxPartialFramesPerStream)
        }
        XCTAssertEqual(reassembler.stats.framesDroppedOverflow, 1)
        XCTAssertEqual(feed([frames[0].fragments[1]]), [], "the oldest was dropped")
        XCTAssertEqual(feed([frames[1].fragments[1]]), [frames[1].frame], "the second oldest was kept")
    }

    func testPartialFramesAcrossStreamsAreCappedOldestFirst() {
        var packetizer = MediaFixtures.packetizer()
        var firstFrame: (frame: MediaFrame, fragments: [[UInt8]])?
        for stream in 0..<8 {
            for seed in 0..<8 {
                let frame = MediaFixtures.fragments(MediaFixtures.video(stream: UInt8(stream), bytes: 2000, seed: seed), with: &packetizer)
                if firstFrame == nil { firstFrame = frame }
                XCTAssertNil(mediaFeed(&reassembler, frame.fragments[0], .video, at: MediaFixtures.start))
            }
        }
        XCTAssertEqual(reassembler.partialFrameCount, MediaLimits.maxPartialFrames)
        let extra = MediaFixtures.fragments(MediaFixtures.video(stream: 8, bytes: 2000, seed: 0), with: &packetizer)
        XCTAssertNil(mediaFeed(&reassembler, extra.fragments[0], .video, at: MediaFixtures.start))
        XCTAssertEqual(reassembler.partialFrameCount, MediaLimits.maxPartialFrames)
        XCTAssertEqual(reassembler.stats.framesDroppedOverflow, 1)
        // firstFrame is not nil: the loops ran.
        XCTAssertEqual(feed([firstFrame!.fragments[1]]), [], "stream 0's first frame was the oldest")
        XCTAssertEqual(feed([extra.fragments[1]]), [extra.frame])
    }

    func testBufferedBytesNeverExceedTheLimitAndTheOldestFrameGoesFirst() {
        var packetizer = MediaFixtures.packetizer()
        let frames = (0..<6).map {
            MediaFixtures.fragments(MediaFixtures.video(stream: UInt8($0), bytes: MediaLimits.maxVideoFrameBytes, seed: $0),
                                    with: &packetizer)
        }
        for frame in frames {
            XCTAssertNil(mediaFeed(&reassembler, frame.fragments[0], .video, at: MediaFixtures.start))
            XCTAssertLessThanOrEqual(reassembler.bufferedBytes, MediaLimits.maxBufferedBytes)
        }
        XCTAssertEqual(reassembler.partialFrameCount, 4, "4 MiB holds four 1 MiB frames")
        XCTAssertEqual(reassembler.stats.framesDroppedOverflow, 2)
        XCTAssertEqual(feed(Array(frames[0].fragments.dropFirst() + frames[1].fragments.dropFirst())), [], "streams 0 and 1 went first")
        XCTAssertEqual(feed(Array(frames[5].fragments.dropFirst())), [frames[5].frame])
        XCTAssertEqual(reassembler.bufferedBytes, 3 * MediaLimits.maxVideoFrameBytes)
    }
}
