import ParleyCrypto
import ParleyProtocol
import XCTest

/// Every message type survives encode then decode unchanged, at the edges of every
/// field, and decoding then re-encoding gives back the same bytes.
final class SignalCodecRoundTripTests: XCTestCase {
    private typealias F = SignalFixtures

    private func assertRoundTrip(_ message: SignalMessage, file: StaticString = #filePath, line: UInt = #line) {
        let bytes = encoded(message, file: file, line: line)
        XCTAssertEqual(bytes.first, SignalLimits.version, file: file, line: line)
        XCTAssertEqual(bytes.dropFirst().first, message.type.rawValue, file: file, line: line)
        XCTAssertLessThanOrEqual(bytes.count, SignalLimits.maxMessageBytes, file: file, line: line)
        do {
            let decoded = try SignalCodec.decode(bytes)
            XCTAssertEqual(decoded, message, file: file, line: line)
            XCTAssertEqual(try SignalCodec.encode(decoded), bytes, "re-encoding changed the bytes", file: file, line: line)
        } catch {
            XCTFail("decode(\(message.type)) refused its own encoding: \(error)", file: file, line: line)
        }
    }

    func testOneMessageOfEveryTypeRoundTrips() {
        let covered = Set(F.oneOfEachType.map(\.type))
        XCTAssertEqual(covered, Set(SignalType.allCases), "the fixture misses a message type")
        for message in F.oneOfEachType { assertRoundTrip(message) }
    }

    func testChallengeRoundTripsWithExtremeNumbers() {
        for (size, ping) in [(UInt32.min, UInt16.min), (.max, .max), (1, 1)] {
            assertRoundTrip(.challenge(Challenge(nonce: F.bytes(32, 0xff), maxMessageBytes: size, pingIntervalSeconds: ping)))
        }
    }

    func testAuthRoundTripsWithShortestAndLongestStrings() {
        let longest = String(repeating: "r", count: 64)
        let multibyte = String(repeating: "é", count: 32)  // 64 bytes of UTF-8
        for (realm, code) in [("r", ""), (longest, longest), (multibyte, multibyte), ("\u{0}", "🦊")] {
            assertRoundTrip(.auth(Auth(identityKey: F.bytes(32, 0), signature: F.bytes(64, 0xff), realm: realm, enrollmentCode: code)))
        }
    }

    func testStringsKeepTheirExactBytesWithoutUnicodeNormalisation() throws {
        // Swift's == treats these as equal (canonical equivalence); the wire does not.
        let composed = encoded(.welcome(Welcome(deviceID: F.device(1), realm: "caf\u{e9}")))
        let decomposed = encoded(.welcome(Welcome(deviceID: F.device(1), realm: "cafe\u{301}")))
        XCTAssertNotEqual(composed, decomposed)
        XCTAssertEqual(try SignalCodec.encode(try SignalCodec.decode(decomposed)), decomposed)
        guard case let .welcome(welcome) = try SignalCodec.decode(decomposed) else { return XCTFail("not a welcome") }
        XCTAssertEqual(Array(welcome.realm.utf8), Array("cafe\u{301}".utf8))
    }

    func testWelcomeRoundTripsWithShortestAndLongestRealm() {
        assertRoundTrip(.welcome(Welcome(deviceID: F.device(0), realm: "x")))
        assertRoundTrip(.welcome(Welcome(deviceID: F.device(0xff), realm: String(repeating: "🦊", count: 16))))
    }

    func testPresenceSnapshotRoundTripsEmptyOneAndFull() {
        assertRoundTrip(.presenceSnapshot([]))
        assertRoundTrip(.presenceSnapshot([F.device(7)]))
        let full = (0..<SignalLimits.maxPresenceSnapshotDevices).map { index in
            // 20 bytes, so this cannot throw.
            try! DeviceID(rawBytes: [UInt8(index >> 8), UInt8(index & 0xff)] + F.bytes(18, 0x42))
        }
        assertRoundTrip(.presenceSnapshot(full))
        XCTAssertEqual(encoded(.presenceSnapshot(full)).count, 2 + 2 + 1024 * 20)
    }

    func testPayloadsRoundTripEmptyAndAtTheirLimits() {
        let handshake = SignalLimits.maxHandshakePayloadBytes
        for count in [0, 1, 148, handshake] {
            assertRoundTrip(.invite(callee: F.device(1), callID: F.call(2), payload: F.bytes(count, 0x11)))
            assertRoundTrip(.incomingCall(caller: F.device(1), callID: F.call(2), payload: F.bytes(count, 0x22)))
            assertRoundTrip(.accept(callID: F.call(2), payload: F.bytes(count, 0x33)))
        }
        for count in [0, 1, 281, SignalLimits.maxSignalPayloadBytes] {
            assertRoundTrip(.signal(callID: F.call(0xff), payload: F.bytes(count, 0x44)))
        }
    }

    func testLargestSignalIsExactlyTheDefaultDecodeLimit() {
        let bytes = encoded(.signal(callID: F.call(0), payload: F.bytes(SealedBlob.maxWireCount, 0)))
        XCTAssertEqual(bytes.count, SignalLimits.maxMessageBytes)
        XCTAssertEqual(SignalLimits.maxMessageBytes, 32813)
        XCTAssertEqual(SignalCodec.defaultMaxBytes, SignalLimits.maxMessageBytes)
        XCTAssertNoThrow(try SignalCodec.decode(bytes))
    }

    func testEveryCallOutcomeAndEveryErrorCodeRoundTrips() {
        for outcome in CallOutcome.allCases { assertRoundTrip(.callEnded(callID: F.call(9), outcome: outcome)) }
        for code in SignalErrorCode.allCases { assertRoundTrip(.error(code: code, message: "")) }
        assertRoundTrip(.error(code: .malformed, message: String(repeating: "m", count: 255)))
    }

    func testPingAndPongRoundTripExtremeValues() {
        for value in [UInt64.min, 1, UInt64(UInt32.max) + 1, .max] {
            assertRoundTrip(.ping(value))
            assertRoundTrip(.pong(value))
        }
    }

    func testCallIDOnlyMessagesRoundTripAllZeroAndAllOnes() {
        for fill: UInt8 in [0x00, 0xff] {
            assertRoundTrip(.ringing(callID: F.call(fill)))
            assertRoundTrip(.reject(callID: F.call(fill)))
            assertRoundTrip(.hangup(callID: F.call(fill)))
        }
    }

    func testComponentEncodersMatchTheGeneralEncoder() throws {
        let payload = F.bytes(148, 0x77)
        XCTAssertEqual(try SignalCodec.encodeSignal(callID: F.call(1), payload: payload),
                       encoded(.signal(callID: F.call(1), payload: payload)))
        XCTAssertEqual(try SignalCodec.encodeAccept(callID: F.call(1), payload: payload),
                       encoded(.accept(callID: F.call(1), payload: payload)))
        XCTAssertEqual(try SignalCodec.encodeIncomingCall(caller: F.device(3), callID: F.call(1), payload: payload),
                       encoded(.incomingCall(caller: F.device(3), callID: F.call(1), payload: payload)))
    }

    func testInviteRelayedAsIncomingCallDiffersOnlyInTypeAndDevice() throws {
        let invite = encoded(.invite(callee: F.device(0xbb), callID: F.countingCall, payload: F.bytes(148, 0x5a)))
        guard case let .invite(_, callID, payload) = try SignalCodec.decode(invite) else { return XCTFail("not an invite") }
        let incoming = try SignalCodec.encodeIncomingCall(caller: F.device(0xaa), callID: callID, payload: payload)
        XCTAssertEqual(incoming.count, invite.count)
        XCTAssertEqual(incoming[1], SignalType.incomingCall.rawValue)
        XCTAssertEqual(Array(incoming[2..<22]), F.device(0xaa).bytes)
        XCTAssertEqual(Array(incoming[22...]), Array(invite[22...]))
    }

    func testMessagesSentBothWaysAreExactlyTheTypesWithOneLayout() {
        let either = SignalType.allCases.filter { $0.sender == .either }
        XCTAssertEqual(either, [.accept, .signal])
        XCTAssertEqual(SignalType.allCases.filter { $0.sender == .device }, [.auth, .invite, .reject, .hangup, .ping])
    }
}
