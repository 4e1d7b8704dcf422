import ParleyCrypto
import ParleyProtocol
import XCTest

/// Every input the decoder must refuse, and the code it refuses it with; and every
/// message the encoder must refuse to write.
final class SignalCodecRefusalTests: XCTestCase {
    private typealias F = SignalFixtures
    private let call = String(repeating: "11", count: 16)
    private let device = String(repeating: "aa", count: 20)

    private func assertDecodeRefused(_ code: SignalErrorCode, _ hex: String, maxBytes: Int = SignalCodec.defaultMaxBytes,
                                     file: StaticString = #filePath, line: UInt = #line) {
        let bytes = F.hex(hex, file: file, line: line)
        assertRefused(code, hex, file: file, line: line) { () throws(SignalCodecError) in try SignalCodec.decode(bytes, maxBytes: maxBytes) }
    }

    private func assertDecodeRefused(_ code: SignalErrorCode, bytes: [UInt8], _ what: String, maxBytes: Int = SignalCodec.defaultMaxBytes,
                                     file: StaticString = #filePath, line: UInt = #line) {
        assertRefused(code, what, file: file, line: line) { () throws(SignalCodecError) in try SignalCodec.decode(bytes, maxBytes: maxBytes) }
    }

    // MARK: Envelope

    func testUnknownVersionIsUnsupportedVersionWhateverFollows() {
        for version: UInt8 in [0, 2, 0x7f, 0xff] {
            assertDecodeRefused(.unsupportedVersion, bytes: [version], "version \(version) alone")
            assertDecodeRefused(.unsupportedVersion, bytes: [version, 0x40, 0, 0, 0, 0, 0, 0, 0, 1], "version \(version) ping")
        }
    }

    func testEmptyInputIsMalformed() {
        assertDecodeRefused(.malformed, bytes: [], "empty input")
    }

    func testEveryUnknownTypeIsMalformed() {
        let known = Set(SignalType.allCases.map(\.rawValue))
        for type in UInt8.min...UInt8.max where !known.contains(type) {
            assertDecodeRefused(.malformed, bytes: [1, type] + F.bytes(40, 0), "type \(type)")
            assertDecodeRefused(.malformed, bytes: [1, type], "type \(type) without body")
        }
    }

    func testTrailingBytesAfterAnyMessageAreMalformed() {
        for message in F.oneOfEachType {
            for extra: [UInt8] in [[0], [0xff], F.bytes(20, 1)] {
                assertDecodeRefused(.malformed, bytes: encoded(message) + extra, "\(message.type) + \(extra.count) bytes")
            }
        }
    }

    func testEveryTruncationOfEveryValidMessageIsMalformed() {
        var messages = F.oneOfEachType
        messages.append(.presenceSnapshot([]))
        messages.append(.signal(callID: F.call(1), payload: []))
        messages.append(.error(code: .idleTimeout, message: ""))
        for message in messages {
            let bytes = encoded(message)
            for count in 0..<bytes.count {
                assertDecodeRefused(.malformed, bytes: Array(bytes.prefix(count)), "\(message.type) cut to \(count) of \(bytes.count) bytes")
            }
        }
    }

    // MARK: Size limits

    func testInputOverTheDefaultLimitIsRefusedBeforeParsing() {
        // Not even a valid version: the size is checked first.
        assertDecodeRefused(.messageTooLarge, bytes: F.bytes(SignalLimits.maxMessageBytes + 1, 0xff), "default limit + 1")
        assertDecodeRefused(.unsupportedVersion, bytes: F.bytes(SignalLimits.maxMessageBytes, 0xff), "at the default limit")
    }

    func testInputOverAConfiguredLimitIsRefused() {
        let ping = encoded(.ping(7))
        assertDecodeRefused(.messageTooLarge, bytes: ping, "ping over a 9-byte limit", maxBytes: ping.count - 1)
        XCTAssertEqual(try SignalCodec.decode(ping, maxBytes: ping.count), .ping(7))
        assertDecodeRefused(.messageTooLarge, bytes: [], "empty input, negative limit", maxBytes: -1)
    }

    func testHandshakePayloadOverItsLimitIsTooLargeEvenWithoutItsBytes() {
        // Declared length 513 (0x0201): refused on the length, before the bytes are looked for.
        for prefix in ["0120" + device + call, "0121" + device + call, "0123" + call] {
            assertDecodeRefused(.messageTooLarge, prefix + "0201")
            assertDecodeRefused(.messageTooLarge, prefix + "ffff")
            assertDecodeRefused(.messageTooLarge, bytes: F.hex(prefix + "0201") + F.bytes(513, 0), "513-byte payload")
            assertDecodeRefused(.malformed, prefix + "0200")  // 512 is allowed, but the bytes are missing
        }
    }

    func testSignalPayloadOverItsLimitIsTooLarge() {
        let limit = SignalLimits.maxSignalPayloadBytes
        let over = F.hex("0130" + call) + [UInt8((limit + 1) >> 8), UInt8((limit + 1) & 0xff)] + F.bytes(limit + 1, 0)
        assertDecodeRefused(.messageTooLarge, bytes: over, "signal payload max + 1", maxBytes: .max)
        assertDecodeRefused(.messageTooLarge, "0130" + call + "ffff")
    }

    func testSnapshotCountOverTheBytesPresentIsMalformed() {
        assertDecodeRefused(.malformed, "0110 0001")
        assertDecodeRefused(.malformed, "0110 0003" + device + device)
        assertDecodeRefused(.malformed, "0110 0400")  // 1024 devices announced, none present
        assertDecodeRefused(.malformed, "0110 0001" + String(repeating: "aa", count: 19))
    }

    func testSnapshotCountOverItsLimitIsTooLarge() {
        assertDecodeRefused(.messageTooLarge, "0110 0401")
        assertDecodeRefused(.messageTooLarge, "0110 ffff")
        assertDecodeRefused(.messageTooLarge, bytes: F.hex("0110 0401") + F.bytes(1025 * 20, 0xaa), "1025 devices present")
    }

    // MARK: Strings

    func testInvalidUTF8IsMalformed() {
        let keys = String(repeating: "01", count: 32) + String(repeating: "02", count: 64)
        for bad in ["ff", "c3", "c0af", "eda080", "f4908080", "68c3"] {
            let count = format2(bad.count / 2)
            assertDecodeRefused(.malformed, "0102" + keys + count + bad + "00")  // realm
            assertDecodeRefused(.malformed, "0102" + keys + "0468 6f6d65" + count + bad)  // enrollment code
            assertDecodeRefused(.malformed, "0103" + device + count + bad)  // welcome realm
            assertDecodeRefused(.malformed, "017f 07d1" + count + bad)  // error text
        }
    }

    func testOverlongStringsAreMalformed() {
        let keys = String(repeating: "01", count: 32) + String(repeating: "02", count: 64)
        let text65 = "41" + String(repeating: "61", count: 65)
        assertDecodeRefused(.malformed, "0102" + keys + text65 + "00")
        assertDecodeRefused(.malformed, "0102" + keys + "0161" + text65)
        assertDecodeRefused(.malformed, "0103" + device + text65)
        assertDecodeRefused(.malformed, "0102" + keys + "ff")  // limit checked before the bytes
    }

    func testEmptyRealmIsMalformed() {
        let keys = String(repeating: "01", count: 32) + String(repeating: "02", count: 64)
        assertDecodeRefused(.malformed, "0102" + keys + "00 00")
        assertDecodeRefused(.malformed, "0103" + device + "00")
    }

    // MARK: Enumerations

    func testUnknownCallOutcomeIsMalformed() {
        for raw: UInt8 in [0, 9, 0x7f, 0xff] {
            assertDecodeRefused(.malformed, "0125" + call + format2(Int(raw)))
        }
    }

    func testUnknownErrorCodeIsMalformed() {
        for raw in ["0000", "07d0", "07e3", "03e9", "ffff"] {
            assertDecodeRefused(.malformed, "017f" + raw + "00")
        }
    }

    func testPresenceOnlineFlagOtherThanZeroOrOneIsMalformed() {
        for raw in ["02", "80", "ff"] {
            assertDecodeRefused(.malformed, "0111" + device + raw)
        }
    }

    // MARK: Encoder

    func testEncoderRefusesFixedFieldsOfTheWrongLength() {
        assertRefused(.malformed, "31-byte nonce") { () throws(SignalCodecError) in
            try SignalCodec.encode(.challenge(Challenge(nonce: F.bytes(31, 0), maxMessageBytes: 1, pingIntervalSeconds: 1)))
        }
        assertRefused(.malformed, "33-byte identity key") { () throws(SignalCodecError) in
            try SignalCodec.encode(.auth(Auth(identityKey: F.bytes(33, 0), signature: F.bytes(64, 0), realm: "r", enrollmentCode: "")))
        }
        assertRefused(.malformed, "63-byte signature") { () throws(SignalCodecError) in
            try SignalCodec.encode(.auth(Auth(identityKey: F.bytes(32, 0), signature: F.bytes(63, 0), realm: "r", enrollmentCode: "")))
        }
    }

    func testEncoderRefusesStringsTheDecoderWouldRefuse() {
        let long = String(repeating: "é", count: 33)  // 66 bytes
        for (realm, code) in [("", ""), (long, ""), ("r", long)] {
            assertRefused(.malformed, "realm \(realm.utf8.count) code \(code.utf8.count)") { () throws(SignalCodecError) in
                try SignalCodec.encode(.auth(Auth(identityKey: F.bytes(32, 0), signature: F.bytes(64, 0), realm: realm, enrollmentCode: code)))
            }
        }
        for realm in ["", long] {
            assertRefused(.malformed, "welcome realm \(realm.utf8.count)") { () throws(SignalCodecError) in
                try SignalCodec.encode(.welcome(Welcome(deviceID: F.device(1), realm: realm)))
            }
        }
    }

    func testEncoderRefusesPayloadsAndSnapshotsOverTheirLimits() {
        let handshake = F.bytes(SignalLimits.maxHandshakePayloadBytes + 1, 0)
        let messages: [SignalMessage] = [
            .invite(callee: F.device(1), callID: F.call(1), payload: handshake),
            .incomingCall(caller: F.device(1), callID: F.call(1), payload: handshake),
            .accept(callID: F.call(1), payload: handshake),
            .signal(callID: F.call(1), payload: F.bytes(SignalLimits.maxSignalPayloadBytes + 1, 0)),
            .signal(callID: F.call(1), payload: F.bytes(70_000, 0)),
            .presenceSnapshot(Array(repeating: F.device(1), count: SignalLimits.maxPresenceSnapshotDevices + 1)),
        ]
        for message in messages {
            assertRefused(.messageTooLarge, "\(message.type)") { () throws(SignalCodecError) in try SignalCodec.encode(message) }
        }
        assertRefused(.messageTooLarge, "encodeSignal") { () throws(SignalCodecError) in
            try SignalCodec.encodeSignal(callID: F.call(1), payload: F.bytes(SignalLimits.maxSignalPayloadBytes + 1, 0))
        }
    }

    func testEncoderTruncatesLongErrorTextAtACharacterBoundary() throws {
        let cases: [(text: String, bytes: Int)] = [
            (String(repeating: "a", count: 300), 255),
            (String(repeating: "é", count: 200), 254),  // 2-byte characters: 127 fit
            (String(repeating: "🦊", count: 100), 252),  // 4-byte characters: 63 fit
            ("a" + String(repeating: "€", count: 100), 253),  // 1 + 3 x 84
        ]
        for (text, count) in cases {
            let bytes = try SignalCodec.encode(.error(code: .rateLimited, message: text))
            XCTAssertEqual(Int(bytes[4]), count, "\(text.prefix(1))")
            guard case let .error(code, decoded) = try SignalCodec.decode(bytes) else { return XCTFail("not an error") }
            XCTAssertEqual(code, .rateLimited)
            XCTAssertEqual(Array(decoded.utf8), Array(text.utf8.prefix(count)))
        }
    }

    private func format2(_ value: Int) -> String { Hex.encode([UInt8(value)]) }
}
