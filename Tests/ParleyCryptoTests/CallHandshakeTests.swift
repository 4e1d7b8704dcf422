@testable import ParleyCrypto
import XCTest

extension Array where Element == UInt8 {
    func contains(subsequence: [UInt8]) -> Bool {
        guard subsequence.count <= count else { return false }
        return (0...(count - subsequence.count)).contains { Array(self[$0..<$0 + subsequence.count]) == subsequence }
    }
}

final class CallHandshakeTests: SecretsTestCase {
    private func keyBytes(_ secret: SecretBytes) throws -> [UInt8] { try secret.withUnsafeBytes { Array($0) } }

    func testSameCodeOnBothSidesGivesTheSameKeysAndSAS() throws {
        let fixture = CallFixture()
        let outcome = try fixture.handshake(callerCode: "482 913", calleeCode: "482-913")
        defer { outcome.erase() }
        let caller = outcome.callerKeys, callee = outcome.calleeKeys
        XCTAssertEqual(caller.sas, callee.sas)
        XCTAssertEqual(caller.sas.digits.count, 6)
        XCTAssertEqual(caller.transcriptHash, callee.transcriptHash)
        XCTAssertEqual(try keyBytes(caller.signalSend), try keyBytes(callee.signalReceive))
        XCTAssertEqual(try keyBytes(caller.signalReceive), try keyBytes(callee.signalSend))
        XCTAssertEqual(try keyBytes(caller.frameSend), try keyBytes(callee.frameReceive))
        XCTAssertEqual(try keyBytes(caller.frameReceive), try keyBytes(callee.frameSend))
        // Every key is distinct: direction and purpose are in the labels.
        let all = try [caller.signalSend, caller.signalReceive, caller.frameSend, caller.frameReceive].map(keyBytes)
        XCTAssertEqual(Set(all.map { Hex.encode($0) }).count, 4)
        XCTAssertEqual(caller.peerDeviceID, fixture.callee.deviceID)
        XCTAssertEqual(callee.peerDeviceID, fixture.caller.deviceID)
    }

    func testNoCodeOnEitherSideGivesMatchingSASAndFreshKeysPerCall() throws {
        let fixture = CallFixture()
        let first = try fixture.handshake(callerCode: nil, calleeCode: nil)
        let second = try fixture.handshake(callerCode: "", calleeCode: "  ")  // blank means no code
        defer { first.erase(); second.erase() }
        XCTAssertEqual(first.callerKeys.sas, first.calleeKeys.sas)
        XCTAssertEqual(second.callerKeys.sas, second.calleeKeys.sas)
        XCTAssertNotEqual(try keyBytes(first.callerKeys.frameSend), try keyBytes(second.callerKeys.frameSend))
        XCTAssertNotEqual(first.callerKeys.callID, second.callerKeys.callID)
    }

    func testDifferentCodesFailKeyConfirmationWithSecurityCodeMismatch() throws {
        let fixture = CallFixture()
        XCTAssertThrowsCryptoError(.securityCodeMismatch, try fixture.handshake(callerCode: "111111", calleeCode: "222222"))
    }

    func testCodeOnOneSideOnlyFailsInBothDirections() throws {
        let fixture = CallFixture()
        XCTAssertThrowsCryptoError(.securityCodeMismatch, try fixture.handshake(callerCode: "111111", calleeCode: nil))
        XCTAssertThrowsCryptoError(.securityCodeMismatch, try fixture.handshake(callerCode: nil, calleeCode: "111111"))
    }

    func testStrippingTheCodeFlagIsDetected() throws {
        // The relay clears the caller's "code set" flag so a callee without a code would
        // proceed: the caller's signature over ADa no longer verifies.
        let fixture = CallFixture()
        let flagOffset = 1 + 32 + 2  // type, Ya, version, role -> flags
        XCTAssertThrowsCryptoError(.badSignature, try fixture.handshake(callerCode: "111111", calleeCode: nil) { step, message in
            guard step == 1 else { return message }
            var stripped = message
            stripped[flagOffset] = 0
            return stripped
        })
        // And the callee's flag in the response: the caller with a code sees a mismatch.
        XCTAssertThrowsCryptoError(.securityCodeMismatch, try fixture.handshake(callerCode: "111111", calleeCode: "111111") { step, message in
            guard step == 2 else { return message }
            var stripped = message
            stripped[flagOffset] = 0
            return stripped
        })
    }

    /// A hostile relay that runs CPace itself with each side, with an identity key of
    /// its own (so its signatures verify) and a guess of the code. Towards the caller
    /// it claims to be the dialled callee (it binds the callee's device ID into CI,
    /// which the honest CallResponder never does); towards the callee it is a caller
    /// of its own.
    private final class SubstitutingRelay {
        let relayIdentity = DeviceIdentity()
        let fixture: CallFixture
        let guessedCode: SecurityCode?
        var towardsCallee: CallInitiator?
        var keys: [CallKeys] = []
        private var callerSide: (party: CPace.Party, ci: [UInt8], sid: [UInt8], commitment: [UInt8], adA: [UInt8], adB: [UInt8])?
        private var callerSideKeys: KeySchedule.Derived?
        private var pendingToCaller: [UInt8] = []
        private var pendingToCallee: [UInt8] = []

        init(fixture: CallFixture, guessedCode: String?) throws {
            self.fixture = fixture
            self.guessedCode = try SecurityCode.parse(guessedCode)
        }

        /// The relay's message 2 to the caller, posing as the callee. It sees only the
        /// commitment to Ya when it must choose Yb'.
        func forgeResponse(to inviteBytes: [UInt8]) throws -> [UInt8] {
            guard case let .invite(invite) = try HandshakeMessage.decode(inviteBytes) else { throw CryptoError.malformed("not an invite") }
            let ci = CallHandshake.channelIdentifier(caller: fixture.caller.deviceID, callee: fixture.callee.deviceID)
            let sid = invite.associatedData.callID
            let party = try CPace.Party(prs: guessedCode?.secret, ci: ci, sid: sid)
            let ad = HandshakeAssociatedData(role: .callee, codeSet: invite.associatedData.codeSet, callID: sid, identityKey: relayIdentity.publicKey)
            callerSide = (party, ci, sid, invite.commitment, invite.associatedData.encoded, ad.encoded)
            let signature = try relayIdentity.sign(CallHandshake.responseSignedData(ci: ci, sid: sid, commitment: invite.commitment,
                                                                                    adA: invite.associatedData.encoded, element: party.message, adB: ad.encoded))
            return HandshakeResponse(element: party.message, associatedData: ad, signature: signature).encoded
        }

        /// Consumes the caller's message 3 and returns the relay's message 4 to it
        /// (throws `securityCodeMismatch` when the relay's guess was wrong).
        func forgeFinish(to confirmBytes: [UInt8]) throws -> [UInt8] {
            guard case let .confirm(confirm) = try HandshakeMessage.decode(confirmBytes), let side = callerSide else {
                throw CryptoError.malformed("not a confirm")
            }
            defer { side.party.erase() }
            let transcript = CPace.transcriptIR(ya: confirm.element, adA: side.adA, yb: side.party.message, adB: side.adB)
            let isk = try side.party.deriveISK(peerMessage: confirm.element, transcript: transcript)
            let derived = try KeySchedule.Derived(isk: isk, transcriptHash: KeySchedule.transcriptHash(ci: side.ci, sid: side.sid, transcript: transcript))
            guard try derived.checkConfirmTag(confirm.confirmTag, from: .caller) else {
                derived.eraseAll()
                throw CryptoError.securityCodeMismatch
            }
            let finish = HandshakeFinish(confirmTag: try derived.confirmTag(for: .callee)).encoded
            keys.append(derived.callKeys(role: .callee, callID: side.sid, local: fixture.callee.deviceID,
                                         peer: fixture.caller.deviceID, peerIdentityKey: fixture.caller.publicKey))
            return finish
        }

        func relay(_ step: Int, _ message: [UInt8]) throws -> [UInt8] {
            switch step {
            case 1:
                pendingToCaller = try forgeResponse(to: message)
                let initiator = try CallInitiator(identity: relayIdentity, calleeID: fixture.callee.deviceID, securityCode: guessedCode,
                                                  policy: .acceptAnyIdentity)
                towardsCallee = initiator
                return initiator.inviteMessage
            case 2:
                pendingToCallee = try towardsCallee!.consumeResponse(message)
                return pendingToCaller
            case 3:
                pendingToCaller = try forgeFinish(to: message)
                return pendingToCallee
            default:
                keys.append(try towardsCallee!.consumeFinish(message))
                return pendingToCaller
            }
        }

        func erase() {
            keys.forEach { $0.erase() }
            callerSide?.party.erase()
            towardsCallee?.erase()
            guessedCode?.erase()
            relayIdentity.erase()
        }
    }

    func testRelaySubstitutingCPaceMessagesWithoutTheCodeCannotMatchEitherSide() throws {
        let fixture = CallFixture()
        let relay = try SubstitutingRelay(fixture: fixture, guessedCode: "000000")
        defer { relay.erase() }
        let code = try XCTUnwrap(SecurityCode.parse("482913"))
        defer { code.erase() }
        // Both honest sides accept any identity here, so only the code protects them.
        let caller = try CallInitiator(identity: fixture.caller, calleeID: fixture.callee.deviceID, securityCode: code, policy: .acceptAnyIdentity)
        let callee = CallResponder(identity: fixture.callee, callerID: fixture.caller.deviceID, securityCode: code, policy: .acceptAnyIdentity)
        defer { caller.erase(); callee.erase() }

        // Caller side: the relay answers; the caller's confirm fails the relay's check,
        // and whatever finish the relay sends fails the caller's.
        let confirm = try caller.consumeResponse(try relay.forgeResponse(to: caller.inviteMessage))
        XCTAssertThrowsCryptoError(.securityCodeMismatch, try relay.forgeFinish(to: confirm), "relay cannot reach the caller's keys")
        XCTAssertThrowsCryptoError(.securityCodeMismatch, try caller.consumeFinish([HandshakeFinish.type] + [UInt8](repeating: 9, count: 32)))

        // Callee side: the relay calls with its own invite; its confirm, made with the
        // wrong code, fails at the callee, which never hands out keys.
        let relayInvite = try CallInitiator(identity: relay.relayIdentity, calleeID: fixture.callee.deviceID, securityCode: relay.guessedCode,
                                            policy: .acceptAnyIdentity)
        defer { relayInvite.erase() }
        let relayConfirm = try relayInvite.consumeResponse(try callee.consumeInvite(relayInvite.inviteMessage))
        XCTAssertThrowsCryptoError(.securityCodeMismatch, try callee.consumeConfirm(relayConfirm))
        XCTAssertTrue(relay.keys.isEmpty)
    }

    func testRelaySubstitutionWithoutCodeGivesDifferentSASs() throws {
        let fixture = CallFixture()
        let relay = try SubstitutingRelay(fixture: fixture, guessedCode: nil)
        defer { relay.erase() }
        let outcome = try fixture.handshake(callerCode: nil, calleeCode: nil,
                                            callerPolicy: .acceptAnyIdentity, calleePolicy: .acceptAnyIdentity, relay: relay.relay)
        defer { outcome.erase() }
        // Each side completed a handshake -- with the relay. What exposes it:
        XCTAssertNotEqual(outcome.callerKeys.sas, outcome.calleeKeys.sas, "the two people read different SASs")
        XCTAssertNotEqual(outcome.callerKeys.peerDeviceID, fixture.callee.deviceID, "the caller's peer is not the callee")
        XCTAssertNotEqual(outcome.calleeKeys.peerDeviceID, fixture.caller.deviceID, "the callee's peer is not the caller")
        XCTAssertEqual(relay.keys.count, 2)
    }

    func testRelayCannotChooseItsElementAfterSeeingTheCallers() throws {
        // SAS grinding needs Ya before choosing Yb'. The invite carries only a
        // commitment; revealing any other Ya than the committed one is rejected.
        let fixture = CallFixture()
        let other = try CPace.Party(prs: nil, ci: [1], sid: [2])
        defer { other.erase() }
        XCTAssertThrowsCryptoError(.commitmentMismatch, try fixture.handshake(callerCode: nil, calleeCode: nil) { step, message in
            guard step == 3 else { return message }
            var swapped = message
            swapped.replaceSubrange(1..<33, with: other.message)
            return swapped
        })
        let initiator = try CallInitiator(identity: fixture.caller, calleeID: fixture.callee.deviceID, securityCode: nil)
        defer { initiator.erase() }
        guard case let .invite(invite) = try HandshakeMessage.decode(initiator.inviteMessage) else { return XCTFail("not an invite") }
        XCTAssertEqual(invite.commitment.count, 32)
        XCTAssertFalse(initiator.inviteMessage.contains(subsequence: other.message))
    }

    func testRelaySubstitutionWithPinnedIdentityFailsOnBothSides() throws {
        let fixture = CallFixture()
        // The relay uses its own identities: the pinned device IDs do not match.
        let relay = try SubstitutingRelay(fixture: fixture, guessedCode: nil)
        defer { relay.erase() }
        XCTAssertThrowsCryptoError(.identityMismatch, try fixture.handshake(callerCode: nil, calleeCode: nil, relay: relay.relay))
        XCTAssertTrue(relay.keys.isEmpty)

        // The relay keeps the real identity keys in ADa/ADb and swaps only the CPace
        // elements: the signatures over the transcript fail.
        let otherParty = try CPace.Party(prs: nil, ci: [1], sid: [2])
        defer { otherParty.erase() }
        let otherYa = otherParty.message
        XCTAssertThrowsCryptoError(.badSignature, try fixture.handshake(callerCode: nil, calleeCode: nil) { step, message in
            guard step == 1 else { return message }
            var swapped = message
            swapped.replaceSubrange(1..<33, with: otherYa)
            return swapped
        }, "callee detects the swapped commitment")
        XCTAssertThrowsCryptoError(.badSignature, try fixture.handshake(callerCode: nil, calleeCode: nil) { step, message in
            guard step == 2 else { return message }
            var swapped = message
            swapped.replaceSubrange(1..<33, with: otherYa)
            return swapped
        }, "caller detects the swapped Yb")
    }

    func testImpostorCallerIsRejectedWhenTheServerClaimsAnotherDevice() throws {
        let fixture = CallFixture()
        let impostor = DeviceIdentity()
        defer { impostor.erase() }
        let initiator = try CallInitiator(identity: impostor, calleeID: fixture.callee.deviceID, securityCode: nil)
        defer { initiator.erase() }
        let responder = CallResponder(identity: fixture.callee, callerID: fixture.caller.deviceID, securityCode: nil)
        defer { responder.erase() }
        XCTAssertThrowsCryptoError(.identityMismatch, try responder.consumeInvite(initiator.inviteMessage))
    }

    func testInviteRedirectedToAnotherDeviceFailsItsSignature() throws {
        // The server delivers A's invite for B to C: C computes CI with its own ID.
        let fixture = CallFixture()
        let other = DeviceIdentity()
        defer { other.erase() }
        let initiator = try CallInitiator(identity: fixture.caller, calleeID: fixture.callee.deviceID, securityCode: nil)
        defer { initiator.erase() }
        let wrongCallee = CallResponder(identity: other, callerID: fixture.caller.deviceID, securityCode: nil)
        defer { wrongCallee.erase() }
        XCTAssertThrowsCryptoError(.badSignature, try wrongCallee.consumeInvite(initiator.inviteMessage))
    }

    func testEveryBitFlipInEachHandshakeMessageIsRejected() throws {
        let fixture = CallFixture()
        let sizes = [HandshakeInvite.byteCount, HandshakeResponse.byteCount, HandshakeConfirm.byteCount, HandshakeFinish.byteCount]
        for step in 1...4 {
            // Flip one bit in every byte position of the message at this step.
            for position in 0..<sizes[step - 1] {
                XCTAssertThrowsError(try fixture.handshake(callerCode: "4242", calleeCode: "4242") { current, message in
                    guard current == step else { return message }
                    var flipped = message
                    flipped[position] ^= 0x10
                    return flipped
                }, "step \(step) byte \(position) was accepted after a bit flip")
            }
        }
    }

    func testTruncatedExtendedAndUnknownMessagesAreMalformed() throws {
        let fixture = CallFixture()
        for step in 1...4 {
            XCTAssertThrowsError(try fixture.handshake(callerCode: nil, calleeCode: nil) { current, message in
                current == step ? Array(message.dropLast()) : message
            }) { XCTAssertEqual(($0 as? CryptoError)?.code, CryptoError.malformed("").code, "truncated step \(step)") }
            XCTAssertThrowsError(try fixture.handshake(callerCode: nil, calleeCode: nil) { current, message in
                current == step ? message + [0] : message
            }) { error in
                // Longer than the largest handshake message is refused before parsing.
                let code = (error as? CryptoError)?.code
                XCTAssertTrue(code == CryptoError.malformed("").code || code == CryptoError.tooLarge(limit: 0, actual: 0).code,
                              "extended step \(step): \(error)")
            }
        }
        XCTAssertThrowsError(try HandshakeMessage.decode([0x09] + [UInt8](repeating: 0, count: 40)))
        XCTAssertThrowsError(try HandshakeMessage.decode([]))
        XCTAssertThrowsCryptoError(.tooLarge(limit: HandshakeMessage.maxByteCount, actual: 4096),
                                   try HandshakeMessage.decode([UInt8](repeating: 1, count: 4096)))
        // A message of the wrong type at a step is refused.
        XCTAssertThrowsError(try fixture.handshake(callerCode: nil, calleeCode: nil) { current, message in
            current == 3 ? [HandshakeFinish.type] + [UInt8](repeating: 0, count: HandshakeFinish.byteCount - 1) : message
        })
    }

    func testUnknownVersionIsReportedAsUnsupported() throws {
        let fixture = CallFixture()
        XCTAssertThrowsCryptoError(.unsupportedVersion(2), try fixture.handshake(callerCode: nil, calleeCode: nil) { step, message in
            guard step == 1 else { return message }
            var changed = message
            changed[1 + 32] = 2  // ADa version
            return changed
        })
    }

    func testReplayedAndOutOfOrderHandshakeStepsAreRefused() throws {
        let fixture = CallFixture()
        let initiator = try CallInitiator(identity: fixture.caller, calleeID: fixture.callee.deviceID, securityCode: nil)
        let responder = CallResponder(identity: fixture.callee, callerID: fixture.caller.deviceID, securityCode: nil)
        defer { initiator.erase(); responder.erase() }
        XCTAssertThrowsError(try responder.consumeConfirm([HandshakeConfirm.type] + [UInt8](repeating: 0, count: 64)), "confirm before invite")
        XCTAssertThrowsError(try initiator.consumeFinish([HandshakeFinish.type] + [UInt8](repeating: 0, count: 32)), "finish before response")
        let response = try responder.consumeInvite(initiator.inviteMessage)
        XCTAssertThrowsError(try responder.consumeInvite(initiator.inviteMessage), "an invite replayed to the same handshake")
        let confirm = try initiator.consumeResponse(response)
        XCTAssertThrowsError(try initiator.consumeResponse(response), "a response replayed")
        let (finish, calleeKeys) = try responder.consumeConfirm(confirm)
        defer { calleeKeys.erase() }
        XCTAssertThrowsError(try responder.consumeConfirm(confirm), "a confirm replayed")
        let callerKeys = try initiator.consumeFinish(finish)
        defer { callerKeys.erase() }
        XCTAssertThrowsError(try initiator.consumeFinish(finish), "a finish replayed")
        XCTAssertEqual(callerKeys.sas, calleeKeys.sas)
    }

    func testResponseFromAnotherCallIsRejected() throws {
        let fixture = CallFixture()
        let callA = try CallInitiator(identity: fixture.caller, calleeID: fixture.callee.deviceID, securityCode: nil)
        let callB = try CallInitiator(identity: fixture.caller, calleeID: fixture.callee.deviceID, securityCode: nil)
        let responder = CallResponder(identity: fixture.callee, callerID: fixture.caller.deviceID, securityCode: nil)
        defer { callA.erase(); callB.erase(); responder.erase() }
        let responseForB = try responder.consumeInvite(callB.inviteMessage)
        XCTAssertThrowsCryptoError(.malformed("response belongs to another call"), try callA.consumeResponse(responseForB))
    }

    func testFailedHandshakesLeaveNoSecretsBehind() throws {
        // SecretsTestCase checks the live-secrets counter after the test; here every
        // failure path runs in one test to make the point explicit.
        let fixture = CallFixture()
        let before = SecretBytes.liveCount
        _ = try? fixture.handshake(callerCode: "1", calleeCode: "2")
        _ = try? fixture.handshake(callerCode: "1", calleeCode: nil)
        _ = try? fixture.handshake(callerCode: nil, calleeCode: nil) { step, message in step == 3 ? Array(message.reversed()) : message }
        _ = try? fixture.handshake(callerCode: nil, calleeCode: nil) { step, message in step == 4 ? Array(message.reversed()) : message }
        XCTAssertEqual(SecretBytes.liveCount, before)
    }
}
