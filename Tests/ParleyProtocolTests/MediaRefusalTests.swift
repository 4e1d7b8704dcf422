import ParleyCrypto
import ParleyProtocol
import XCTest

/// Every malformed fragment gets its own MediaError and changes nothing but the
/// malformed count; every frame the packetizer cannot send is refused before it is
/// numbered.
final class MediaRefusalTests: XCTestCase {
    /// A valid fragment: index 1 of 3 of a 3000-byte video frame (fragment size 1000).
    private func fragment(totalLength: Int = 3000, index: Int = 1, count: Int = 3, media: Int = 1000,
                          first: UInt8 = 0x81, second: UInt8 = 96) -> [UInt8] {
        [first, second, 0, 7, 0, 0, 0x11, 0x22,
         UInt8(totalLength >> 16 & 0xff), UInt8(totalLength >> 8 & 0xff), UInt8(totalLength & 0xff),
         UInt8(index >> 8), UInt8(index & 0xff), UInt8(count >> 8), UInt8(count & 0xff)]
            + [UInt8](repeating: 0x5a, count: media)
    }

    func testTheValidFragmentOfTheseTestsIsAccepted() {
        var reassembler = MediaReassembler()
        XCTAssertNil(mediaFeed(&reassembler, fragment(), .video, at: MediaFixtures.start))
        XCTAssertEqual(reassembler.partialFrameCount, 1)
        XCTAssertEqual(reassembler.stats.fragmentsMalformed, 0)
    }

    func testMalformedFragmentsEachGiveTheirErrorAndChangeNothing() {
        var reassembler = MediaReassembler()
        let audio = [UInt8](repeating: 0, count: 8)
        assertMediaRefused(.notMediaFrameType(3), audio, type: .messageData, into: &reassembler)
        assertMediaRefused(.notMediaFrameType(5), audio, type: .control, into: &reassembler)
        assertMediaRefused(.truncatedHeader(needed: 8, actual: 0), [], into: &reassembler)
        assertMediaRefused(.truncatedHeader(needed: 8, actual: 7), Array(audio.prefix(7)), into: &reassembler)
        assertMediaRefused(.reservedBitSet, [0x01, 0x80 | 96] + audio.dropFirst(2), into: &reassembler)
        assertMediaRefused(.truncatedHeader(needed: 15, actual: 14), Array(fragment().prefix(14)), into: &reassembler)
        assertMediaRefused(.invalidFragmentCount(1), fragment(totalLength: 1000, index: 0, count: 1), into: &reassembler)
        assertMediaRefused(.invalidFragmentCount(0), fragment(index: 0, count: 0), into: &reassembler)
        assertMediaRefused(.invalidFragmentCount(1025), fragment(totalLength: 1025, index: 0, count: 1025, media: 1),
                           into: &reassembler)
        assertMediaRefused(.invalidFragmentIndex(index: 3, count: 3), fragment(index: 3), into: &reassembler)
        assertMediaRefused(.invalidFragmentIndex(index: 65535, count: 3), fragment(index: 65535), into: &reassembler)
        assertMediaRefused(.frameTooLarge(kind: .video, limit: 1 << 20, actual: (1 << 20) + 1),
                           fragment(totalLength: (1 << 20) + 1), into: &reassembler)
        assertMediaRefused(.frameTooLarge(kind: .video, limit: 1 << 20, actual: (1 << 24) - 1),
                           fragment(totalLength: (1 << 24) - 1), into: &reassembler)
        assertMediaRefused(.frameTooLarge(kind: .audio, limit: 8192, actual: 8193),
                           fragment(totalLength: 8193, first: 0x80), type: .audio, into: &reassembler)
        assertMediaRefused(.frameTooLarge(kind: .audio, limit: 8192, actual: 8193),
                           [0x00, 111] + audio.dropFirst(2) + [UInt8](repeating: 1, count: 8193), type: .audio, into: &reassembler)
        // 9 bytes in 4 fragments: size ceil(9/4) = 3 leaves nothing for the last one.
        assertMediaRefused(.invalidFrameLayout(totalLength: 9, fragmentCount: 4), fragment(totalLength: 9, index: 0, count: 4, media: 3),
                           into: &reassembler)
        assertMediaRefused(.invalidFrameLayout(totalLength: 0, fragmentCount: 2), fragment(totalLength: 0, index: 0, count: 2, media: 0),
                           into: &reassembler)
        assertMediaRefused(.invalidFrameLayout(totalLength: 2, fragmentCount: 3), fragment(totalLength: 2, index: 0, count: 3, media: 1),
                           into: &reassembler)
        assertMediaRefused(.fragmentLengthMismatch(index: 1, expected: 1000, actual: 999), fragment(media: 999), into: &reassembler)
        assertMediaRefused(.fragmentLengthMismatch(index: 1, expected: 1000, actual: 1001), fragment(media: 1001), into: &reassembler)
        assertMediaRefused(.fragmentLengthMismatch(index: 2, expected: 998, actual: 1000),
                           fragment(totalLength: 2998, index: 2), into: &reassembler)
        assertMediaRefused(.fragmentTooLarge(limit: 16384, actual: 16385),
                           fragment(totalLength: 40_000, index: 0, count: 3, media: 16370), into: &reassembler)
        XCTAssertEqual(reassembler.stats.fragmentsMalformed, 22)

        // Still working: a valid frame goes through.
        var packetizer = MediaFixtures.packetizer()
        let (sent, fragments) = MediaFixtures.fragments(MediaFixtures.video(bytes: 5000), with: &packetizer)
        XCTAssertEqual(fragments.compactMap { mediaFeed(&reassembler, $0, .video, at: MediaFixtures.start) }, [sent])
    }

    func testErrorCodesAreStableAndUniqueWithinTheMediaRange() {
        let errors: [MediaError] = [
            .notMediaFrameType(0), .truncatedHeader(needed: 8, actual: 0), .reservedBitSet, .invalidFragmentCount(0),
            .invalidFragmentIndex(index: 0, count: 0), .invalidFrameLayout(totalLength: 0, fragmentCount: 0),
            .fragmentLengthMismatch(index: 0, expected: 0, actual: 0), .fragmentTooLarge(limit: 0, actual: 0),
            .frameTooLarge(kind: .audio, limit: 0, actual: 0), .streamOutOfRange(0), .payloadTypeOutOfRange(0),
            .streamKindMismatch(stream: 0, established: .audio, actual: .video),
            .packetBudgetOutOfRange(budget: 0, minimum: 0, maximum: 0), .tooManyFragments(needed: 0, limit: 0),
        ]
        XCTAssertEqual(errors.map(\.code), Array(6001...6014))
        XCTAssertTrue(errors.allSatisfy { !$0.description.isEmpty })
    }

    func testPacketizerRefusesBudgetsOutsideItsRange() {
        for budget in [0, 15, 16385] {
            XCTAssertThrowsError(try MediaPacketizer(maxPacketPayload: budget)) {
                XCTAssertEqual($0 as? MediaError, .packetBudgetOutOfRange(budget: budget, minimum: 16, maximum: 16384))
            }
        }
        XCTAssertNoThrow(try MediaPacketizer(maxPacketPayload: 16))
        XCTAssertNoThrow(try MediaPacketizer(maxPacketPayload: 16384))
        XCTAssertEqual(MediaLimits.defaultMaxPacketPayload, 1176)
    }

    func testPacketizerRefusesUnsendableFramesWithoutNumberingThem() throws {
        var packetizer = MediaFixtures.packetizer()
        var refused: [(MediaFrame, MediaError)] = []
        var frame = MediaFixtures.audio(stream: 32)
        refused.append((frame, .streamOutOfRange(32)))
        frame = MediaFixtures.audio(); frame.payloadType = 128
        refused.append((frame, .payloadTypeOutOfRange(128)))
        refused.append((MediaFixtures.audio(bytes: 8193), .frameTooLarge(kind: .audio, limit: 8192, actual: 8193)))
        refused.append((MediaFixtures.video(bytes: (1 << 20) + 1), .frameTooLarge(kind: .video, limit: 1 << 20, actual: (1 << 20) + 1)))
        for (frame, expected) in refused {
            XCTAssertThrowsError(try packetizer.plan(frame)) { XCTAssertEqual($0 as? MediaError, expected) }
        }
        XCTAssertEqual(try packetizer.plan(MediaFixtures.audio(stream: 0)).sequence, 0)
        XCTAssertThrowsError(try packetizer.plan(MediaFixtures.video(stream: 0, bytes: 10))) {
            XCTAssertEqual($0 as? MediaError, .streamKindMismatch(stream: 0, established: .audio, actual: .video))
        }
        XCTAssertEqual(try packetizer.plan(MediaFixtures.audio(stream: 0)).sequence, 1)

        var tiny = try MediaPacketizer(maxPacketPayload: 16)
        XCTAssertThrowsError(try tiny.plan(MediaFixtures.video(bytes: 1025))) {
            XCTAssertEqual($0 as? MediaError, .tooManyFragments(needed: 1025, limit: 1024))
        }
        XCTAssertEqual(try tiny.plan(MediaFixtures.video(bytes: 1024)).count, 1024)
        XCTAssertEqual(try tiny.plan(MediaFixtures.video(bytes: 1024)).sequence, 1, "only the accepted frame was numbered")
    }
}
