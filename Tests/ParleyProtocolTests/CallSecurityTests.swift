import ParleyCrypto
import ParleyProtocol
import ParleyTesting
import XCTest

/// What the security code and the sealed signalling guarantee against a hostile
/// relay, on a virtual clock.
final class CallSecurityTests: CallSimulationTestCase {
    func testAWrongCodeFailsBothSidesWithSecurityCodeMismatchAndNoFrameKeyIsEverInstalled() throws {
        answer(code: "111111")
        let call = try alice.call(bob, securityCode: "222222")
        var frameKeySeen = false
        simulation.run(for: .seconds(30)) {
            frameKeySeen = frameKeySeen || call.frameSealer != nil || self.calleeCall(of: call)?.frameSealer != nil
            return call.state.isEnded && self.calleeCall(of: call)?.state.isEnded == true
        }
        XCTAssertFalse(frameKeySeen, "no frame key may exist on either side after a mismatch")
        assertEnded(call, .failed(.securityCodeMismatch))
        assertEnded(calleeCall(of: call), .failed(.securityCodeMismatch))
        XCTAssertTrue(securedEvents(alice).isEmpty && securedEvents(bob).isEmpty, "no side may report a SAS")
        XCTAssertEqual(simulation.ice.runningTransportCount, 0, "no transport was ever started")
    }

    func testACodeOnTheCallerSideOnlyFailsBothSidesWithSecurityCodeMismatch() throws {
        answer(code: nil)
        let call = try alice.call(bob, securityCode: "424242")
        runUntilSettled([call])
        simulation.run(for: .seconds(1))
        assertEnded(call, .failed(.securityCodeMismatch))
        assertEnded(calleeCall(of: call), .failed(.securityCodeMismatch))
    }

    func testACodeOnTheCalleeSideOnlyFailsBothSidesWithSecurityCodeMismatch() throws {
        answer(code: "424242")
        let call = try alice.call(bob, securityCode: nil)
        runUntilSettled([call])
        simulation.run(for: .seconds(1))
        assertEnded(call, .failed(.securityCodeMismatch))
        assertEnded(calleeCall(of: call), .failed(.securityCodeMismatch))
    }

    func testARelayStrippingTheCodeFlagCannotDowngradeTheCall() throws {
        _ = MaliciousRelay([.stripCodeFlag], on: simulation.relay)
        answer(code: nil)  // the callee sees an invite that claims "no code"
        let call = try alice.call(bob, securityCode: "777777")
        runUntilSettled([call])
        simulation.run(for: .seconds(1))
        XCTAssertEqual(call.state.isEnded, true)
        XCTAssertNotEqual(call.state, .connected)
        XCTAssertTrue(securedEvents(alice).isEmpty && securedEvents(bob).isEmpty)
        guard case .failed? = calleeCall(of: call).map({ end(of: $0) }) ?? nil else {
            return XCTFail("the callee must fail, not connect: \(String(describing: calleeCall(of: call)?.state))")
        }
    }

    func testARelaySubstitutingTheKeyExchangeIsDetectedWhenACodeIsSet() throws {
        let relay = MaliciousRelay([.substituteKeys(guessedCode: "000000")], on: simulation.relay)
        defer { relay.erase() }
        answer(code: "314159", policy: .acceptAnyIdentity)
        let call = try alice.call(bob, securityCode: "314159", policy: .acceptAnyIdentity)
        runUntilSettled([call])
        simulation.run(for: .seconds(1))
        assertEnded(call, .failed(.securityCodeMismatch))
        assertEnded(calleeCall(of: call), .failed(.securityCodeMismatch))
        XCTAssertTrue(relay.stolenKeys.isEmpty, "a wrong guess gives the relay no key on either side")
    }

    func testWithoutACodeARelaySubstitutingTheKeyExchangeLeavesTheTwoSASesDifferent() throws {
        let relay = MaliciousRelay([.substituteKeys(guessedCode: nil)], on: simulation.relay)
        defer { relay.erase() }
        answer(code: nil, policy: .acceptAnyIdentity)
        let call = try alice.call(bob, securityCode: nil, policy: .acceptAnyIdentity)
        runUntilSettled([call])
        let callee = try XCTUnwrap(calleeCall(of: call))
        let callerSAS = try XCTUnwrap(call.sas, "the caller completed a handshake (with the relay)")
        let calleeSAS = try XCTUnwrap(callee.sas, "the callee completed a handshake (with the relay)")
        XCTAssertNotEqual(callerSAS, calleeSAS, "reading the SAS aloud reveals the relay")
        XCTAssertEqual(relay.stolenKeys.count, 2)
        // The relay re-seals every blob, so the call even connects: only the SAS shows it.
        XCTAssertEqual(call.state, .connected)
        guard case let .secured(_, peer)? = alice.events(of: call).first(where: { if case .secured = $0 { return true } else { return false } }) else {
            return XCTFail("no secured event")
        }
        XCTAssertNotEqual(peer, bob.id, "the caller can also see that the answering identity is not the device it dialled")
    }

    func testThePinnedIdentityPolicyRefusesASubstitutedKeyExchangeEvenWithoutACode() throws {
        let relay = MaliciousRelay([.substituteKeys(guessedCode: nil)], on: simulation.relay)
        defer { relay.erase() }
        answer(code: nil)
        let call = try alice.call(bob, securityCode: nil)
        runUntilSettled([call])
        simulation.run(for: .seconds(1))
        assertEnded(calleeCall(of: call), .failed(.handshakeFailed(.identityMismatch)))
        XCTAssertTrue(call.state.isEnded)
        XCTAssertNil(call.sas)
        XCTAssertTrue(relay.stolenKeys.isEmpty)
    }

    func testAnInviteReplayedByTheRelayRingsOnlyOnce() throws {
        var invites: [RelayedMessage] = []
        simulation.relay.interceptor = { message in
            guard case .incomingCall = message.message else { return [message] }
            invites.append(message)
            return [message, message]  // delivered twice at once
        }
        answer(code: nil)
        let call = try alice.call(bob, securityCode: nil)
        runUntilSettled([call, calleeCall(of: call)])
        XCTAssertEqual(call.state, .connected)
        call.hangUp(now: simulation.clock.now)
        simulation.run(for: .seconds(1))
        // And once more, after the call ended.
        for invite in invites { simulation.relay.deliver(invite.message, to: invite.to) }
        simulation.run(for: .seconds(5))
        XCTAssertEqual(bob.calls.count, 1, "one ring for one invite")
        XCTAssertEqual(bob.ignoredReplayedInvites, 2)
    }

    // MARK: Sealed blobs under a hostile relay: correct, or ended cleanly in bounded time

    func testReplayedBlobsAreRefusedAndTheCallConnectsCorrectly() throws {
        _ = MaliciousRelay([.replay(to: bob.id), .replay(to: alice.id)], on: simulation.relay)
        let (call, callee) = try connectThroughHostileRelay()
        XCTAssertEqual(call.state, .connected)
        XCTAssertEqual(callee.state, .connected)
        XCTAssertGreaterThan(call.counters.replayedBlobs + callee.counters.replayedBlobs, 0)
    }

    func testReorderedBlobsAreProcessedInSequenceAndTheCallConnects() throws {
        _ = MaliciousRelay([.reorder(to: bob.id), .reorder(to: alice.id)], on: simulation.relay)
        let (call, callee) = try connectThroughHostileRelay()
        XCTAssertEqual(call.state, .connected)
        XCTAssertEqual(callee.state, .connected)
        XCTAssertGreaterThan(call.counters.reorderedBlobs + callee.counters.reorderedBlobs, 0)
    }

    func testInjectedForgedBlobsAreRefusedAndTheCallConnects() throws {
        _ = MaliciousRelay([.inject(to: bob.id), .inject(to: alice.id)], on: simulation.relay)
        let (call, callee) = try connectThroughHostileRelay()
        XCTAssertEqual(call.state, .connected)
        XCTAssertEqual(callee.state, .connected)
        XCTAssertGreaterThan(call.counters.forgedBlobs, 0)
        XCTAssertGreaterThan(callee.counters.forgedBlobs, 0)
    }

    func testADroppedOfferEndsBothSidesWithinTheNegotiationTimeout() throws {
        _ = MaliciousRelay([.drop(to: bob.id, blobs: [0])], on: simulation.relay)
        let start = simulation.clock.now
        let (call, callee) = try connectThroughHostileRelay()
        XCTAssertTrue(call.state.isEnded && callee.state.isEnded, "caller \(call.state), callee \(callee.state)")
        XCTAssertLessThanOrEqual(simulation.clock.now.since(start), .seconds(17), "ended within the negotiation timeout")
    }

    func testADroppedCandidateBlobEndsTheCallAfterTheGapTimeoutWithoutHanging() throws {
        _ = MaliciousRelay([.drop(to: alice.id, blobs: [1])], on: simulation.relay)  // the callee's first candidate
        let (call, callee) = try connectThroughHostileRelay()
        assertEnded(call, .failed(.timeout(.blobGap)))
        XCTAssertTrue(callee.state.isEnded, "the callee ends too (bye and hang-up from the caller)")
    }

    func testACorruptedBlobIsNeverAcceptedAndTheCallEndsCleanly() throws {
        _ = MaliciousRelay([.corrupt(to: bob.id, blobs: [1])], on: simulation.relay)
        let (call, callee) = try connectThroughHostileRelay()
        XCTAssertEqual(callee.counters.forgedBlobs, 1)
        XCTAssertTrue(call.state.isEnded && callee.state.isEnded)
    }

    private func connectThroughHostileRelay() throws -> (CallCore, CallCore) {
        answer(code: "5555")
        let call = try alice.call(bob, securityCode: "5555")
        runUntilSettled([call])
        let callee = try XCTUnwrap(calleeCall(of: call))
        runUntilSettled([call, callee])
        if !(call.state == .connected && callee.state == .connected) {
            simulation.run(for: .seconds(30)) { call.state.isEnded && callee.state.isEnded }
        }
        XCTAssertTrue(call.state == .connected || call.state.isEnded, "never hangs: \(call.state)")
        XCTAssertTrue(callee.state == .connected || callee.state.isEnded, "never hangs: \(callee.state)")
        return (call, callee)
    }

    private func end(of call: CallCore) -> CallEnd? {
        if case let .ended(end) = call.state { return end } else { return nil }
    }
}
