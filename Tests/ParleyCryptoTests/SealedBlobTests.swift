@testable import ParleyCrypto
import XCTest

final class SealedBlobTests: CallTestCase {

    func testBlobRoundTripsAndPadsToBuckets() throws {
        let sealer = call.callerKeys.blobSealer
        let opener = call.calleeKeys.blobOpener
        for (contentCount, bucket) in [(0, 256), (251, 256), (252, 512), (3000, 4096), (SpecConstants.blobMaxContent, 32768)] {
            let content = (0..<contentCount).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            let wire = try sealer.seal(kind: 3, content: content)
            XCTAssertEqual(wire.count, SpecConstants.blobHeaderCount + bucket + 16, "content \(contentCount)")
            let blob = try opener.open(wire)
            XCTAssertEqual(blob.kind, 3)
            XCTAssertEqual(blob.content, content)
        }
    }

    func testSizesWithinABucketAreIndistinguishable() throws {
        let sealer = call.callerKeys.blobSealer
        XCTAssertEqual(try sealer.seal(kind: 1, content: [1]).count, try sealer.seal(kind: 1, content: [UInt8](repeating: 1, count: 200)).count)
    }

    func testOversizeContentIsRefusedBeforeSealing() throws {
        let sealer = call.callerKeys.blobSealer
        XCTAssertThrowsCryptoError(.tooLarge(limit: SpecConstants.blobMaxContent, actual: SpecConstants.blobMaxContent + 1),
                                   try sealer.seal(kind: 1, content: [UInt8](repeating: 0, count: SpecConstants.blobMaxContent + 1)))
    }

    func testReplayedBlobIsRejected() throws {
        let sealer = call.callerKeys.blobSealer
        let opener = call.calleeKeys.blobOpener
        let wire = try sealer.seal(kind: 1, content: Array("v=0".utf8))
        _ = try opener.open(wire)
        XCTAssertThrowsCryptoError(.replayed, try opener.open(wire))
    }

    func testReorderWithinWindowIsAcceptedAndBeyondItRejected() throws {
        let sealer = call.callerKeys.blobSealer
        let opener = call.calleeKeys.blobOpener
        let blobs = try (0..<70).map { try sealer.seal(kind: 3, content: [UInt8($0)]) }
        XCTAssertEqual(try opener.open(blobs[69]).content, [69])
        XCTAssertEqual(try opener.open(blobs[5]).content, [5], "64 behind the newest is inside the window")
        XCTAssertThrowsCryptoError(.replayed, try opener.open(blobs[4]), "65 behind is outside the window")
        XCTAssertEqual(try opener.open(blobs[30]).sequence, 30)
    }

    func testBlobFromAnotherCallIsRejected() throws {
        let other = try fixture.handshake(callerCode: nil, calleeCode: nil)
        defer { other.erase() }
        let wire = try other.callerKeys.blobSealer.seal(kind: 1, content: [1, 2, 3])
        XCTAssertThrowsCryptoError(.authenticationFailed, try call.calleeKeys.blobOpener.open(wire))
        // Same keys but another call ID in the associated data is also rejected.
        let sameKeyOtherCall = SealedBlobOpener(key: call.calleeKeys.signalReceive, callID: other.callerKeys.callID, direction: .caller)
        let honest = try call.callerKeys.blobSealer.seal(kind: 1, content: [1, 2, 3])
        XCTAssertThrowsCryptoError(.authenticationFailed, try sameKeyOtherCall.open(honest))
    }

    func testBlobReflectedBackToItsSenderIsRejected() throws {
        let wire = try call.callerKeys.blobSealer.seal(kind: 1, content: [1, 2, 3])
        XCTAssertThrowsCryptoError(.authenticationFailed, try call.callerKeys.blobOpener.open(wire))
    }

    func testEveryBitFlipAndTruncationIsRejected() throws {
        let sealer = call.callerKeys.blobSealer
        let wire = try sealer.seal(kind: 1, content: Array("a=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host".utf8))
        for position in 0..<wire.count {
            var flipped = wire
            flipped[position] ^= 0x01
            XCTAssertThrowsError(try call.calleeKeys.blobOpener.open(flipped), "bit flip at \(position) accepted")
        }
        for cut in [1, 16, 17, 100, wire.count - 1] {
            XCTAssertThrowsError(try call.calleeKeys.blobOpener.open(Array(wire.prefix(wire.count - cut))), "truncation by \(cut)")
        }
        XCTAssertThrowsError(try call.calleeKeys.blobOpener.open([]))
        XCTAssertThrowsCryptoError(.unsupportedVersion(9), try call.calleeKeys.blobOpener.open([9] + wire.dropFirst()))
        XCTAssertThrowsCryptoError(.tooLarge(limit: SealedBlob.maxWireCount, actual: SealedBlob.maxWireCount + 1),
                                   try call.calleeKeys.blobOpener.open([UInt8](repeating: 1, count: SealedBlob.maxWireCount + 1)))
    }

    func testRejectedBlobDoesNotConsumeItsSequenceNumber() throws {
        // A forged blob with sequence 0 must not block the genuine blob 0.
        let sealer = call.callerKeys.blobSealer
        let opener = call.calleeKeys.blobOpener
        let wire = try sealer.seal(kind: 1, content: [1])
        var forged = wire
        forged[forged.count - 1] ^= 0xff
        XCTAssertThrowsCryptoError(.authenticationFailed, try opener.open(forged))
        XCTAssertEqual(try opener.open(wire).content, [1])
    }

    func testErasedKeysCannotSealOrOpen() throws {
        let sealer = call.callerKeys.blobSealer
        let wire = try sealer.seal(kind: 1, content: [1])
        call.erase()
        XCTAssertThrowsCryptoError(.secretErased, try sealer.seal(kind: 1, content: [1]))
        XCTAssertThrowsCryptoError(.secretErased, try call.calleeKeys.blobOpener.open(wire))
    }
}
