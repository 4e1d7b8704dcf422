import ParleyCrypto
import ParleyProtocol
import XCTest

/// Exact bytes of messages, written by hand from PROTOCOL.md ("Signalling envelope"),
/// so the specification and the code agree. The first two are the document's example.
final class SignalCodecVectorTests: XCTestCase {
    private typealias F = SignalFixtures

    private func assertBytes(_ message: SignalMessage, _ hex: String, file: StaticString = #filePath, line: UInt = #line) {
        let expected = F.hex(hex, file: file, line: line)
        XCTAssertEqual(Hex.encode(encoded(message, file: file, line: line)), Hex.encode(expected), file: file, line: line)
        XCTAssertEqual(try SignalCodec.decode(expected), message, file: file, line: line)
    }

    func testSpecExampleCallEndedBusyBytes() {
        assertBytes(.callEnded(callID: F.countingCall, outcome: .busy), "0125 000102030405060708090a0b0c0d0e0f 02")
    }

    func testSpecExampleErrorRateLimitedBytes() {
        assertBytes(.error(code: .rateLimited, message: "slow down"), "017f 07da 09 736c6f7720646f776e")
    }

    func testChallengeBytes() {
        assertBytes(.challenge(Challenge(nonce: (0..<32).map { UInt8($0) }, maxMessageBytes: 32813, pingIntervalSeconds: 25)),
                    "0101 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f 0000802d 0019")
    }

    func testAuthBytes() {
        let auth = Auth(identityKey: F.bytes(32, 0x01), signature: F.bytes(64, 0x02), realm: "home", enrollmentCode: "ab")
        assertBytes(.auth(auth), "0102" + String(repeating: "01", count: 32) + String(repeating: "02", count: 64)
                        + "04 686f6d65 02 6162")
    }

    func testWelcomeBytes() {
        assertBytes(.welcome(Welcome(deviceID: F.device(0xaa), realm: "home")),
                    "0103" + String(repeating: "aa", count: 20) + "04 686f6d65")
    }

    func testPresenceBytes() {
        assertBytes(.presenceSnapshot([]), "0110 0000")
        assertBytes(.presenceSnapshot([F.device(0xaa), F.device(0xbb)]),
                    "0110 0002" + String(repeating: "aa", count: 20) + String(repeating: "bb", count: 20))
        assertBytes(.presenceUpdate(device: F.device(0xcc), online: true), "0111" + String(repeating: "cc", count: 20) + "01")
        assertBytes(.presenceUpdate(device: F.device(0xcc), online: false), "0111" + String(repeating: "cc", count: 20) + "00")
    }

    func testCallMessageBytes() {
        let call = "000102030405060708090a0b0c0d0e0f"
        assertBytes(.invite(callee: F.device(0xbb), callID: F.countingCall, payload: [0xde, 0xad]),
                    "0120" + String(repeating: "bb", count: 20) + call + "0002 dead")
        assertBytes(.incomingCall(caller: F.device(0xaa), callID: F.countingCall, payload: []),
                    "0121" + String(repeating: "aa", count: 20) + call + "0000")
        assertBytes(.ringing(callID: F.countingCall), "0122" + call)
        assertBytes(.accept(callID: F.countingCall, payload: [0xbe, 0xef, 0x00]), "0123" + call + "0003 beef00")
        assertBytes(.reject(callID: F.countingCall), "0124" + call)
        assertBytes(.signal(callID: F.countingCall, payload: F.bytes(300, 0x5a)),
                    "0130" + call + "012c" + String(repeating: "5a", count: 300))
        assertBytes(.hangup(callID: F.countingCall), "0131" + call)
    }

    func testPingPongBytesAreBigEndian() {
        assertBytes(.ping(0x0102_0304_0506_0708), "0140 0102030405060708")
        assertBytes(.pong(1), "0141 0000000000000001")
    }

    func testWireValuesOfTypesOutcomesAndErrorCodesMatchTheTables() {
        XCTAssertEqual(SignalType.allCases.map(\.rawValue),
                       [0x01, 0x02, 0x03, 0x10, 0x11, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x30, 0x31, 0x40, 0x41, 0x7f])
        XCTAssertEqual(CallOutcome.allCases.map(\.rawValue), Array(1...8))
        XCTAssertEqual(SignalErrorCode.allCases.map(\.rawValue), Array(2001...2018))
    }

    func testAuthSignedDataLayout() {
        let nonce = (0..<32).map { UInt8($0) }
        let certificate = F.bytes(32, 0xcc)
        let signed = Auth.signedData(nonce: nonce, serverCertificateSHA256: certificate, realm: "home", enrollmentCode: "")
        let expected = "0d 7061726c65792f312061757468"  // lv("parley/1 auth")
            + "20 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
            + "20" + String(repeating: "cc", count: 32)
            + "04 686f6d65"  // lv("home")
            + "00"  // lv("")
        XCTAssertEqual(Hex.encode(signed), Hex.encode(F.hex(expected)))
        XCTAssertEqual(signed.count, 14 + 33 + 33 + 5 + 1)
    }
}
