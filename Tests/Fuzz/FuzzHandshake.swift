// Fuzz target: HandshakeMessage.decode (Sources/ParleyCrypto/HandshakeMessages.swift) and
// every handshake step that consumes a peer's message (Sources/ParleyCrypto/CallHandshake.swift):
// CallResponder.consumeInvite / consumeConfirm, CallInitiator.consumeResponse / consumeFinish.
//
// The first input byte picks a mode (modulo 7). Initiators and responders are fresh for
// every input and replay the honest call (FuzzSupport.swift): same identities, call ID
// and entropy, so the honest messages are valid for them. "options" bits: 0 accept any
// identity (else require the device ID), 1 the responder set a security code, 2 a stranger
// signs instead of the named peer. Nothing is erased explicitly: every secret an input
// creates must be freed when the input returns (checkNoSecretOutlivesInput).
//
//   0 decode    message                : HandshakeMessage.decode; what decodes must
//                                        re-encode to the same bytes.
//   1 invite    options (1) | message 1: consumeInvite.
//   2 response  options (1) | message 2: consumeResponse, after the honest invite.
//   3 confirm   message 3              : consumeConfirm, after the honest invite.
//   4 finish    message 4              : consumeFinish, after the honest response.
//               Modes 1-4: signatures, the commitment and the confirmation tags bind every
//               byte, so only the honest message may be accepted.
//   5 invite and confirm, re-signed: options (1) | Ya (32) | role (1) | flags (1) | call ID (16) | tag (32)
//               An invite committing to this Ya with these fields, signed by the caller (or
//               the stranger); if accepted, message 3 carries the same Ya and the tag. The
//               commitment then matches, so CPace and the key schedule see any element.
//   6 response and finish, re-signed: options (1) | Yb (32) | role (1) | flags (1) | call ID (16) | tag (32)
//               A response to the honest invite with these fields, signed by the callee (or
//               the stranger); if accepted, message 4 carries the tag.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHandshake(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    switch input.byte() % 7 {
    case 0: fuzzDecode(&input)
    case 1: fuzzInvite(&input)
    case 2: fuzzResponse(&input)
    case 3: fuzzConfirm(&input)
    case 4: fuzzFinish(&input)
    case 5: fuzzResignedInvite(&input)
    default: fuzzResignedResponse(&input)
    }
    checkNoSecretOutlivesInput()
    return 0
}

private struct Options {
    let acceptsAnyIdentity: Bool
    let securityCode: SecurityCode?
    let signer: DeviceIdentity

    var policy: PeerIdentityPolicy { acceptsAnyIdentity ? .acceptAnyIdentity : .requireDeviceID }

    init(_ byte: UInt8, namedSigner: DeviceIdentity) {
        acceptsAnyIdentity = byte & 1 != 0
        // Cannot fail: a short code of digits.
        securityCode = byte & 2 != 0 ? try! SecurityCode.parse("493-027") : nil
        signer = byte & 4 != 0 ? HonestCall.shared.stranger : namedSigner
    }
}

/// The honest messages, decoded once (start-up checks that they decode).
private struct HonestFields {
    static let shared = HonestFields()

    let invite: HandshakeInvite
    let response: HandshakeResponse
    let confirm: HandshakeConfirm
    let finish: HandshakeFinish

    private init() {
        let call = HonestCall.shared
        guard case let .invite(invite) = try? HandshakeMessage.decode(call.invite),
              case let .response(response) = try? HandshakeMessage.decode(call.response),
              case let .confirm(confirm) = try? HandshakeMessage.decode(call.confirm),
              case let .finish(finish) = try? HandshakeMessage.decode(call.finish) else {
            fuzzBug("the honest handshake messages do not decode")
        }
        (self.invite, self.response, self.confirm, self.finish) = (invite, response, confirm, finish)
    }
}

private func fuzzDecode(_ input: inout FuzzInput) {
    let bytes = input.rest()
    if case let .success(message) = outcome("decode", { try HandshakeMessage.decode(bytes) }) {
        fuzzCheck(message.encoded == bytes, "decoded \(bytes.count) bytes that re-encode differently: \(message)")
    }
}

private func fuzzInvite(_ input: inout FuzzInput) {
    let options = Options(input.byte(), namedSigner: HonestCall.shared.caller)
    let bytes = input.rest()
    let responder = HonestCall.shared.makeResponder(policy: options.policy, securityCode: options.securityCode)
    if case let .success(response) = outcome("consumeInvite", { try responder.consumeInvite(bytes) }) {
        fuzzCheck(bytes == HonestCall.shared.invite, "a message 1 other than the honest one was accepted")
        fuzzCheck(response == HonestCall.shared.response, "the honest invite got another message 2")
    }
}

private func fuzzResponse(_ input: inout FuzzInput) {
    let options = Options(input.byte(), namedSigner: HonestCall.shared.callee)
    let bytes = input.rest()
    let initiator = HonestCall.shared.makeInitiator(policy: options.policy)
    if case let .success(confirm) = outcome("consumeResponse", { try initiator.consumeResponse(bytes) }) {
        fuzzCheck(bytes == HonestCall.shared.response, "a message 2 other than the honest one was accepted")
        fuzzCheck(confirm == HonestCall.shared.confirm, "the honest response got another message 3")
    }
}

private func fuzzConfirm(_ input: inout FuzzInput) {
    let bytes = input.rest()
    let responder = HonestCall.shared.makeResponder()
    guard case .success = outcome("consumeInvite(honest)", { try responder.consumeInvite(HonestCall.shared.invite) }) else {
        fuzzBug("a fresh responder refused the honest invite")
    }
    if case let .success((finish, keys)) = outcome("consumeConfirm", { try responder.consumeConfirm(bytes) }) {
        fuzzCheck(bytes == HonestCall.shared.confirm, "a message 3 other than the honest one was accepted")
        fuzzCheck(finish == HonestCall.shared.finish && keys.transcriptHash == HonestCall.shared.calleeKeys.transcriptHash,
                  "the honest message 3 led to another message 4 or transcript")
    }
}

private func fuzzFinish(_ input: inout FuzzInput) {
    let bytes = input.rest()
    let initiator = HonestCall.shared.makeInitiator()
    guard case .success = outcome("consumeResponse(honest)", { try initiator.consumeResponse(HonestCall.shared.response) }) else {
        fuzzBug("a fresh initiator refused the honest response")
    }
    if case let .success(keys) = outcome("consumeFinish", { try initiator.consumeFinish(bytes) }) {
        fuzzCheck(bytes == HonestCall.shared.finish, "a message 4 other than the honest one was accepted")
        fuzzCheck(keys.sas == HonestCall.shared.callerKeys.sas, "the honest message 4 led to another SAS")
    }
}

/// ADa / ADb as sent: version | role | flags | call ID | identity key, any role and flags.
private func associatedData(role: UInt8, flags: UInt8, callID: [UInt8], identityKey: [UInt8]) -> [UInt8] {
    [SpecConstants.protocolVersion, role, flags] + callID + identityKey
}

/// Message 1 committing to `element`, signed by `signer`, as CallInitiator builds it.
private func invite(element: [UInt8], role: UInt8, flags: UInt8, callID: [UInt8], signer: DeviceIdentity) -> [UInt8] {
    let call = HonestCall.shared
    let ad = associatedData(role: role, flags: flags, callID: callID, identityKey: signer.publicKey)
    let ci = CallHandshake.channelIdentifier(caller: signer.deviceID, callee: call.callee.deviceID)
    let commitment = KeySchedule.commitment(ci: ci, sid: callID, element: element, ad: ad)
    // Cannot fail: the signer's identity is never erased.
    let signature = try! signer.sign(CallHandshake.inviteSignedData(ci: ci, sid: callID, commitment: commitment, ad: ad))
    return [HandshakeInvite.type] + commitment + ad + signature
}

/// Message 2 answering the honest invite with `element`, signed by `signer`, as CallResponder builds it.
private func response(element: [UInt8], role: UInt8, flags: UInt8, callID: [UInt8], signer: DeviceIdentity) -> [UInt8] {
    let call = HonestCall.shared
    let honest = HonestFields.shared.invite
    let adB = associatedData(role: role, flags: flags, callID: callID, identityKey: signer.publicKey)
    let ci = CallHandshake.channelIdentifier(caller: call.caller.deviceID, callee: call.callee.deviceID)
    // Cannot fail: the signer's identity is never erased.
    let signature = try! signer.sign(CallHandshake.responseSignedData(ci: ci, sid: call.callID, commitment: honest.commitment,
                                                                      adA: honest.associatedData.encoded, element: element, adB: adB))
    return [HandshakeResponse.type] + element + adB + signature
}

private func fuzzResignedInvite(_ input: inout FuzzInput) {
    let call = HonestCall.shared
    let options = Options(input.byte(), namedSigner: call.caller)
    let element = input.bytes(CPace.elementCount)
    let role = input.byte()
    let flags = input.byte()
    let callID = input.bytes(SpecConstants.callIDCount)
    let tag = input.bytes(KeySchedule.confirmTagCount)

    let message1 = invite(element: element, role: role, flags: flags, callID: callID, signer: options.signer)
    let responder = call.makeResponder(policy: options.policy, securityCode: options.securityCode)
    guard case .success = outcome("consumeInvite(re-signed)", { try responder.consumeInvite(message1) }) else { return }
    fuzzCheck(role == CallRole.caller.rawValue && (flags & HandshakeAssociatedData.flagCodeSet != 0) == (options.securityCode != nil),
              "accepted an invite with role \(role), flags \(flags)")
    fuzzCheck(options.signer === call.caller || options.acceptsAnyIdentity, "accepted an invite signed by a stranger")
    let message3 = [HandshakeConfirm.type] + element + tag
    if case .success = outcome("consumeConfirm(re-signed)", { try responder.consumeConfirm(message3) }) {
        fuzzCheck(message1 == call.invite && message3 == call.confirm, "a call was confirmed that the honest caller did not make")
    }
}

private func fuzzResignedResponse(_ input: inout FuzzInput) {
    let call = HonestCall.shared
    let options = Options(input.byte(), namedSigner: call.callee)
    let element = input.bytes(CPace.elementCount)
    let role = input.byte()
    let flags = input.byte()
    let callID = input.bytes(SpecConstants.callIDCount)
    let tag = input.bytes(KeySchedule.confirmTagCount)

    let message2 = response(element: element, role: role, flags: flags, callID: callID, signer: options.signer)
    let initiator = call.makeInitiator(policy: options.policy)
    guard case .success = outcome("consumeResponse(re-signed)", { try initiator.consumeResponse(message2) }) else { return }
    fuzzCheck(role == CallRole.callee.rawValue && flags == 0 && callID == call.callID,
              "accepted a response with role \(role), flags \(flags) or another call ID")
    fuzzCheck(options.signer === call.callee || options.acceptsAnyIdentity, "accepted a response signed by a stranger")
    let message4 = [HandshakeFinish.type] + tag
    if case .success = outcome("consumeFinish(re-signed)", { try initiator.consumeFinish(message4) }) {
        fuzzCheck(message2 == call.response && message4 == call.finish, "a call was confirmed that the honest callee did not answer")
    }
}

func fuzzStartUp() {
    // The re-signing modes must rebuild the honest messages byte for byte from their fields.
    let call = HonestCall.shared
    let honest = HonestFields.shared
    let rebuiltInvite = invite(element: honest.confirm.element, role: CallRole.caller.rawValue, flags: 0, callID: call.callID, signer: call.caller)
    let rebuiltResponse = response(element: honest.response.element, role: CallRole.callee.rawValue, flags: 0, callID: call.callID, signer: call.callee)
    fuzzCheck(rebuiltInvite == call.invite && rebuiltResponse == call.response,
              "the harness builds handshake messages differently from CallInitiator / CallResponder; fix FuzzHandshake.swift")
}

func fuzzSeeds() -> [[UInt8]] {
    let call = HonestCall.shared
    let honest = HonestFields.shared
    return [
        [0] + call.invite,
        [0] + call.response,
        [0] + call.confirm,
        [0] + call.finish,
        [1, 0] + call.invite,
        [2, 0] + call.response,
        [3] + call.confirm,
        [4] + call.finish,
        [5, 0] + honest.confirm.element + [CallRole.caller.rawValue, 0] + call.callID + honest.confirm.confirmTag,
        [6, 0] + honest.response.element + [CallRole.callee.rawValue, 0] + call.callID + honest.finish.confirmTag,
    ]
}
