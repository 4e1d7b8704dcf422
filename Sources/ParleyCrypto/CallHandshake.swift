/// How a side checks who is at the other end of the call.
public enum PeerIdentityPolicy: Sendable {
    /// The peer's identity key must hash to the device ID of the call (the one the
    /// caller dialled, or the one the server says is calling). A relay that swaps in
    /// its own handshake messages fails with `badSignature` or `identityMismatch`.
    case requireDeviceID
    /// Any identity key is accepted once it proves possession by signing the
    /// transcript; `CallKeys.peerDeviceID` reports which. Without a security code the
    /// two people must then compare the SAS to detect a relay in the middle.
    case acceptAnyIdentity
}

/// The caller's side of the call handshake (PROTOCOL.md, "Call handshake"):
/// `inviteMessage` goes out with the invite, `consumeResponse` takes the callee's
/// accept and returns the confirm message and the call's keys.
public final class CallInitiator {
    public let callID: [UInt8]
    /// Message 1, to send with the invite.
    public let inviteMessage: [UInt8]
    private let identity: DeviceIdentity
    private let calleeID: DeviceID
    private let policy: PeerIdentityPolicy
    private let codeSet: Bool
    private let channelIdentifier: [UInt8]
    private let associatedData: HandshakeAssociatedData
    private let party: CPace.Party
    private var finished = false

    /// - Parameters:
    ///   - callID: 16 bytes; drawn from `entropy` when nil.
    ///   - securityCode: nil when no code was set (PRS is then the empty string).
    public init(identity: DeviceIdentity, calleeID: DeviceID, securityCode: SecurityCode?,
                policy: PeerIdentityPolicy = .requireDeviceID, callID: [UInt8]? = nil,
                entropy: EntropySource = SystemEntropy.shared) throws {
        let callID = callID ?? entropy.bytes(SpecConstants.callIDCount)
        guard callID.count == SpecConstants.callIDCount else {
            throw CryptoError.invalidLength(what: "call ID", expected: SpecConstants.callIDCount, actual: callID.count)
        }
        self.callID = callID
        self.identity = identity
        self.calleeID = calleeID
        self.policy = policy
        self.codeSet = securityCode != nil
        channelIdentifier = CallHandshake.channelIdentifier(caller: identity.deviceID, callee: calleeID)
        associatedData = HandshakeAssociatedData(role: .caller, codeSet: codeSet, callID: callID, identityKey: identity.publicKey)
        party = try CPace.Party(prs: securityCode?.secret, ci: channelIdentifier, sid: callID, entropy: entropy)
        let signature = try identity.sign(CallHandshake.inviteSignedData(ci: channelIdentifier, sid: callID,
                                                                          element: party.message, ad: associatedData.encoded))
        inviteMessage = HandshakeInvite(element: party.message, associatedData: associatedData, signature: signature).encoded
    }

    /// Verifies the callee's message 2 and returns message 3 plus the call's keys.
    /// Errors: `securityCodeMismatch` (codes differ or set on one side only, or a relay
    /// that does not know the code), `identityMismatch`, `badSignature`,
    /// `invalidPublicKey`, `malformed`, `unsupportedVersion`, `invalidState`.
    /// Any error ends the handshake and erases its secrets.
    public func consumeResponse(_ bytes: [UInt8]) throws -> (confirmMessage: [UInt8], keys: CallKeys) {
        guard !finished else { throw CryptoError.invalidState("the response was already consumed") }
        finished = true
        defer { party.erase() }
        guard case let .response(response) = try HandshakeMessage.decode(bytes) else {
            throw CryptoError.malformed("expected a handshake response (type 0x02)")
        }
        let peerAD = response.associatedData
        guard peerAD.role == .callee else { throw CryptoError.malformed("response not sent by a callee") }
        guard constantTimeEqual(peerAD.callID, callID) else { throw CryptoError.malformed("response belongs to another call") }
        guard peerAD.codeSet == codeSet else { throw CryptoError.securityCodeMismatch }
        let peerID = try CallHandshake.checkIdentity(peerAD.identityKey, expected: calleeID, policy: policy)
        let transcript = CPace.transcriptIR(ya: party.message, adA: associatedData.encoded, yb: response.element, adB: peerAD.encoded)
        try Ed25519.verify(response.signature,
                           of: CallHandshake.transcriptSignedData(Labels.signatureResponse, ci: channelIdentifier, sid: callID, transcript: transcript),
                           publicKey: peerAD.identityKey)
        let isk = try party.deriveISK(peerMessage: response.element, transcript: transcript)
        let derived = try KeySchedule.Derived(isk: isk, transcriptHash: KeySchedule.transcriptHash(ci: channelIdentifier, sid: callID, transcript: transcript))
        guard try derived.checkConfirmTag(response.confirmTag, from: .callee) else {
            derived.eraseAll()
            throw CryptoError.securityCodeMismatch
        }
        let signature = try identity.sign(CallHandshake.transcriptSignedData(Labels.signatureConfirm, ci: channelIdentifier, sid: callID, transcript: transcript))
        let confirm = HandshakeConfirm(signature: signature, confirmTag: try derived.confirmTag(for: .caller))
        let keys = derived.callKeys(role: .caller, callID: callID, local: identity.deviceID, peer: peerID, peerIdentityKey: peerAD.identityKey)
        return (confirm.encoded, keys)
    }

    /// Abandons the handshake and erases its secrets.
    public func erase() {
        finished = true
        party.erase()
    }
}

/// The callee's side: `consumeInvite` answers message 1 with message 2; after the
/// caller's message 3, `consumeConfirm` returns the call's keys.
public final class CallResponder {
    private let identity: DeviceIdentity
    private let callerID: DeviceID
    private let policy: PeerIdentityPolicy
    private let securityCode: SecurityCode?
    private let entropy: EntropySource
    private var state: State = .awaitingInvite

    private enum State {
        case awaitingInvite
        case awaitingConfirm(Pending)
        case finished
    }

    private struct Pending {
        let derived: KeySchedule.Derived
        let callID: [UInt8]
        let channelIdentifier: [UInt8]
        let transcript: [UInt8]
        let peerID: DeviceID
        let peerIdentityKey: [UInt8]
    }

    /// - Parameter callerID: the device the signalling server says is calling.
    public init(identity: DeviceIdentity, callerID: DeviceID, securityCode: SecurityCode?,
                policy: PeerIdentityPolicy = .requireDeviceID, entropy: EntropySource = SystemEntropy.shared) {
        self.identity = identity
        self.callerID = callerID
        self.policy = policy
        self.securityCode = securityCode
        self.entropy = entropy
    }

    /// The call ID of the invite, once consumed.
    public private(set) var callID: [UInt8]?

    /// Verifies message 1 and returns message 2.
    public func consumeInvite(_ bytes: [UInt8]) throws -> [UInt8] {
        guard case .awaitingInvite = state else { throw CryptoError.invalidState("the invite was already consumed") }
        state = .finished
        guard case let .invite(invite) = try HandshakeMessage.decode(bytes) else {
            throw CryptoError.malformed("expected a handshake invite (type 0x01)")
        }
        let peerAD = invite.associatedData
        guard peerAD.role == .caller else { throw CryptoError.malformed("invite not sent by a caller") }
        guard peerAD.codeSet == (securityCode != nil) else { throw CryptoError.securityCodeMismatch }
        let peerID = try CallHandshake.checkIdentity(peerAD.identityKey, expected: callerID, policy: policy)
        let sid = peerAD.callID
        let ci = CallHandshake.channelIdentifier(caller: peerID, callee: identity.deviceID)
        try Ed25519.verify(invite.signature, of: CallHandshake.inviteSignedData(ci: ci, sid: sid, element: invite.element, ad: peerAD.encoded),
                           publicKey: peerAD.identityKey)
        let party = try CPace.Party(prs: securityCode?.secret, ci: ci, sid: sid, entropy: entropy)
        defer { party.erase() }
        let ownAD = HandshakeAssociatedData(role: .callee, codeSet: securityCode != nil, callID: sid, identityKey: identity.publicKey)
        let transcript = CPace.transcriptIR(ya: invite.element, adA: peerAD.encoded, yb: party.message, adB: ownAD.encoded)
        let isk = try party.deriveISK(peerMessage: invite.element, transcript: transcript)
        let derived = try KeySchedule.Derived(isk: isk, transcriptHash: KeySchedule.transcriptHash(ci: ci, sid: sid, transcript: transcript))
        do {
            let signature = try identity.sign(CallHandshake.transcriptSignedData(Labels.signatureResponse, ci: ci, sid: sid, transcript: transcript))
            let response = HandshakeResponse(element: party.message, associatedData: ownAD, signature: signature,
                                             confirmTag: try derived.confirmTag(for: .callee))
            state = .awaitingConfirm(Pending(derived: derived, callID: sid, channelIdentifier: ci, transcript: transcript,
                                             peerID: peerID, peerIdentityKey: peerAD.identityKey))
            callID = sid
            return response.encoded
        } catch {
            derived.eraseAll()
            throw error
        }
    }

    /// Verifies message 3 and returns the call's keys. Errors as for the caller.
    public func consumeConfirm(_ bytes: [UInt8]) throws -> CallKeys {
        guard case let .awaitingConfirm(pending) = state else { throw CryptoError.invalidState("no invite is awaiting confirmation") }
        state = .finished
        do {
            guard case let .confirm(confirm) = try HandshakeMessage.decode(bytes) else {
                throw CryptoError.malformed("expected a handshake confirm (type 0x03)")
            }
            guard try pending.derived.checkConfirmTag(confirm.confirmTag, from: .caller) else { throw CryptoError.securityCodeMismatch }
            try Ed25519.verify(confirm.signature,
                               of: CallHandshake.transcriptSignedData(Labels.signatureConfirm, ci: pending.channelIdentifier,
                                                                      sid: pending.callID, transcript: pending.transcript),
                               publicKey: pending.peerIdentityKey)
        } catch {
            pending.derived.eraseAll()
            throw error
        }
        return pending.derived.callKeys(role: .callee, callID: pending.callID, local: identity.deviceID,
                                        peer: pending.peerID, peerIdentityKey: pending.peerIdentityKey)
    }

    /// Abandons the handshake and erases its secrets.
    public func erase() {
        if case let .awaitingConfirm(pending) = state { pending.derived.eraseAll() }
        state = .finished
    }
}

/// The byte strings both sides build identically (PROTOCOL.md gives each layout).
enum CallHandshake {
    /// CI = lv_cat("parley/1 call", caller device ID, callee device ID).
    static func channelIdentifier(caller: DeviceID, callee: DeviceID) -> [UInt8] {
        CPace.lvCat(Labels.channelIdentifier, caller.bytes, callee.bytes)
    }

    /// What the caller signs in message 1: lv_cat("parley/1 sig init", CI, sid, Ya, ADa).
    static func inviteSignedData(ci: [UInt8], sid: [UInt8], element: [UInt8], ad: [UInt8]) -> [UInt8] {
        CPace.lvCat(Labels.signatureInit, ci, sid, element, ad)
    }

    /// What messages 2 and 3 sign: lv_cat(label, CI, sid, transcript_ir).
    static func transcriptSignedData(_ label: [UInt8], ci: [UInt8], sid: [UInt8], transcript: [UInt8]) -> [UInt8] {
        CPace.lvCat(label, ci, sid, transcript)
    }

    static func checkIdentity(_ key: [UInt8], expected: DeviceID, policy: PeerIdentityPolicy) throws -> DeviceID {
        let derived = try DeviceID(publicKey: key)
        if case .requireDeviceID = policy, derived != expected { throw CryptoError.identityMismatch }
        return derived
    }
}
