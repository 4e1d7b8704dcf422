import ParleyCrypto
import ParleyProtocol
import ParleyTesting
import XCTest

/// Frames go through MediaPacketizer and come back whole and byte-exact from
/// MediaReassembler, in any fragment order, with the header laid out as the spec says.
final class MediaRoundTripTests: XCTestCase {
    func testAudioFrameTravelsAsOneFragmentWithAnEightByteHeader() {
        var packetizer = MediaFixtures.packetizer()
        let frame = MediaFrame(stream: 0, kind: .audio, payloadType: 111, timestamp: 960, flags: .marker,
                               payload: MediaFixtures.media(80, seed: 1))
        let (sent, fragments) = MediaFixtures.fragments(frame, with: &packetizer)
        XCTAssertEqual(fragments.count, 1)
        XCTAssertEqual(fragments[0].count, 8 + 80, "overhead of an audio frame is 8 bytes (plus 24 for the frame layer)")
        XCTAssertEqual(Array(fragments[0].prefix(8)), [0x20, 0x6f, 0x00, 0x00, 0x00, 0x00, 0x03, 0xc0],
                       "F=0 K=0 M=1 stream 0 | pt 111 | seq 0 | ts 960")
        XCTAssertEqual(Array(fragments[0].dropFirst(8)), frame.payload)

        var reassembler = MediaReassembler()
        let received = mediaFeed(&reassembler, fragments[0], .audio, at: MediaFixtures.start)
        XCTAssertEqual(received, sent)
        XCTAssertEqual(received?.sequence, 0)
        XCTAssertEqual(reassembler.stats.framesDelivered, 1)
        XCTAssertEqual(reassembler.stats.bytesDelivered, 80)
        XCTAssertNil(reassembler.nextDeadline, "a whole frame leaves nothing to wait for")
    }

    func testEmptyAudioFrameRoundTrips() {
        var packetizer = MediaFixtures.packetizer()
        let (sent, fragments) = MediaFixtures.fragments(MediaFixtures.audio(bytes: 0), with: &packetizer)
        XCTAssertEqual(fragments.map(\.count), [8])
        var reassembler = MediaReassembler()
        XCTAssertEqual(mediaFeed(&reassembler, fragments[0], .audio, at: MediaFixtures.start), sent)
    }

    func testVideoFrameOf100KBIsDeliveredOnceByteExactFromShuffledFragments() {
        var packetizer = MediaFixtures.packetizer()
        let (sent, fragments) = MediaFixtures.fragments(MediaFixtures.video(bytes: 100_000, seed: 7, flags: [.keyframe, .marker]),
                                                        with: &packetizer)
        XCTAssertEqual(fragments.count, 87, "ceil(100000 / (1176 - 15)) fragments")
        XCTAssertTrue(fragments.allSatisfy { $0.count <= MediaLimits.defaultMaxPacketPayload })
        XCTAssertEqual(Array(fragments[0].prefix(15)),
                       [0xc1 | 0x20, 96, 0, 0, 0, 0, 0x52, 0x08, 0x01, 0x86, 0xa0, 0, 0, 0, 87],
                       "F=1 K=1 M=1 stream 1 | pt 96 | seq 0 | ts 21000 | total 100000 | index 0 | count 87")

        var random = Xoshiro256StarStar(seed: 0x6d65_6469_6101)
        var reassembler = MediaReassembler()
        var delivered: [MediaFrame] = []
        for (step, fragment) in fragments.shuffled(using: &random).enumerated() {
            if let frame = mediaFeed(&reassembler, fragment, .video, at: MediaFixtures.at(milliseconds: step)) {
                delivered.append(frame)
                XCTAssertEqual(step, fragments.count - 1, "delivered before the last fragment arrived")
            }
        }
        XCTAssertEqual(delivered, [sent])
        XCTAssertEqual(reassembler.bufferedBytes, 0)
        XCTAssertEqual(reassembler.partialFrameCount, 0)
        XCTAssertEqual(reassembler.stats.fragmentsReceived, 87)
        XCTAssertEqual(reassembler.stats.bytesDelivered, 100_000)
    }

    func testFragmentsFitTheBudgetAreEvenAndParseBackForEverySize() throws {
        for budget in [16, 17, 40, 300, MediaLimits.defaultMaxPacketPayload] {
            var packetizer = try MediaPacketizer(maxPacketPayload: budget)
            for total in [0, 1, 2, 7, 8, 9, 23, 24, 25, 26, 100, 299, 1000, 4099, 8192] {
                let frame = MediaFixtures.audio(bytes: total, seed: total)
                let fewest = total + 8 <= budget ? 1 : (total + budget - 15 - 1) / (budget - 15)
                guard fewest <= MediaLimits.maxFragments else {
                    XCTAssertThrowsError(try packetizer.plan(frame)) {
                        XCTAssertEqual($0 as? MediaError, .tooManyFragments(needed: fewest, limit: MediaLimits.maxFragments))
                    }
                    continue
                }
                let plan = try packetizer.plan(frame)
                XCTAssertEqual(plan.count, fewest, "budget \(budget), \(total) bytes: fewest fragments")
                var rebuilt: [UInt8] = []
                var sizes: [Int] = []
                var buffer = [UInt8](repeating: 0, count: budget)
                for index in 0..<plan.count {
                    let written = buffer.withUnsafeMutableBytes { plan.write(fragment: index, into: $0) }
                    XCTAssertLessThanOrEqual(written, budget)
                    XCTAssertEqual(written, plan.byteCount(ofFragment: index))
                    let header = try buffer.withUnsafeBytes {
                        try MediaFragmentHeader.parse(UnsafeRawBufferPointer(rebasing: $0[0..<written]), kind: .audio)
                    }
                    XCTAssertEqual(header, plan.header(ofFragment: index))
                    rebuilt += buffer[header.byteCount..<written]
                    sizes.append(written - header.byteCount)
                }
                XCTAssertEqual(rebuilt, frame.payload, "budget \(budget), \(total) bytes")
                XCTAssertTrue(sizes.allSatisfy { $0 > 0 } || total == 0, "an empty fragment: \(sizes)")
                XCTAssertEqual(Set(sizes.dropLast()).count <= 1, true, "uneven fragments: \(sizes)")
                XCTAssertLessThanOrEqual(sizes.last ?? 0, sizes.first ?? 0)
            }
        }
    }

    func testLargestVideoFrameFitsTheFragmentLimitAtTheDefaultBudget() {
        var packetizer = MediaFixtures.packetizer()
        let (sent, fragments) = MediaFixtures.fragments(MediaFixtures.video(bytes: MediaLimits.maxVideoFrameBytes, seed: 3),
                                                        with: &packetizer)
        XCTAssertEqual(fragments.count, 904)
        var reassembler = MediaReassembler()
        var delivered: [MediaFrame] = []
        for fragment in fragments.reversed() {
            if let frame = mediaFeed(&reassembler, fragment, .video, at: MediaFixtures.start) { delivered.append(frame) }
        }
        XCTAssertEqual(delivered, [sent])
    }

    func testSequenceNumbersCountPerStreamFromTheFirstSequence() {
        var packetizer = MediaFixtures.packetizer(firstSequence: 500)
        var sequences: [UInt8: [UInt16]] = [:]
        for (index, stream) in [0, 0, 2, 0, 2, 5].enumerated() {
            let frame = MediaFixtures.audio(stream: UInt8(stream), seed: index)
            sequences[UInt8(stream), default: []].append(MediaFixtures.fragments(frame, with: &packetizer).frame.sequence)
        }
        XCTAssertEqual(sequences, [0: [500, 501, 502], 2: [500, 501], 5: [500]])
    }

    func testSequenceWrapsAroundWithoutLosingOrRepeatingFrames() {
        var packetizer = MediaFixtures.packetizer(firstSequence: 65_530)
        let sent = (0..<12).map { MediaFixtures.fragments(MediaFixtures.video(bytes: 3000, seed: $0), with: &packetizer) }
        XCTAssertEqual(sent.map(\.frame.sequence), [65_530, 65_531, 65_532, 65_533, 65_534, 65_535, 0, 1, 2, 3, 4, 5])

        // 0 completes before 65535: 65535 is one behind across the wrap, still delivered.
        let order = [0, 1, 2, 3, 4, 6, 5, 7, 8, 9, 10, 11]
        var reassembler = MediaReassembler()
        var delivered: [MediaFrame] = []
        for index in order {
            for fragment in sent[index].fragments {
                if let frame = mediaFeed(&reassembler, fragment, .video, at: MediaFixtures.start) { delivered.append(frame) }
            }
        }
        XCTAssertEqual(delivered, order.map { sent[$0].frame })
        XCTAssertEqual(reassembler.stats.framesDroppedLate, 0)

        // A repeat of 65535 after the wrap is a duplicate, not a new frame.
        mediaFeed(&reassembler, sent[5].fragments[0], .video, at: MediaFixtures.start)
        XCTAssertEqual(reassembler.stats.fragmentsDuplicate, 1)
        XCTAssertEqual(reassembler.partialFrameCount, 0)
    }

    func testStreamsWithTheSameSequenceNumbersReassembleIndependently() {
        var packetizer = MediaFixtures.packetizer()
        let first = MediaFixtures.fragments(MediaFixtures.video(stream: 1, bytes: 5000, seed: 1), with: &packetizer)
        let second = MediaFixtures.fragments(MediaFixtures.video(stream: 2, bytes: 5000, seed: 2), with: &packetizer)
        XCTAssertEqual(first.frame.sequence, second.frame.sequence)
        var reassembler = MediaReassembler()
        var delivered: [MediaFrame] = []
        for (a, b) in zip(first.fragments, second.fragments) {
            for fragment in [a, b] {
                if let frame = mediaFeed(&reassembler, fragment, .video, at: MediaFixtures.start) { delivered.append(frame) }
            }
        }
        XCTAssertEqual(delivered, [first.frame, second.frame])
        XCTAssertEqual(reassembler.stats.framesDroppedConflicting, 0)
    }

    func testFrameDescriptionShowsMetadataButNoPayloadBytes() {
        let frame = MediaFrame(stream: 1, kind: .video, payloadType: 96, sequence: 9, timestamp: 90_000, flags: .keyframe,
                               payload: [0xde, 0xad, 0xbe, 0xef])
        XCTAssertEqual(frame.description, "MediaFrame(video stream 1, pt 96, seq 9, ts 90000, keyframe, 4 bytes)")
    }
}
