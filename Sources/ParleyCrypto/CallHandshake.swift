/// How a side checks who is at the other end of the call.
public enum PeerIdentityPolicy: Sendable {
    /// The peer's identity key must hash to the device ID of the call (the one the
    /// caller dialled, or the one the server says is calling). A relay that swaps in
    /// its own handshake messages fails with `badSignature` or `identityMismatch`.
    case requireDeviceID
    /// Any identity key is accepted once it proves possession by signing (the caller
    /// signs its commitment and ADa, the callee the whole transcript); `CallKeys.peerDeviceID` reports which. Without a security code the
    /// two people must then compare the SAS to detect a relay in the middle. (The
    /// caller still binds the dialled device ID into CI, so only a party that uses
    /// that ID in CI can answer.)
    case acceptAnyIdentity
}

/// The caller's side of the call handshake (PROTOCOL.md, "Call handshake"):
///
///     1 invite   caller -> callee  commitment to Ya, ADa, signature
///     2 response callee -> caller  Yb, ADb, signature over messages 1 and 2
///     3 confirm  caller -> callee  Ya, caller's confirmation tag
///     4 finish   callee -> caller  callee's confirmation tag
///
/// `inviteMessage` goes out with the invite; `consumeResponse` returns message 3;
/// `consumeFinish` returns the confirmed keys. Any error other than `invalidState`
/// (a message at the wrong step, which changes nothing) ends the handshake and
/// erases its secrets.
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
    private let commitment: [UInt8]
    private let party: CPace.Party
    private var state: State = .awaitingResponse

    private enum State {
        case awaitingResponse
        case awaitingFinish(derived: KeySchedule.Derived, peerID: DeviceID, peerIdentityKey: [UInt8])
        case finished
    }

    /// - Parameters:
    ///   - calleeID: the dialled device. It is bound into CI whatever the policy; with
    ///     `.acceptAnyIdentity` the answering identity key need not hash to it.
    ///   - securityCode: nil when no code was set (PRS is then the empty string). The
    ///     caller keeps ownership: erase it when no further call will use it.
    /// The call ID (CPace's sid) is 16 fresh random bytes.
    public convenience init(identity: DeviceIdentity, calleeID: DeviceID, securityCode: SecurityCode?,
                            policy: PeerIdentityPolicy = .requireDeviceID) throws {
        try self.init(identity: identity, calleeID: calleeID, securityCode: securityCode, policy: policy, callID: nil,
                      entropy: SystemEntropy.shared)
    }

    /// Test vectors and simulations: a given call ID and entropy source.
    package init(identity: DeviceIdentity, calleeID: DeviceID, securityCode: SecurityCode?,
                 policy: PeerIdentityPolicy = .requireDeviceID, callID: [UInt8]? = nil, entropy: EntropySource) throws {
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
        commitment = KeySchedule.commitment(ci: channelIdentifier, sid: callID, element: party.message, ad: associatedData.encoded)
        do {
            let signature = try identity.sign(CallHandshake.inviteSignedData(ci: channelIdentifier, sid: callID, commitment: commitment,
                                                                              ad: associatedData.encoded))
            inviteMessage = HandshakeInvite(commitment: commitment, associatedData: associatedData, signature: signature).encoded
        } catch {
            party.erase()
            throw error
        }
    }

    /// Verifies the callee's message 2 and returns message 3. Errors:
    /// `securityCodeMismatch` (a code set on one side only), `identityMismatch`,
    /// `badSignature`, `invalidPublicKey`, `malformed`, `tooLarge`, `unsupportedVersion`,
    /// `invalidState`.
    public func consumeResponse(_ bytes: [UInt8]) throws -> [UInt8] {
        guard case .awaitingResponse = state else { throw CryptoError.invalidState("the response was already consumed") }
        state = .finished
        defer { party.erase() }
        guard case let .response(response) = try HandshakeMessage.decode(bytes) else {
            throw CryptoError.malformed("expected a handshake response (type 0x02)")
        }
        let peerAD = response.associatedData
        guard peerAD.role == .callee else { throw CryptoError.malformed("response not sent by a callee") }
        guard peerAD.callID == callID else { throw CryptoError.malformed("response belongs to another call") }
        guard peerAD.codeSet == codeSet else { throw CryptoError.securityCodeMismatch }
        let peerID = try CallHandshake.checkIdentity(peerAD.identityKey, expected: calleeID, policy: policy)
        try Ed25519.verify(response.signature,
                           of: CallHandshake.responseSignedData(ci: channelIdentifier, sid: callID, commitment: commitment, adA: associatedData.encoded,
                                                                element: response.element, adB: peerAD.encoded),
                           publicKey: peerAD.identityKey)
        let transcript = CPace.transcriptIR(ya: party.message, adA: associatedData.encoded, yb: response.element, adB: peerAD.encoded)
        let isk = try party.deriveISK(peerMessage: response.element, transcript: transcript)
        let derived = try KeySchedule.Derived(isk: isk, transcriptHash: KeySchedule.transcriptHash(ci: channelIdentifier, sid: callID, transcript: transcript))
        do {
            let confirm = HandshakeConfirm(element: party.message, confirmTag: try derived.confirmTag(for: .caller))
            state = .awaitingFinish(derived: derived, peerID: peerID, peerIdentityKey: peerAD.identityKey)
            return confirm.encoded
        } catch {
            derived.eraseAll()
            throw error
        }
    }

    /// Verifies the callee's message 4 and returns the confirmed keys. A tag that
    /// does not verify means the two sides derived different keys: `securityCodeMismatch`.
    /// Other errors: `malformed`, `tooLarge`, `invalidState`.
    public func consumeFinish(_ bytes: [UInt8]) throws -> CallKeys {
        guard case let .awaitingFinish(derived, peerID, peerIdentityKey) = state else {
            throw CryptoError.invalidState("no response is awaiting its finish message")
        }
        state = .finished
        do {
            guard case let .finish(finish) = try HandshakeMessage.decode(bytes) else {
                throw CryptoError.malformed("expected a handshake finish (type 0x04)")
            }
            guard try derived.checkConfirmTag(finish.confirmTag, from: .callee) else { throw CryptoError.securityCodeMismatch }
        } catch {
            derived.eraseAll()
            throw error
        }
        return derived.callKeys(role: .caller, callID: callID, local: identity.deviceID, peer: peerID, peerIdentityKey: peerIdentityKey)
    }

    /// Abandons the handshake and erases its secrets.
    public func erase() {
        if case let .awaitingFinish(derived, _, _) = state { derived.eraseAll() }
        state = .finished
        party.erase()
    }
}

/// The callee's side: `consumeInvite` answers message 1 with message 2;
/// `consumeConfirm` checks message 3 and returns message 4 and the confirmed keys.
public final class CallResponder {
    private let identity: DeviceIdentity
    /// The callee ID in CI: this device's own, except in hostile-relay simulations.
    private let channelCalleeID: DeviceID
    private let callerID: DeviceID
    private let policy: PeerIdentityPolicy
    private var securityCode: SecurityCode?
    private let entropy: EntropySource
    private var state: State = .awaitingInvite

    private enum State {
        case awaitingInvite
        case awaitingConfirm(Pending)
        case finished
    }

    private struct Pending {
        let party: CPace.Party
        let callID: [UInt8]
        let channelIdentifier: [UInt8]
        let commitment: [UInt8]
        let callerAD: [UInt8]
        let ownAD: [UInt8]
        let peerID: DeviceID
        let peerIdentityKey: [UInt8]
    }

    /// - Parameters:
    ///   - callerID: the device the signalling server says is calling.
    ///     With `.requireDeviceID` the caller's identity key must hash to it.
    ///   - securityCode: nil when no code was set. The responder drops its reference
    ///     once the invite is consumed; the caller of this API owns and erases it.
    public convenience init(identity: DeviceIdentity, callerID: DeviceID, securityCode: SecurityCode?,
                            policy: PeerIdentityPolicy = .requireDeviceID) {
        self.init(identity: identity, callerID: callerID, securityCode: securityCode, policy: policy, entropy: SystemEntropy.shared)
    }

    /// Test vectors and simulations: a given entropy source.
    ///
    /// `posingAs` (hostile-relay simulations only, `ParleyTesting.MaliciousRelay`): the
    /// callee device ID bound into CI instead of this identity's own, which is what a
    /// relay answering in the dialled device's place must do for sig_init to verify.
    package init(identity: DeviceIdentity, callerID: DeviceID, securityCode: SecurityCode?,
                 policy: PeerIdentityPolicy = .requireDeviceID, entropy: EntropySource, posingAs: DeviceID? = nil) {
        self.identity = identity
        self.channelCalleeID = posingAs ?? identity.deviceID
        self.callerID = callerID
        self.policy = policy
        self.securityCode = securityCode
        self.entropy = entropy
    }

    /// The call ID of the invite, once consumed.
    public private(set) var callID: [UInt8]?

    /// Verifies message 1 and returns message 2. Errors: `securityCodeMismatch` (a code
    /// set on one side only), `identityMismatch`, `badSignature`, `malformed`,
    /// `tooLarge`, `unsupportedVersion`, `invalidState`.
    public func consumeInvite(_ bytes: [UInt8]) throws -> [UInt8] {
        guard case .awaitingInvite = state else { throw CryptoError.invalidState("the invite was already consumed") }
        state = .finished
        let securityCode = self.securityCode
        self.securityCode = nil  // used once, below; the owner erases it
        guard case let .invite(invite) = try HandshakeMessage.decode(bytes) else {
            throw CryptoError.malformed("expected a handshake invite (type 0x01)")
        }
        let peerAD = invite.associatedData
        guard peerAD.role == .caller else { throw CryptoError.malformed("invite not sent by a caller") }
        guard peerAD.codeSet == (securityCode != nil) else { throw CryptoError.securityCodeMismatch }
        let peerID = try CallHandshake.checkIdentity(peerAD.identityKey, expected: callerID, policy: policy)
        let sid = peerAD.callID
        let ci = CallHandshake.channelIdentifier(caller: peerID, callee: channelCalleeID)
        try Ed25519.verify(invite.signature,
                           of: CallHandshake.inviteSignedData(ci: ci, sid: sid, commitment: invite.commitment, ad: peerAD.encoded),
                           publicKey: peerAD.identityKey)
        let party = try CPace.Party(prs: securityCode?.secret, ci: ci, sid: sid, entropy: entropy)
        let ownAD = HandshakeAssociatedData(role: .callee, codeSet: securityCode != nil, callID: sid, identityKey: identity.publicKey)
        do {
            let signature = try identity.sign(CallHandshake.responseSignedData(ci: ci, sid: sid, commitment: invite.commitment, adA: peerAD.encoded,
                                                                               element: party.message, adB: ownAD.encoded))
            state = .awaitingConfirm(Pending(party: party, callID: sid, channelIdentifier: ci, commitment: invite.commitment,
                                             callerAD: peerAD.encoded, ownAD: ownAD.encoded, peerID: peerID, peerIdentityKey: peerAD.identityKey))
            callID = sid
            return HandshakeResponse(element: party.message, associatedData: ownAD, signature: signature).encoded
        } catch {
            party.erase()
            throw error
        }
    }

    /// Verifies message 3 (Ya against the commitment, then the caller's tag) and
    /// returns message 4 with the confirmed keys. Errors: `commitmentMismatch`,
    /// `invalidPublicKey`, `securityCodeMismatch`, `malformed`, `tooLarge`, `invalidState`.
    public func consumeConfirm(_ bytes: [UInt8]) throws -> (finishMessage: [UInt8], keys: CallKeys) {
        guard case let .awaitingConfirm(pending) = state else { throw CryptoError.invalidState("no invite is awaiting confirmation") }
        state = .finished
        defer { pending.party.erase() }
        guard case let .confirm(confirm) = try HandshakeMessage.decode(bytes) else {
            throw CryptoError.malformed("expected a handshake confirm (type 0x03)")
        }
        let expected = KeySchedule.commitment(ci: pending.channelIdentifier, sid: pending.callID, element: confirm.element, ad: pending.callerAD)
        guard constantTimeEqual(expected, pending.commitment) else { throw CryptoError.commitmentMismatch }
        let transcript = CPace.transcriptIR(ya: confirm.element, adA: pending.callerAD, yb: pending.party.message, adB: pending.ownAD)
        let isk = try pending.party.deriveISK(peerMessage: confirm.element, transcript: transcript)
        let derived = try KeySchedule.Derived(isk: isk, transcriptHash: KeySchedule.transcriptHash(ci: pending.channelIdentifier,
                                                                                                   sid: pending.callID, transcript: transcript))
        let finish: HandshakeFinish
        do {
            guard try derived.checkConfirmTag(confirm.confirmTag, from: .caller) else { throw CryptoError.securityCodeMismatch }
            finish = HandshakeFinish(confirmTag: try derived.confirmTag(for: .callee))
        } catch {
            derived.eraseAll()
            throw error
        }
        let keys = derived.callKeys(role: .callee, callID: pending.callID, local: identity.deviceID,
                                    peer: pending.peerID, peerIdentityKey: pending.peerIdentityKey)
        return (finish.encoded, keys)
    }

    /// Abandons the handshake and erases its secrets.
    public func erase() {
        if case let .awaitingConfirm(pending) = state { pending.party.erase() }
        state = .finished
        securityCode = nil
    }
}

/// The byte strings both sides build identically (PROTOCOL.md gives each layout).
enum CallHandshake {
    /// CI = lv_cat("parley/1 call", caller device ID, callee device ID).
    static func channelIdentifier(caller: DeviceID, callee: DeviceID) -> [UInt8] {
        CPace.lvCat(Labels.channelIdentifier, caller.bytes, callee.bytes)
    }

    /// What the caller signs in message 1: lv_cat("parley/1 sig init", CI, sid, commitment, ADa).
    static func inviteSignedData(ci: [UInt8], sid: [UInt8], commitment: [UInt8], ad: [UInt8]) -> [UInt8] {
        CPace.lvCat(Labels.signatureInit, ci, sid, commitment, ad)
    }

    /// What the callee signs in message 2: lv_cat("parley/1 sig response", CI, sid,
    /// commitment, ADa, Yb, ADb) -- the whole transcript, Ya through its commitment.
    static func responseSignedData(ci: [UInt8], sid: [UInt8], commitment: [UInt8], adA: [UInt8], element: [UInt8], adB: [UInt8]) -> [UInt8] {
        CPace.lvCat(Labels.signatureResponse, ci, sid, commitment, adA, element, adB)
    }

    static func checkIdentity(_ key: [UInt8], expected: DeviceID, policy: PeerIdentityPolicy) throws -> DeviceID {
        let derived = try DeviceID(publicKey: key)
        if case .requireDeviceID = policy, derived != expected { throw CryptoError.identityMismatch }
        return derived
    }
}
