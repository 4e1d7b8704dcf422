import ParleyCrypto
import ParleyProtocol
import XCTest

/// Values and helpers shared by the signalling codec tests.
enum SignalFixtures {
    /// A device ID whose 20 bytes are all `fill`.
    static func device(_ fill: UInt8) -> DeviceID {
        // 20 bytes is DeviceID.byteCount, so this cannot throw.
        try! DeviceID(rawBytes: [UInt8](repeating: fill, count: DeviceID.byteCount))
    }

    /// A call ID whose 16 bytes are all `fill`.
    static func call(_ fill: UInt8) -> CallID {
        // 16 bytes is CallID.byteCount, so this cannot throw.
        try! CallID(bytes: [UInt8](repeating: fill, count: CallID.byteCount))
    }

    /// The call ID 00 01 02 ... 0f.
    static let countingCall: CallID = {
        // 16 bytes is CallID.byteCount, so this cannot throw.
        try! CallID(bytes: (0..<16).map { UInt8($0) })
    }()

    static func bytes(_ count: Int, _ fill: UInt8) -> [UInt8] {
        [UInt8](repeating: fill, count: count)
    }

    /// Hex written by hand in a test (whitespace allowed).
    static func hex(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> [UInt8] {
        guard let bytes = Hex.decode(text) else {
            XCTFail("bad hex in test: \(text)", file: file, line: line)
            return []
        }
        return bytes
    }

    /// At least one valid message of every type, with typical values.
    static let oneOfEachType: [SignalMessage] = [
        .challenge(Challenge(nonce: (0..<32).map { UInt8($0) }, maxMessageBytes: 32813, pingIntervalSeconds: 25)),
        .auth(Auth(identityKey: bytes(32, 0x01), signature: bytes(64, 0x02), realm: "home", enrollmentCode: "")),
        .auth(Auth(identityKey: bytes(32, 0x03), signature: bytes(64, 0x04), realm: "büro", enrollmentCode: "482-913")),
        .welcome(Welcome(deviceID: device(0xaa), realm: "home")),
        .presenceSnapshot([device(0xaa), device(0xbb)]),
        .presenceUpdate(device: device(0xcc), online: true),
        .presenceUpdate(device: device(0xcc), online: false),
        .invite(callee: device(0xbb), callID: countingCall, payload: bytes(148, 0x5a)),
        .incomingCall(caller: device(0xaa), callID: countingCall, payload: bytes(148, 0x5a)),
        .ringing(callID: countingCall),
        .accept(callID: countingCall, payload: bytes(148, 0xa5)),
        .reject(callID: countingCall),
        .callEnded(callID: countingCall, outcome: .busy),
        .signal(callID: countingCall, payload: bytes(281, 0x33)),
        .hangup(callID: countingCall),
        .ping(0x0102_0304_0506_0708),
        .pong(0x0102_0304_0506_0708),
        .error(code: .rateLimited, message: "slow down"),
    ]
}

/// Asserts that `body` throws a `SignalCodecError` with `code`.
func assertRefused<T>(_ code: SignalErrorCode, _ what: String, file: StaticString = #filePath, line: UInt = #line,
                      _ body: () throws(SignalCodecError) -> T) {
    do {
        let value = try body()
        XCTFail("\(what): accepted (\(value)), expected \(code)", file: file, line: line)
    } catch {
        XCTAssertEqual(error.code, code, "\(what): \(error.message)", file: file, line: line)
        XCTAssertFalse(error.message.isEmpty, "\(what): empty error message", file: file, line: line)
    }
}

/// Encodes `message`, failing the test instead of throwing.
func encoded(_ message: SignalMessage, file: StaticString = #filePath, line: UInt = #line) -> [UInt8] {
    do {
        return try SignalCodec.encode(message)
    } catch {
        XCTFail("encode(\(message.type)) refused: \(error)", file: file, line: line)
        return []
    }
}
