/// The four handshake messages of a call and their exact byte layouts
/// (PROTOCOL.md, "Call handshake"). Decoding is strict: fixed sizes, known type,
/// known version, no trailing bytes.
public enum CallRole: UInt8, Sendable {
    case caller = 1
    case callee = 2
}

/// ADa / ADb: what each side binds into CPace in the clear.
/// Layout (51 bytes): version (1) | role (1) | flags (1) | call ID (16) | Ed25519 identity key (32).
public struct HandshakeAssociatedData: Equatable, Sendable {
    public static let byteCount = 3 + SpecConstants.callIDCount + Ed25519.publicKeyCount
    /// flags bit 0: this side set a security code.
    public static let flagCodeSet: UInt8 = 0x01

    public var version: UInt8
    public var role: CallRole
    public var flags: UInt8
    public var callID: [UInt8]
    public var identityKey: [UInt8]

    public var codeSet: Bool { flags & HandshakeAssociatedData.flagCodeSet != 0 }

    public init(version: UInt8 = SpecConstants.protocolVersion, role: CallRole, codeSet: Bool, callID: [UInt8], identityKey: [UInt8]) {
        self.version = version
        self.role = role
        self.flags = codeSet ? HandshakeAssociatedData.flagCodeSet : 0
        self.callID = callID
        self.identityKey = identityKey
    }

    public var encoded: [UInt8] { [version, role.rawValue, flags] + callID + identityKey }

    public static func decode(_ reader: inout ByteReader) throws -> HandshakeAssociatedData {
        let version = try reader.readByte("AD version")
        guard version == SpecConstants.protocolVersion else { throw CryptoError.unsupportedVersion(version) }
        let roleByte = try reader.readByte("AD role")
        guard let role = CallRole(rawValue: roleByte) else { throw CryptoError.malformed("unknown role \(roleByte)") }
        let flags = try reader.readByte("AD flags")
        guard flags & ~flagCodeSet == 0 else { throw CryptoError.malformed("unknown flags 0x\(String(flags, radix: 16))") }
        let callID = try reader.readBytes(SpecConstants.callIDCount, "call ID")
        let key = try reader.readBytes(Ed25519.publicKeyCount, "identity key")
        var ad = HandshakeAssociatedData(version: version, role: role, codeSet: false, callID: callID, identityKey: key)
        ad.flags = flags
        return ad
    }
}

/// Message 1, caller to callee (carried in the invite): the caller's CPace element
/// is only committed to here, and revealed in message 3, so a relay must choose its
/// own element before it can know the caller's (no SAS grinding).
/// type 0x01 | commitment (32) | ADa (51) | signature (64) = 148 bytes.
public struct HandshakeInvite: Equatable, Sendable {
    public static let type: UInt8 = 0x01
    public static let byteCount = 1 + KeySchedule.commitmentCount + HandshakeAssociatedData.byteCount + Ed25519.signatureCount

    public var commitment: [UInt8]
    public var associatedData: HandshakeAssociatedData
    public var signature: [UInt8]

    public var encoded: [UInt8] { [HandshakeInvite.type] + commitment + associatedData.encoded + signature }
}

/// Message 2, callee to caller (carried in the accept):
/// type 0x02 | Yb (32) | ADb (51) | signature (64) = 148 bytes.
public struct HandshakeResponse: Equatable, Sendable {
    public static let type: UInt8 = 0x02
    public static let byteCount = 1 + CPace.elementCount + HandshakeAssociatedData.byteCount + Ed25519.signatureCount

    public var element: [UInt8]
    public var associatedData: HandshakeAssociatedData
    public var signature: [UInt8]

    public var encoded: [UInt8] { [HandshakeResponse.type] + element + associatedData.encoded + signature }
}

/// Message 3, caller to callee: type 0x03 | Ya (32) | caller's confirmation tag (32) = 65 bytes.
public struct HandshakeConfirm: Equatable, Sendable {
    public static let type: UInt8 = 0x03
    public static let byteCount = 1 + CPace.elementCount + KeySchedule.confirmTagCount

    public var element: [UInt8]
    public var confirmTag: [UInt8]

    public var encoded: [UInt8] { [HandshakeConfirm.type] + element + confirmTag }
}

/// Message 4, callee to caller: type 0x04 | callee's confirmation tag (32) = 33 bytes.
public struct HandshakeFinish: Equatable, Sendable {
    public static let type: UInt8 = 0x04
    public static let byteCount = 1 + KeySchedule.confirmTagCount

    public var confirmTag: [UInt8]

    public var encoded: [UInt8] { [HandshakeFinish.type] + confirmTag }
}

/// Any handshake message, as decoded from the wire.
public enum HandshakeMessage: Equatable, Sendable {
    case invite(HandshakeInvite)
    case response(HandshakeResponse)
    case confirm(HandshakeConfirm)
    case finish(HandshakeFinish)

    /// Largest handshake message; decoders refuse anything longer before parsing.
    public static let maxByteCount = max(HandshakeInvite.byteCount, HandshakeResponse.byteCount)

    public static func decode(_ bytes: [UInt8]) throws -> HandshakeMessage {
        guard bytes.count <= maxByteCount else { throw CryptoError.tooLarge(limit: maxByteCount, actual: bytes.count) }
        var reader = ByteReader(bytes)
        let type = try reader.readByte("message type")
        let message: HandshakeMessage
        switch type {
        case HandshakeInvite.type:
            let commitment = try reader.readBytes(KeySchedule.commitmentCount, "commitment")
            let ad = try HandshakeAssociatedData.decode(&reader)
            let signature = try reader.readBytes(Ed25519.signatureCount, "signature")
            message = .invite(HandshakeInvite(commitment: commitment, associatedData: ad, signature: signature))
        case HandshakeResponse.type:
            let element = try reader.readBytes(CPace.elementCount, "Yb")
            let ad = try HandshakeAssociatedData.decode(&reader)
            let signature = try reader.readBytes(Ed25519.signatureCount, "signature")
            message = .response(HandshakeResponse(element: element, associatedData: ad, signature: signature))
        case HandshakeConfirm.type:
            let element = try reader.readBytes(CPace.elementCount, "Ya")
            let tag = try reader.readBytes(KeySchedule.confirmTagCount, "confirmation tag")
            message = .confirm(HandshakeConfirm(element: element, confirmTag: tag))
        case HandshakeFinish.type:
            let tag = try reader.readBytes(KeySchedule.confirmTagCount, "confirmation tag")
            message = .finish(HandshakeFinish(confirmTag: tag))
        default:
            throw CryptoError.malformed("unknown handshake message type 0x\(String(type, radix: 16))")
        }
        try reader.expectEnd("handshake message")
        return message
    }

    public var encoded: [UInt8] {
        switch self {
        case let .invite(message): return message.encoded
        case let .response(message): return message.encoded
        case let .confirm(message): return message.encoded
        case let .finish(message): return message.encoded
        }
    }
}
