import ParleyCrypto
import ParleyProtocol
import XCTest

/// The packet layouts of Signalling/spec-drafts/reliable.md, byte for byte.
final class ReliablePacketTests: XCTestCase {
    func testDataHeaderLayout() throws {
        var bytes = [UInt8](repeating: 0xee, count: 15)
        bytes.withUnsafeMutableBytes { ReliableDataHeader(packetNumber: 0x0102_0304_0506, offset: 0x0a0b_0c0d_0e0f, length: 3).encode(into: $0) }
        XCTAssertEqual(bytes, [1, 2, 3, 4, 5, 6, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0xee, 0xee, 0xee])
        let header = try bytes.withUnsafeBytes { try ReliableDataHeader.decode($0) }
        XCTAssertEqual(header, ReliableDataHeader(packetNumber: 0x0102_0304_0506, offset: 0x0a0b_0c0d_0e0f, length: 3))
        XCTAssertEqual(ReliableConstants.dataHeaderBytes, 12)
    }

    func testAckLayoutWithGaps() throws {
        // Received 10...12, 7...8 and 2: largest 12, ranges (0, 3), (1, 2), (4, 1).
        let ack = ReliableAckPacket(ackDelayMicroseconds: 0x0102_0304, receivedOffset: 0x99, windowLimit: 0x1_0000,
                                    ranges: [AckRange(low: 10, high: 12), AckRange(low: 7, high: 8), AckRange(low: 2, high: 2)])
        let bytes = ack.encoded()
        XCTAssertEqual(bytes, [0, 0, 0, 0, 0, 12, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0x99, 0, 0, 0, 1, 0, 0, 3,
                               0, 0, 0, 0, 0, 0, 0, 3,
                               0, 0, 0, 1, 0, 0, 0, 2,
                               0, 0, 0, 4, 0, 0, 0, 1])
        XCTAssertEqual(bytes.count, ReliableAckPacket.byteCount(rangeCount: 3))
        XCTAssertEqual(try bytes.withUnsafeBytes { try ReliableAckPacket.decode($0) }, ack)
        XCTAssertEqual(ack.largest, 12)
    }

    func testAckWithAdjacentRangesIsMalformed() {
        // Second range with gap 0 would touch the first: not canonical.
        var bytes = ReliableAckPacket(ackDelayMicroseconds: 0, receivedOffset: 0, windowLimit: 0,
                                      ranges: [AckRange(low: 10, high: 12), AckRange(low: 7, high: 8)]).encoded()
        bytes[34] = 0
        XCTAssertThrowsError(try bytes.withUnsafeBytes { try ReliableAckPacket.decode($0) }) {
            guard case .malformedPacket = $0 as? ReliableError else { return XCTFail("\($0)") }
        }
    }

    func testStreamingDigestMatchesOneShotBLAKE2b256() {
        let data = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let digest = StreamingDigest()
        var index = 0
        for piece in [1, 63, 64, 65, 1000, 98_807] {
            digest.update(Array(data[index..<index + piece]))
            index += piece
        }
        XCTAssertEqual(index, data.count)
        XCTAssertEqual(digest.finalize(), BLAKE2b.hash(data, outputCount: 32))
        XCTAssertEqual(StreamingDigest.digest([]), BLAKE2b.hash([], outputCount: 32))
    }
}
