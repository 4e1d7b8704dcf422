import ParleyCrypto

/// The binary codec of the signalling envelope (PROTOCOL.md, "Signalling envelope"):
///
///     version (1) = 1 | type (1) | body (layout per type, big-endian)
///
/// The encoding is canonical: `decode` accepts exactly the bytes `encode` produces,
/// so a decoded message re-encodes to the same bytes. Neither function traps on any
/// input; both refuse with a `SignalCodecError` whose `code` the server sends back.
///
/// Relaying cheaply. `signal` and `accept` have the same layout both ways, so once
/// `decode` has accepted one, the server forwards the received bytes unchanged. An
/// invite becomes an incomingCall with `encodeIncomingCall(caller:callID:payload:)`,
/// which shares the decoded payload array and copies it once, into the output.
public enum SignalCodec {
    /// The decoder's default input limit: the largest valid message.
    public static let defaultMaxBytes = SignalLimits.maxMessageBytes

    // MARK: Decoding

    /// Decodes one message. Inputs longer than `maxBytes` are refused with
    /// `messageTooLarge` before any byte is read; then the version (`unsupportedVersion`
    /// unless 1), the type and the body are read in order. Any other refusal is
    /// `malformed`, except a payload or snapshot over its limit (`messageTooLarge`).
    public static func decode(_ bytes: [UInt8], maxBytes: Int = defaultMaxBytes) throws(SignalCodecError) -> SignalMessage {
        guard bytes.count <= maxBytes else { throw .tooLarge("message size", limit: maxBytes, actual: bytes.count) }
        var reader = SignalReader(bytes)
        let version = try reader.uint8("version")
        guard version == SignalLimits.version else {
            throw SignalCodecError(code: .unsupportedVersion, message: "envelope version \(version) is not supported (this side speaks \(SignalLimits.version))")
        }
        let typeByte = try reader.uint8("type")
        guard let type = SignalType(rawValue: typeByte) else {
            throw .malformed("unknown message type 0x\(Hex.encode([typeByte]))")
        }
        let message = try decodeBody(type, &reader)
        try reader.expectEnd(type)
        return message
    }

    private static func decodeBody(_ type: SignalType, _ reader: inout SignalReader) throws(SignalCodecError) -> SignalMessage {
        switch type {
        case .challenge:
            let nonce = try reader.bytes(Challenge.nonceCount, "nonce")
            let maxMessageBytes = try reader.uint32("max message bytes")
            let pingInterval = try reader.uint16("ping interval")
            return .challenge(Challenge(nonce: nonce, maxMessageBytes: maxMessageBytes, pingIntervalSeconds: pingInterval))
        case .auth:
            let identityKey = try reader.bytes(Ed25519.publicKeyCount, "identity key")
            let signature = try reader.bytes(Ed25519.signatureCount, "signature")
            let realm = try reader.string("realm", minBytes: 1, maxBytes: SignalLimits.maxRealmBytes)
            let code = try reader.string("enrollment code", maxBytes: SignalLimits.maxEnrollmentCodeBytes)
            return .auth(Auth(identityKey: identityKey, signature: signature, realm: realm, enrollmentCode: code))
        case .welcome:
            let device = try reader.deviceID("device ID")
            let realm = try reader.string("realm", minBytes: 1, maxBytes: SignalLimits.maxRealmBytes)
            return .welcome(Welcome(deviceID: device, realm: realm))
        case .presenceSnapshot:
            let count = Int(try reader.uint16("device count"))
            guard count <= SignalLimits.maxPresenceSnapshotDevices else {
                throw .tooLarge("presence snapshot device count", limit: SignalLimits.maxPresenceSnapshotDevices, actual: count)
            }
            var devices: [DeviceID] = []
            devices.reserveCapacity(count)
            for _ in 0..<count { devices.append(try reader.deviceID("device ID")) }
            return .presenceSnapshot(devices)
        case .presenceUpdate:
            let device = try reader.deviceID("device ID")
            let online = try reader.uint8("online flag")
            guard online <= 1 else { throw .malformed("online flag \(online) is neither 0 nor 1") }
            return .presenceUpdate(device: device, online: online == 1)
        case .invite:
            let callee = try reader.deviceID("callee")
            let callID = try reader.callID()
            return .invite(callee: callee, callID: callID, payload: try reader.payload(maxBytes: SignalLimits.maxHandshakePayloadBytes))
        case .incomingCall:
            let caller = try reader.deviceID("caller")
            let callID = try reader.callID()
            return .incomingCall(caller: caller, callID: callID, payload: try reader.payload(maxBytes: SignalLimits.maxHandshakePayloadBytes))
        case .ringing:
            return .ringing(callID: try reader.callID())
        case .accept:
            let callID = try reader.callID()
            return .accept(callID: callID, payload: try reader.payload(maxBytes: SignalLimits.maxHandshakePayloadBytes))
        case .reject:
            return .reject(callID: try reader.callID())
        case .callEnded:
            let callID = try reader.callID()
            let raw = try reader.uint8("outcome")
            guard let outcome = CallOutcome(rawValue: raw) else { throw .malformed("unknown call outcome \(raw)") }
            return .callEnded(callID: callID, outcome: outcome)
        case .signal:
            let callID = try reader.callID()
            return .signal(callID: callID, payload: try reader.payload(maxBytes: SignalLimits.maxSignalPayloadBytes))
        case .hangup:
            return .hangup(callID: try reader.callID())
        case .ping:
            return .ping(try reader.uint64("ping value"))
        case .pong:
            return .pong(try reader.uint64("pong value"))
        case .error:
            let raw = try reader.uint16("error code")
            guard let code = SignalErrorCode(rawValue: raw) else { throw .malformed("unknown error code \(raw)") }
            return .error(code: code, message: try reader.string("error message", maxBytes: SignalLimits.maxErrorMessageBytes))
        }
    }

    // MARK: Encoding

    /// Encodes one message. Refuses, instead of writing a message the peer would refuse:
    /// a nonce, identity key or signature of the wrong length (`malformed`), a realm
    /// that is empty or over 64 bytes or an enrollment code over 64 bytes (`malformed`),
    /// a payload over its limit or a snapshot of more than 1024 devices
    /// (`messageTooLarge`). Error text over 255 bytes is truncated at a UTF-8 character
    /// boundary, so only that message can decode to something else than was encoded.
    public static func encode(_ message: SignalMessage) throws(SignalCodecError) -> [UInt8] {
        switch message {
        case let .challenge(challenge):
            try checkCount(challenge.nonce, Challenge.nonceCount, "nonce")
            var writer = SignalWriter(.challenge, bodyCount: Challenge.nonceCount + 4 + 2)
            writer.append(challenge.nonce)
            writer.appendUInt32(challenge.maxMessageBytes)
            writer.appendUInt16(challenge.pingIntervalSeconds)
            return writer.bytes
        case let .auth(auth):
            try checkCount(auth.identityKey, Ed25519.publicKeyCount, "identity key")
            try checkCount(auth.signature, Ed25519.signatureCount, "signature")
            let realm = try checkedString(auth.realm, "realm", minBytes: 1, maxBytes: SignalLimits.maxRealmBytes)
            let code = try checkedString(auth.enrollmentCode, "enrollment code", maxBytes: SignalLimits.maxEnrollmentCodeBytes)
            var writer = SignalWriter(.auth, bodyCount: Ed25519.publicKeyCount + Ed25519.signatureCount + 1 + realm.count + 1 + code.count)
            writer.append(auth.identityKey)
            writer.append(auth.signature)
            writer.appendString(realm)
            writer.appendString(code)
            return writer.bytes
        case let .welcome(welcome):
            let realm = try checkedString(welcome.realm, "realm", minBytes: 1, maxBytes: SignalLimits.maxRealmBytes)
            var writer = SignalWriter(.welcome, bodyCount: DeviceID.byteCount + 1 + realm.count)
            writer.append(welcome.deviceID.bytes)
            writer.appendString(realm)
            return writer.bytes
        case let .presenceSnapshot(devices):
            guard devices.count <= SignalLimits.maxPresenceSnapshotDevices else {
                throw .tooLarge("presence snapshot device count", limit: SignalLimits.maxPresenceSnapshotDevices, actual: devices.count)
            }
            var writer = SignalWriter(.presenceSnapshot, bodyCount: 2 + devices.count * DeviceID.byteCount)
            writer.appendUInt16(UInt16(devices.count))
            for device in devices { writer.append(device.bytes) }
            return writer.bytes
        case let .presenceUpdate(device, online):
            var writer = SignalWriter(.presenceUpdate, bodyCount: DeviceID.byteCount + 1)
            writer.append(device.bytes)
            writer.append(online ? 1 : 0)
            return writer.bytes
        case let .invite(callee, callID, payload):
            return try encodeRouted(.invite, device: callee, callID: callID, payload: payload)
        case let .incomingCall(caller, callID, payload):
            return try encodeRouted(.incomingCall, device: caller, callID: callID, payload: payload)
        case let .ringing(callID):
            return encodeCallID(.ringing, callID)
        case let .accept(callID, payload):
            return try encodeRouted(.accept, device: nil, callID: callID, payload: payload)
        case let .reject(callID):
            return encodeCallID(.reject, callID)
        case let .callEnded(callID, outcome):
            var writer = SignalWriter(.callEnded, bodyCount: CallID.byteCount + 1)
            writer.append(callID.bytes)
            writer.append(outcome.rawValue)
            return writer.bytes
        case let .signal(callID, payload):
            return try encodeSignal(callID: callID, payload: payload)
        case let .hangup(callID):
            return encodeCallID(.hangup, callID)
        case let .ping(value):
            return encodeUInt64(.ping, value)
        case let .pong(value):
            return encodeUInt64(.pong, value)
        case let .error(code, text):
            let utf8 = truncatedUTF8(text, maxBytes: SignalLimits.maxErrorMessageBytes)
            var writer = SignalWriter(.error, bodyCount: 2 + 1 + utf8.count)
            writer.appendUInt16(code.rawValue)
            writer.appendString(utf8)
            return writer.bytes
        }
    }

    /// `encode(.signal(callID:payload:))` from its parts: what the server sends the
    /// other party of a call. (The server may equally forward the received signal's bytes.)
    public static func encodeSignal(callID: CallID, payload: [UInt8]) throws(SignalCodecError) -> [UInt8] {
        try encodeRouted(.signal, device: nil, callID: callID, payload: payload)
    }

    /// `encode(.incomingCall(caller:callID:payload:))` from its parts: how the server
    /// passes a decoded invite on to the callee, with the caller's ID in place of the callee's.
    public static func encodeIncomingCall(caller: DeviceID, callID: CallID, payload: [UInt8]) throws(SignalCodecError) -> [UInt8] {
        try encodeRouted(.incomingCall, device: caller, callID: callID, payload: payload)
    }

    /// `encode(.accept(callID:payload:))` from its parts. (The server may equally
    /// forward the received accept's bytes.)
    public static func encodeAccept(callID: CallID, payload: [UInt8]) throws(SignalCodecError) -> [UInt8] {
        try encodeRouted(.accept, device: nil, callID: callID, payload: payload)
    }

    /// Largest payload a message type may carry, or nil if it carries none.
    public static func maxPayloadBytes(_ type: SignalType) -> Int? {
        switch type {
        case .invite, .incomingCall, .accept: return SignalLimits.maxHandshakePayloadBytes
        case .signal: return SignalLimits.maxSignalPayloadBytes
        default: return nil
        }
    }

    /// [device ID] | call ID | payload lv16: invite, incomingCall, accept, signal.
    private static func encodeRouted(_ type: SignalType, device: DeviceID?, callID: CallID, payload: [UInt8]) throws(SignalCodecError) -> [UInt8] {
        // Every caller passes a type that carries a payload.
        let limit = maxPayloadBytes(type) ?? 0
        guard payload.count <= limit else { throw .tooLarge("\(type) payload length", limit: limit, actual: payload.count) }
        let deviceCount = device == nil ? 0 : DeviceID.byteCount
        var writer = SignalWriter(type, bodyCount: deviceCount + CallID.byteCount + 2 + payload.count)
        if let device { writer.append(device.bytes) }
        writer.append(callID.bytes)
        writer.appendUInt16(UInt16(payload.count))
        writer.append(payload)
        return writer.bytes
    }

    private static func encodeCallID(_ type: SignalType, _ callID: CallID) -> [UInt8] {
        var writer = SignalWriter(type, bodyCount: CallID.byteCount)
        writer.append(callID.bytes)
        return writer.bytes
    }

    private static func encodeUInt64(_ type: SignalType, _ value: UInt64) -> [UInt8] {
        var writer = SignalWriter(type, bodyCount: 8)
        writer.appendUInt64(value)
        return writer.bytes
    }

    private static func checkCount(_ bytes: [UInt8], _ expected: Int, _ what: String) throws(SignalCodecError) {
        guard bytes.count == expected else { throw .malformed("\(what) must be \(expected) bytes, got \(bytes.count)") }
    }

    private static func checkedString(_ text: String, _ what: String, minBytes: Int = 0, maxBytes: Int) throws(SignalCodecError) -> [UInt8] {
        let utf8 = Array(text.utf8)
        guard utf8.count <= maxBytes else { throw .malformed("\(what) of \(utf8.count) bytes exceeds the limit of \(maxBytes)") }
        guard utf8.count >= minBytes else { throw .malformed("\(what) of \(utf8.count) bytes is shorter than \(minBytes)") }
        return utf8
    }

    /// The UTF-8 of `text`, cut to at most `maxBytes` bytes before a character's first
    /// byte, so the result is still valid UTF-8.
    static func truncatedUTF8(_ text: String, maxBytes: Int) -> [UInt8] {
        var utf8 = Array(text.utf8)
        guard utf8.count > maxBytes else { return utf8 }
        var cut = maxBytes
        while cut > 0, utf8[cut] & 0xc0 == 0x80 { cut -= 1 }
        utf8.removeSubrange(cut...)
        return utf8
    }
}

/// Writes one message into a buffer reserved at its exact final size.
private struct SignalWriter {
    private(set) var bytes: [UInt8]

    init(_ type: SignalType, bodyCount: Int) {
        bytes = []
        bytes.reserveCapacity(SignalLimits.headerCount + bodyCount)
        bytes.append(SignalLimits.version)
        bytes.append(type.rawValue)
    }

    mutating func append(_ byte: UInt8) { bytes.append(byte) }
    mutating func append(_ more: [UInt8]) { bytes.append(contentsOf: more) }

    mutating func appendUInt16(_ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    mutating func appendUInt32(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    mutating func appendUInt64(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    /// lv8: the caller has checked that `utf8` is at most 255 bytes.
    mutating func appendString(_ utf8: [UInt8]) {
        bytes.append(UInt8(truncatingIfNeeded: utf8.count))
        bytes.append(contentsOf: utf8)
    }
}
