import ParleyCrypto
import ParleyProtocol
import XCTest

/// Frames and fragments shared by the media tests (their seeded generator is ParleyTesting's
/// `Xoshiro256StarStar`).
enum MediaFixtures {
    /// Where every test's virtual clock starts.
    static let start = Timestamp(nanoseconds: 1_000_000_000)

    static func at(milliseconds: Int) -> Timestamp { start + .milliseconds(milliseconds) }

    /// `count` bytes that differ from frame to frame (`seed`) and from byte to byte.
    static func media(_ count: Int, seed: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed &* 131 &+ ($0 >> 8)) }
    }

    static func video(stream: UInt8 = 1, bytes: Int, seed: Int = 0, flags: MediaFlags = []) -> MediaFrame {
        MediaFrame(stream: stream, kind: .video, payloadType: 96, timestamp: UInt32(truncatingIfNeeded: seed &* 3000),
                   flags: flags, payload: media(bytes, seed: seed))
    }

    static func audio(stream: UInt8 = 0, bytes: Int = 80, seed: Int = 0) -> MediaFrame {
        MediaFrame(stream: stream, kind: .audio, payloadType: 111, timestamp: UInt32(truncatingIfNeeded: seed &* 960),
                   payload: media(bytes, seed: seed))
    }

    /// Packetizes `frame`, returning it with the sequence number assigned, and its fragments.
    static func fragments(_ frame: MediaFrame, with packetizer: inout MediaPacketizer,
                          file: StaticString = #filePath, line: UInt = #line) -> (frame: MediaFrame, fragments: [[UInt8]]) {
        var fragments: [[UInt8]] = []
        var sent = frame
        do {
            sent.sequence = try packetizer.packetize(frame) { fragments.append(Array($0)) }
        } catch {
            XCTFail("packetize refused \(frame): \(error)", file: file, line: line)
        }
        return (sent, fragments)
    }

    /// A packetizer with the default budget.
    static func packetizer(firstSequence: UInt16 = 0) -> MediaPacketizer {
        // The default budget is within the accepted range, so this cannot throw.
        try! MediaPacketizer(firstSequence: firstSequence)
    }
}

/// Feeds one fragment, failing the test if it is refused.
@discardableResult
func mediaFeed(_ reassembler: inout MediaReassembler, _ fragment: [UInt8], _ kind: MediaFrameKind, at now: Timestamp,
               file: StaticString = #filePath, line: UInt = #line) -> MediaFrame? {
    do {
        return try reassembler.receive(fragment, type: kind.frameType, now: now)
    } catch {
        XCTFail("fragment refused: \(error)", file: file, line: line)
        return nil
    }
}

/// Asserts that receiving `fragment` throws `expected` and changes nothing but the
/// malformed count.
func assertMediaRefused(_ expected: MediaError, _ fragment: [UInt8], type: FrameType = .video,
                        into reassembler: inout MediaReassembler, file: StaticString = #filePath, line: UInt = #line) {
    var expectedStats = reassembler.stats
    expectedStats.fragmentsMalformed += 1
    let partials = reassembler.partialFrameCount, buffered = reassembler.bufferedBytes
    do {
        let frame = try reassembler.receive(fragment, type: type, now: MediaFixtures.start)
        XCTFail("accepted (\(String(describing: frame))), expected \(expected)", file: file, line: line)
    } catch {
        XCTAssertEqual(error, expected, file: file, line: line)
        XCTAssertEqual(error.code, expected.code, file: file, line: line)
    }
    XCTAssertEqual(reassembler.stats, expectedStats, file: file, line: line)
    XCTAssertEqual(reassembler.partialFrameCount, partials, file: file, line: line)
    XCTAssertEqual(reassembler.bufferedBytes, buffered, file: file, line: line)
}
