@testable import ParleyCrypto
import XCTest

final class FrameTests: CallTestCase {
    private let t0 = Timestamp(nanoseconds: 1_000_000_000)
    override var securityCode: String? { "77" }

    func testFrameRoundTripsWithTwentyFourBytesOfOverhead() throws {
        let sealer = call.callerKeys.frameSealer
        let opener = call.calleeKeys.frameOpener
        let payload = (0..<1200).map { UInt8(truncatingIfNeeded: $0) }
        let packet = try sealer.seal(type: 1, payload: payload, now: t0)
        XCTAssertEqual(packet.count, payload.count + 24)
        XCTAssertEqual(SpecConstants.frameOverhead, 24)
        let (header, opened) = try opener.open(packet, now: t0)
        XCTAssertEqual(header, FrameHeader(keyPhase: false, type: 1, counter: 0))
        XCTAssertEqual(opened, payload)
        XCTAssertEqual(try opener.open(sealer.seal(type: 31, payload: [], now: t0), now: t0).payload, [])
    }

    func testFrameMatchesTheSpecifiedNonceAndAssociatedData() throws {
        // An independent open with the generic AEAD: nonce = 4 zero bytes || counter
        // (8 bytes big-endian), AD = the 8 header bytes.
        let sealer = call.callerKeys.frameSealer
        for _ in 0..<300 { _ = try sealer.seal(type: 2, payload: [0], now: t0) }
        let packet = try sealer.seal(type: 2, payload: Array("hello".utf8), now: t0)
        XCTAssertEqual(Array(packet.prefix(8)), [0x42, 0, 0, 0, 0, 0, 0x01, 0x2c])  // version 01, phase 0, type 2, counter 300
        let nonce: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x2c]
        let plain = try ChaCha20Poly1305.open(Array(packet.dropFirst(8)), key: call.calleeKeys.frameReceive, nonce: nonce,
                                              associatedData: Array(packet.prefix(8)))
        XCTAssertEqual(plain, Array("hello".utf8))
    }

    func testReplayedFrameIsRejectedAndReorderInsideTheWindowAccepted() throws {
        let sealer = call.callerKeys.frameSealer
        let opener = call.calleeKeys.frameOpener
        let packets = try (0..<10).map { try sealer.seal(type: 1, payload: [UInt8($0)], now: t0) }
        for index in [3, 0, 9, 1, 2, 8, 4, 5, 7, 6] {
            XCTAssertEqual(try opener.open(packets[index], now: t0).payload, [UInt8(index)])
        }
        for packet in packets { XCTAssertThrowsCryptoError(.replayed, try opener.open(packet, now: t0)) }
    }

    func testFrameOlderThanTheWindowIsRejected() throws {
        let sealer = call.callerKeys.frameSealer
        let opener = call.calleeKeys.frameOpener
        let old = try sealer.seal(type: 1, payload: [1], now: t0)
        var newest: [UInt8] = []
        for _ in 0...SpecConstants.frameReplayWindow { newest = try sealer.seal(type: 1, payload: [2], now: t0) }
        _ = try opener.open(newest, now: t0)
        XCTAssertThrowsCryptoError(.replayed, try opener.open(old, now: t0))
    }

    func testTamperedTruncatedAndForgedFramesAreRejected() throws {
        let sealer = call.callerKeys.frameSealer
        let opener = call.calleeKeys.frameOpener
        let packet = try sealer.seal(type: 3, payload: Array("message".utf8), now: t0)
        for position in 0..<packet.count {
            var flipped = packet
            flipped[position] ^= 0x04
            XCTAssertThrowsError(try opener.open(flipped, now: t0), "bit flip at \(position)")
        }
        XCTAssertThrowsError(try opener.open(Array(packet.prefix(23)), now: t0))
        XCTAssertThrowsError(try opener.open(Array(packet.dropLast()), now: t0))
        XCTAssertThrowsCryptoError(.unsupportedVersion(3), try opener.open([0xc3] + packet.dropFirst(), now: t0))
        // After all that the genuine frame still opens: failures consumed no counter.
        XCTAssertEqual(try opener.open(packet, now: t0).payload, Array("message".utf8))
    }

    func testFrameFromTheOtherDirectionOrAnotherCallIsRejected() throws {
        let packet = try call.callerKeys.frameSealer.seal(type: 1, payload: [9], now: t0)
        XCTAssertThrowsCryptoError(.authenticationFailed, try call.callerKeys.frameOpener.open(packet, now: t0))
        let other = try fixture.handshake(callerCode: "77", calleeCode: "77")
        defer { other.erase() }
        XCTAssertThrowsCryptoError(.authenticationFailed, try other.calleeKeys.frameOpener.open(packet, now: t0))
    }

    func testInvalidInputsAreRefusedBySealer() throws {
        let sealer = call.callerKeys.frameSealer
        XCTAssertThrowsError(try sealer.seal(type: 32, payload: [], now: t0))
        XCTAssertThrowsCryptoError(.tooLarge(limit: SpecConstants.frameMaxPayload, actual: SpecConstants.frameMaxPayload + 1),
                                   try sealer.seal(type: 1, payload: [UInt8](repeating: 0, count: SpecConstants.frameMaxPayload + 1), now: t0))
    }

    func testRekeyAfterTimeFlipsThePhaseAndTheReceiverFollows() throws {
        let sealer = call.callerKeys.frameSealer
        let opener = call.calleeKeys.frameOpener
        let before = try sealer.seal(type: 1, payload: [1], now: t0)
        let later = t0 + SpecConstants.rekeyAfterTime
        let after = try sealer.seal(type: 1, payload: [2], now: later)
        XCTAssertEqual(sealer.epoch, 1)
        XCTAssertEqual(try FrameHeader.parse(before.withUnsafeBytes { UnsafeRawBufferPointer($0) }).keyPhase, false)
        XCTAssertEqual(try opener.open(after, now: later).header.keyPhase, true)
        XCTAssertEqual(opener.epoch, 1)
        // A late frame from the old key opens within the grace time...
        XCTAssertEqual(try opener.open(before, now: later + .seconds(1)).payload, [1])
    }

    func testPreviousKeyIsErasedAfterTheGraceTime() throws {
        let sealer = call.callerKeys.frameSealer
        let opener = call.calleeKeys.frameOpener
        let old = try sealer.seal(type: 1, payload: [1], now: t0)
        let later = t0 + SpecConstants.rekeyAfterTime
        _ = try opener.open(sealer.seal(type: 1, payload: [2], now: later), now: later)
        let liveWithPrevious = SecretBytes.liveCount
        let afterGrace = later + SpecConstants.previousKeyGraceTime
        _ = try opener.open(sealer.seal(type: 1, payload: [3], now: afterGrace), now: afterGrace)
        XCTAssertEqual(SecretBytes.liveCount, liveWithPrevious - 1, "the previous key was erased")
        XCTAssertThrowsCryptoError(.authenticationFailed, try opener.open(old, now: afterGrace))
    }

    func testRekeyAfterPacketCountAndManyEpochs() throws {
        let sealer = FrameSealer(key: call.callerKeys.frameSend, rekeyAfterPackets: 3)
        let opener = call.calleeKeys.frameOpener
        var phases: [Bool] = []
        for index in 0..<20 {
            let packet = try sealer.seal(type: 1, payload: [UInt8(index)], now: t0)
            let (header, payload) = try opener.open(packet, now: t0)
            XCTAssertEqual(payload, [UInt8(index)])
            XCTAssertEqual(header.counter, UInt64(index), "counters continue across keys")
            phases.append(header.keyPhase)
        }
        XCTAssertEqual(sealer.epoch, 6)
        XCTAssertEqual(opener.epoch, 6)
        XCTAssertEqual(phases.prefix(7), [false, false, false, true, true, true, false])
        XCTAssertTrue(call.callerKeys.frameSend.isErased, "the epoch-0 key was erased by the first rekey")
    }

    func testReorderAcrossARekeyStillOpens() throws {
        let sealer = FrameSealer(key: call.callerKeys.frameSend, rekeyAfterPackets: 4)
        let opener = call.calleeKeys.frameOpener
        let packets = try (0..<8).map { try sealer.seal(type: 1, payload: [UInt8($0)], now: t0) }
        for index in [0, 1, 5, 2, 4, 3, 7, 6] {  // 5 arrives before 2, 3 (old key) after 4 (new key)
            XCTAssertEqual(try opener.open(packets[index], now: t0).payload, [UInt8(index)], "packet \(index)")
        }
    }

    func testReceiverRecoversWhenEveryPacketOfOneKeyIsLost() throws {
        // An idle sender rekeys on its next send; if that key's only packets are lost,
        // the following key has the receiver's current phase again.
        let sealer = FrameSealer(key: call.callerKeys.frameSend, rekeyAfterPackets: 2)
        let opener = call.calleeKeys.frameOpener
        let packets = try (0..<6).map { try sealer.seal(type: 1, payload: [UInt8($0)], now: t0) }
        XCTAssertEqual(try opener.open(packets[0], now: t0).payload, [0])
        // packets 2 and 3 (the next key) are lost; packet 4 is two keys ahead.
        XCTAssertEqual(try opener.open(packets[4], now: t0).payload, [4])
        XCTAssertEqual(opener.epoch, 2)
        XCTAssertEqual(try opener.open(packets[5], now: t0).payload, [5])
        XCTAssertEqual(try opener.open(packets[1], now: t0).payload, [1], "the previous key still opens late packets")
    }

    func testForgedNextPhaseFrameDoesNotDisturbTheCurrentKey() throws {
        let sealer = call.callerKeys.frameSealer
        let opener = call.calleeKeys.frameOpener
        var forged = try sealer.seal(type: 1, payload: [1], now: t0)
        forged[0] |= 0x20  // claim the next key phase
        forged[7] = 0x50
        XCTAssertThrowsCryptoError(.authenticationFailed, try opener.open(forged, now: t0))
        XCTAssertEqual(opener.epoch, 0)
        var corrupted = try sealer.seal(type: 1, payload: [1], now: t0)  // same phase, bad tag: two-ahead is tried and fails
        corrupted[corrupted.count - 1] ^= 1
        XCTAssertThrowsCryptoError(.authenticationFailed, try opener.open(corrupted, now: t0))
        XCTAssertEqual(opener.epoch, 0)
        XCTAssertEqual(try opener.open(sealer.seal(type: 1, payload: [2], now: t0), now: t0).payload, [2])
    }

    func testForgedFrameFloodMakesNoKeyMaterialAfterTheFirst() throws {
        // Look-ahead keys are derived once per epoch: forged frames cost a decryption
        // attempt each, never a key derivation or a protected allocation each.
        let sealer = call.callerKeys.frameSealer
        let opener = call.calleeKeys.frameOpener
        _ = try opener.open(sealer.seal(type: 1, payload: [0], now: t0), now: t0)
        var forged = try sealer.seal(type: 1, payload: [1], now: t0)
        forged[forged.count - 1] ^= 1
        XCTAssertThrowsError(try opener.open(forged, now: t0))  // derives the look-ahead keys
        let afterFirst = SecretBytes.liveCount
        for index in 0..<200 {
            var packet = forged
            packet[0] ^= UInt8(index % 2) << 5  // both phases
            packet[7] = UInt8(truncatingIfNeeded: 2 + index)
            XCTAssertThrowsError(try opener.open(packet, now: t0))
        }
        XCTAssertEqual(SecretBytes.liveCount, afterFirst)
        XCTAssertEqual(opener.epoch, 0)
        XCTAssertEqual(try opener.open(sealer.seal(type: 1, payload: [3], now: t0), now: t0).payload, [3])
    }

    func testErasedFrameKeysFailClosed() throws {
        let sealer = call.callerKeys.frameSealer
        let opener = call.calleeKeys.frameOpener
        let packet = try sealer.seal(type: 1, payload: [1], now: t0)
        sealer.erase()
        opener.erase()
        XCTAssertThrowsCryptoError(.secretErased, try sealer.seal(type: 1, payload: [1], now: t0))
        XCTAssertThrowsCryptoError(.secretErased, try opener.open(packet, now: t0))
    }
}
