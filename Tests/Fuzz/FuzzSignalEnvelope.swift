// Fuzz target: SignalCodec.decode and SignalCodec.encode
// (Sources/ParleyProtocol/Signalling/SignalCodec.swift).
//
// A ParleyProtocol target: compiled with ProtocolFuzzSupport.swift (libFuzzer hooks, seed
// writing, FuzzInput, fuzzCheck) and the ParleyProtocol sources into one module (run.sh).
//
// The first input byte picks a mode (modulo 3):
//
//   0 raw     message                      : decoded with the default limit. What is
//                                            accepted must re-encode to the same bytes.
//   1 limit   maxBytes (2) | message       : decoded with maxBytes - 1 (so -1 ... 65534).
//                                            Accepted only if no longer than the limit,
//                                            and then exactly as with the default limit
//                                            (a larger limit never loosens a field limit).
//   2 encode  type (1) | fields            : a message built from the input, with fields of
//                                            any length (fixed fields included) and any
//                                            text, then encoded. What encodes must decode
//                                            to the same message (error text: its first 255
//                                            bytes at a character boundary) and re-encode
//                                            to the same bytes; what is refused must be
//                                            refused for a field out of its range.
//
// Every refusal must be a SignalCodecError with code malformed, unsupportedVersion or
// messageTooLarge; a trap, a crash or a sanitizer report stops the target.

import ParleyCrypto

func fuzzOneInput(_ input: inout FuzzInput) {
    switch input.byte() % 3 {
    case 0: fuzzRaw(input.rest())
    case 1: fuzzLimit(&input)
    default: fuzzEncode(&input)
    }
}

// MARK: Oracle

private func checkRefusal(_ error: SignalCodecError, _ what: String) {
    fuzzCheck([.malformed, .unsupportedVersion, .messageTooLarge].contains(error.code), "\(what) refused with \(error)")
    fuzzCheck(!error.message.isEmpty, "\(what) refused without a message")
}

/// A message that decoded must encode again, to exactly the bytes it came from.
private func checkCanonical(_ message: SignalMessage, _ bytes: [UInt8]) {
    do {
        let again = try SignalCodec.encode(message)
        fuzzCheck(again == bytes, "\(message.type) re-encoded to other bytes: \(Hex.encode(bytes.prefix(48))) -> \(Hex.encode(again.prefix(48)))")
    } catch {
        fuzzBug("a decoded \(message.type) does not encode: \(error)")
    }
    fuzzCheck(bytes.count <= SignalLimits.maxMessageBytes, "accepted \(bytes.count) bytes")
    fuzzCheck(bytes[0] == SignalLimits.version && bytes[1] == message.type.rawValue, "header does not match \(message.type)")
}

// MARK: Modes

private func fuzzRaw(_ bytes: [UInt8]) {
    do {
        checkCanonical(try SignalCodec.decode(bytes), bytes)
    } catch {
        checkRefusal(error, "decode")
    }
}

private func fuzzLimit(_ input: inout FuzzInput) {
    let maxBytes = Int(input.uint16()) - 1
    let bytes = input.rest()
    let limited = Result { () throws(SignalCodecError) in try SignalCodec.decode(bytes, maxBytes: maxBytes) }
    let unlimited = Result { () throws(SignalCodecError) in try SignalCodec.decode(bytes) }
    switch limited {
    case let .success(message):
        fuzzCheck(bytes.count <= maxBytes, "accepted \(bytes.count) bytes under a limit of \(maxBytes)")
        fuzzCheck(unlimited == .success(message), "the limit changed the decoded message")
    case let .failure(error):
        checkRefusal(error, "decode(maxBytes: \(maxBytes))")
        if bytes.count <= maxBytes {
            fuzzCheck(unlimited == .failure(error), "a limit the input fits changed the outcome: \(error) vs \(unlimited)")
        } else {
            fuzzCheck(error.code == .messageTooLarge, "\(bytes.count) bytes over a limit of \(maxBytes) refused as \(error)")
        }
    }
}

private func fuzzEncode(_ input: inout FuzzInput) {
    let (message, fieldsInRange) = buildMessage(&input)
    do {
        let bytes = try SignalCodec.encode(message)
        fuzzCheck(fieldsInRange, "encoded a \(message.type) with a field out of range")
        let decoded: SignalMessage
        do {
            decoded = try SignalCodec.decode(bytes)
        } catch {
            fuzzBug("\(message.type) does not decode from its own encoding: \(error)")
        }
        checkCanonical(decoded, bytes)
        if case let .error(code, text) = message {
            let utf8 = Array(text.utf8)
            let kept = Array(bytes.dropFirst(5))
            fuzzCheck(kept == Array(utf8.prefix(kept.count)), "error text is not a prefix of the original")
            fuzzCheck(kept.count == utf8.count || (kept.count > 251 && kept.count <= 255), "error text cut to \(kept.count) of \(utf8.count) bytes")
            fuzzCheck(decoded == .error(code: code, message: String(decoding: kept, as: UTF8.self)), "error decoded to another message")
        } else {
            fuzzCheck(decoded == message, "\(message.type) decoded to another message")
        }
    } catch {
        fuzzCheck(!fieldsInRange, "refused a \(message.type) with every field in range: \(error)")
        fuzzCheck(error.code == .malformed || error.code == .messageTooLarge, "encode refused with \(error)")
    }
}

/// A message of the type the input names (modulo the number of types), with fields
/// taken from the input, and whether every field is within the range the format allows.
private func buildMessage(_ input: inout FuzzInput) -> (SignalMessage, Bool) {
    let type = SignalType.allCases[Int(input.byte()) % SignalType.allCases.count]
    switch type {
    case .challenge:
        let nonce = input.sized()
        let message = SignalMessage.challenge(Challenge(nonce: nonce, maxMessageBytes: UInt32(truncatingIfNeeded: input.uint64()),
                                                        pingIntervalSeconds: input.uint16()))
        return (message, nonce.count == Challenge.nonceCount)
    case .auth:
        let key = input.sized(), signature = input.sized()
        let realm = input.text(), code = input.text()
        let realmCount = realm.utf8.count, codeCount = code.utf8.count
        let message = SignalMessage.auth(Auth(identityKey: key, signature: signature, realm: realm, enrollmentCode: code))
        return (message, key.count == 32 && signature.count == 64 && (1...64).contains(realmCount) && codeCount <= 64)
    case .welcome:
        let realm = input.text()
        return (.welcome(Welcome(deviceID: input.device(), realm: realm)), (1...64).contains(realm.utf8.count))
    case .presenceSnapshot:
        let count = Int(input.uint16()) % 1100
        let devices = (0..<count).map { _ in input.device() }
        return (.presenceSnapshot(devices), count <= SignalLimits.maxPresenceSnapshotDevices)
    case .presenceUpdate:
        return (.presenceUpdate(device: input.device(), online: input.byte() & 1 == 1), true)
    case .invite, .incomingCall, .accept, .signal:
        let device = input.device(), callID = input.callID()
        let payload = input.payload()
        let limit = SignalCodec.maxPayloadBytes(type) ?? 0
        let message: SignalMessage
        switch type {
        case .invite: message = .invite(callee: device, callID: callID, payload: payload)
        case .incomingCall: message = .incomingCall(caller: device, callID: callID, payload: payload)
        case .accept: message = .accept(callID: callID, payload: payload)
        default: message = .signal(callID: callID, payload: payload)
        }
        return (message, payload.count <= limit)
    case .ringing: return (.ringing(callID: input.callID()), true)
    case .reject: return (.reject(callID: input.callID()), true)
    case .hangup: return (.hangup(callID: input.callID()), true)
    case .callEnded:
        let callID = input.callID()
        let outcome = CallOutcome.allCases[Int(input.byte()) % CallOutcome.allCases.count]
        return (.callEnded(callID: callID, outcome: outcome), true)
    case .ping: return (.ping(input.uint64()), true)
    case .pong: return (.pong(input.uint64()), true)
    case .error:
        let code = SignalErrorCode.allCases[Int(input.byte()) % SignalErrorCode.allCases.count]
        let length = Int(input.uint16()) % 400
        return (.error(code: code, message: String(decoding: input.bytes(length), as: UTF8.self)), true)
    }
}

// MARK: Input

/// This target's fields, on top of ProtocolFuzzSupport's readers.
private extension FuzzInput {
    /// length (1, 0...255) | bytes: a fixed field of any length.
    mutating func sized() -> [UInt8] { bytes(Int(byte())) }

    /// length (1, modulo 80) | bytes, made valid UTF-8 (invalid sequences become U+FFFD).
    mutating func text() -> String { String(decoding: bytes(Int(byte()) % 80), as: UTF8.self) }

    /// length (2, modulo 33800, so the signal limit is crossed) | bytes.
    mutating func payload() -> [UInt8] { bytes(Int(uint16()) % 33_800) }

    mutating func device() -> DeviceID {
        // 20 bytes is DeviceID.byteCount, so this cannot throw.
        try! DeviceID(rawBytes: bytes(DeviceID.byteCount))
    }

    mutating func callID() -> CallID {
        // 16 bytes is CallID.byteCount, so this cannot throw.
        try! CallID(bytes: bytes(CallID.byteCount))
    }
}

// MARK: Seeds

func fuzzSeeds() -> [[UInt8]] {
    let device = [UInt8](repeating: 0xaa, count: 20), call = [UInt8](0..<16)
    let messages: [[UInt8]] = [
        [1, 0x01] + [UInt8](repeating: 7, count: 32) + [0, 0, 0x80, 0x2d, 0, 25],
        [1, 0x02] + [UInt8](repeating: 1, count: 32) + [UInt8](repeating: 2, count: 64) + [4] + Array("home".utf8) + [2] + Array("ab".utf8),
        [1, 0x03] + device + [4] + Array("home".utf8),
        [1, 0x10, 0, 2] + device + device,
        [1, 0x11] + device + [1],
        [1, 0x20] + device + call + [0, 4, 1, 2, 3, 4],
        [1, 0x21] + device + call + [0, 0],
        [1, 0x22] + call,
        [1, 0x23] + call + [0, 1, 9],
        [1, 0x24] + call,
        [1, 0x25] + call + [2],
        [1, 0x30] + call + [0, 3, 1, 2, 3],
        [1, 0x31] + call,
        [1, 0x40, 1, 2, 3, 4, 5, 6, 7, 8],
        [1, 0x41, 0, 0, 0, 0, 0, 0, 0, 1],
        [1, 0x7f, 0x07, 0xda] + [9] + Array("slow down".utf8),
    ]
    var seeds = messages.map { [0] + $0 }
    seeds += messages.map { [1, 0x01, 0x00] + $0 }
    seeds += (0..<SignalType.allCases.count).map { [2, UInt8($0), 32] + [UInt8](repeating: 0x41, count: 120) }
    return seeds
}
