import ParleyCrypto

/// Every message of the signalling protocol between a device and `parley-signal`
/// (PROTOCOL.md, "Signalling envelope"). One message per WebSocket binary message:
///
///     version (1) = 1 | type (1) | body (layout per type)
///
/// The server parses this envelope only; `payload` fields (handshake messages and
/// sealed blobs) are opaque to it and relayed unchanged.
public enum SignalMessage: Equatable, Sendable {
    // Connection and authentication
    /// S->C, first message on a connection: a fresh nonce the device signs.
    case challenge(Challenge)
    /// C->S: the device proves its identity key and names its realm.
    case auth(Auth)
    /// S->C: authentication succeeded.
    case welcome(Welcome)

    // Presence (own realm only)
    /// S->C, right after welcome: the devices of the realm that are online now.
    case presenceSnapshot([DeviceID])
    /// S->C: a device of the realm came online (true) or went offline (false).
    case presenceUpdate(device: DeviceID, online: Bool)

    // Calls
    /// C->S: call `callee`; `payload` is handshake message 1.
    case invite(callee: DeviceID, callID: CallID, payload: [UInt8])
    /// S->C: `caller` is calling; `payload` is handshake message 1.
    case incomingCall(caller: DeviceID, callID: CallID, payload: [UInt8])
    /// S->C: the callee's device is ringing.
    case ringing(callID: CallID)
    /// C->S from the callee, then S->C to the caller: `payload` is handshake message 2.
    case accept(callID: CallID, payload: [UInt8])
    /// C->S from the callee: decline the call.
    case reject(callID: CallID)
    /// S->C: how a call that did not connect, or did connect and ended, finished.
    case callEnded(callID: CallID, outcome: CallOutcome)
    /// Both ways: an opaque payload for the other party of an accepted call
    /// (handshake messages 3 and 4, sealed blobs).
    case signal(callID: CallID, payload: [UInt8])
    /// C->S: end the call (either party, in any state).
    case hangup(callID: CallID)

    // Keepalive and errors
    case ping(UInt64)
    case pong(UInt64)
    /// S->C: a request was refused or a limit was hit; `code` is stable.
    case error(code: SignalErrorCode, message: String)
}

/// A call's 16-byte identifier (CPace's sid), chosen by the caller.
public struct CallID: Hashable, Sendable, CustomStringConvertible {
    public static let byteCount = SpecConstants.callIDCount
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws {
        guard bytes.count == CallID.byteCount else {
            throw CryptoError.invalidLength(what: "call ID", expected: CallID.byteCount, actual: bytes.count)
        }
        self.bytes = bytes
    }

    public var description: String { Hex.encode(bytes) }

    /// The 16 bytes in one hasher call (see `DeviceID.hash(into:)`).
    public func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    public static func == (lhs: CallID, rhs: CallID) -> Bool { lhs.bytes == rhs.bytes }
}

public struct Challenge: Equatable, Sendable {
    public static let nonceCount = 32
    /// Fresh random bytes; never reused across connections.
    public var nonce: [UInt8]
    /// The largest signalling message the server accepts, in bytes.
    public var maxMessageBytes: UInt32
    /// How often the server expects a ping (or any message), in seconds.
    public var pingIntervalSeconds: UInt16

    public init(nonce: [UInt8], maxMessageBytes: UInt32, pingIntervalSeconds: UInt16) {
        self.nonce = nonce
        self.maxMessageBytes = maxMessageBytes
        self.pingIntervalSeconds = pingIntervalSeconds
    }
}

public struct Auth: Equatable, Sendable {
    public static let maxRealmBytes = 64
    public static let maxEnrollmentCodeBytes = 64
    public var identityKey: [UInt8]
    /// Ed25519 over `Auth.signedData(...)`.
    public var signature: [UInt8]
    /// UTF-8, 1...64 bytes.
    public var realm: String
    /// Empty unless the device presents a one-time enrollment code.
    public var enrollmentCode: String

    public init(identityKey: [UInt8], signature: [UInt8], realm: String, enrollmentCode: String) {
        self.identityKey = identityKey
        self.signature = signature
        self.realm = realm
        self.enrollmentCode = enrollmentCode
    }

    /// What the device signs: lv_cat("parley/1 auth", nonce, server certificate
    /// SHA-256 as the device saw it, realm, enrollment code). Binding the certificate
    /// stops a server the device did not mean to reach from relaying the signature.
    public static func signedData(nonce: [UInt8], serverCertificateSHA256: [UInt8], realm: String, enrollmentCode: String) -> [UInt8] {
        CPace.lvCat(Array("parley/1 auth".utf8), nonce, serverCertificateSHA256, Array(realm.utf8), Array(enrollmentCode.utf8))
    }
}

public struct Welcome: Equatable, Sendable {
    public var deviceID: DeviceID
    public var realm: String

    public init(deviceID: DeviceID, realm: String) {
        self.deviceID = deviceID
        self.realm = realm
    }
}

/// How a call ended, as the server reports it (stable wire values).
public enum CallOutcome: UInt8, Sendable, CaseIterable {
    /// The callee declined.
    case rejected = 1
    /// The callee is in another call.
    case busy = 2
    /// The callee is not connected (or not in the caller's realm).
    case unavailable = 3
    /// Nobody answered before the ring timeout.
    case unanswered = 4
    /// Both devices called each other at once; this call lost (PROTOCOL.md, "Glare").
    case glare = 5
    /// The other party hung up.
    case hungUp = 6
    /// The other party disconnected.
    case peerGone = 7
    /// The caller gave up before an answer.
    case cancelled = 8
}

/// Stable error codes of the signalling protocol (PROTOCOL.md, "Signalling error codes").
public enum SignalErrorCode: UInt16, Sendable, CaseIterable {
    case malformed = 2001
    case unsupportedVersion = 2002
    case unexpectedMessage = 2003
    case messageTooLarge = 2004
    case authenticationFailed = 2005
    case notEnrolled = 2006
    case enrollmentCodeInvalid = 2007
    case revoked = 2008
    case replaced = 2009
    case rateLimited = 2010
    case sendQueueFull = 2011
    case serverFull = 2012
    case handshakeTimeout = 2013
    case idleTimeout = 2014
    case unknownCall = 2015
    case invalidTarget = 2016
    case tooManyCalls = 2017
    case shuttingDown = 2018
}
