import ParleyCrypto
import ParleyProtocol
import ParleyTesting
import XCTest

/// The call state machine end to end on a virtual clock: two devices running real
/// `CallCore`s through the real signalling core, with simulated ICE that connects
/// only if the sealed SDP and candidates arrived intact.
final class CallFlowTests: CallSimulationTestCase {
    func testACallWithACodeConnectsWithTheSameSASAndAgreedMediaOnBothSides() throws {
        answer(code: "482-915")
        let call = try alice.call(bob, securityCode: "482915")
        let baselineState = call.state
        XCTAssertEqual(baselineState, .inviting)
        XCTAssertTrue(runUntilSettled([call, calleeCall(of: call)]) { self.calleeCall(of: call) })

        let callee = try XCTUnwrap(calleeCall(of: call))
        XCTAssertEqual(call.state, .connected)
        XCTAssertEqual(callee.state, .connected)
        XCTAssertNotNil(call.sas)
        XCTAssertEqual(call.sas, callee.sas)
        XCTAssertEqual(call.negotiatedMedia, callee.negotiatedMedia)
        XCTAssertNotNil(call.negotiatedMedia?.audio, "the default preferences agree on audio")
        XCTAssertEqual(call.path?.isRelayed, false)
        XCTAssertNotNil(call.frameSealer)
        XCTAssertEqual(call.counters, CallCounters(), "nothing was refused on an honest relay")
        XCTAssertEqual(callee.counters, CallCounters())

        let callerStates = alice.events(of: call).compactMap { if case let .stateChanged(state) = $0 { return state } else { return nil } }
        XCTAssertEqual(callerStates, [.inviting, .ringing, .securing, .negotiating, .connecting, .connected])
        let calleeStates = bob.events(of: callee).compactMap { if case let .stateChanged(state) = $0 { return state } else { return nil } }
        XCTAssertEqual(calleeStates, [.ringing, .securing, .negotiating, .connecting, .connected])
    }

    func testACallWorksInTheOtherDirection() throws {
        answer(alice, code: nil)
        let call = try bob.call(alice, securityCode: nil)
        XCTAssertTrue(runUntilSettled([call, alice.call(call.callID)]) { self.alice.call(call.callID) })
        XCTAssertEqual(call.state, .connected)
        XCTAssertEqual(alice.call(call.callID)?.state, .connected)
        XCTAssertEqual(call.sas, alice.call(call.callID)?.sas)
    }

    func testFramesSealedByOneSideOpenOnTheOther() throws {
        answer(code: nil)
        let call = try alice.call(bob, securityCode: nil)
        XCTAssertTrue(runUntilSettled([call, calleeCall(of: call)]) { self.calleeCall(of: call) })
        let callee = try XCTUnwrap(calleeCall(of: call))
        try alice.sendFrame(on: call, type: .messageData, payload: Array("hello bob".utf8))
        try bob.sendFrame(on: callee, type: .audio, payload: [1, 2, 3])
        simulation.run(for: .milliseconds(10))
        XCTAssertEqual(bob.receivedFrames.map(\.payload), [Array("hello bob".utf8)])
        XCTAssertEqual(alice.receivedFrames.map(\.type), [FrameType.audio.rawValue])
    }

    func testHangUpByTheCallerEndsBothSidesAndErasesEveryKeyOfTheCall() throws {
        try hangUpErasesEverything(hangingUp: { call, _ in call })
    }

    func testHangUpByTheCalleeEndsBothSidesAndErasesEveryKeyOfTheCall() throws {
        try hangUpErasesEverything(hangingUp: { _, callee in callee })
    }

    private func hangUpErasesEverything(hangingUp pick: (CallCore, CallCore) -> CallCore) throws {
        answer(code: "1234")
        let baseline = SecretBytes.liveCount
        let call = try alice.call(bob, securityCode: "1234")
        XCTAssertTrue(runUntilSettled([call, calleeCall(of: call)]) { self.calleeCall(of: call) })
        let callee = try XCTUnwrap(calleeCall(of: call))
        XCTAssertGreaterThan(SecretBytes.liveCount, baseline, "a connected call holds keys")

        let hanging = pick(call, callee)
        let other = hanging === call ? callee : call
        hanging.hangUp(now: simulation.clock.now)
        assertEnded(hanging, .hungUpLocally)
        simulation.run(for: .seconds(1))
        assertEnded(other, .hungUpByPeer)
        XCTAssertEqual(SecretBytes.liveCount, baseline, "every secret of the call is erased once both sides hung up")
        XCTAssertEqual(simulation.ice.runningTransportCount, 0, "both transports are stopped")
        XCTAssertEqual(simulation.relay.core.callCount, 0, "the server forgot the call")
        // The peer learned it from the sealed goodbye on the direct path (1 ms), not the server.
        let goodbyes = (hanging === call ? bob : alice).receivedFrames.filter { $0.type == FrameType.control.rawValue }
        XCTAssertEqual(goodbyes.map(\.payload), [ControlFrame.goodbye(code: 0).encoded])
    }

    func testTheSealedGoodbyeAloneEndsTheCallWhenTheServerHangUpIsLost() throws {
        answer(code: nil)
        let call = try alice.call(bob, securityCode: nil)
        XCTAssertTrue(runUntilSettled([call, calleeCall(of: call)]) { self.calleeCall(of: call) })
        let callee = try XCTUnwrap(calleeCall(of: call))
        simulation.relay.disconnect(alice.id)  // the server never hears alice's hang-up
        call.hangUp(now: simulation.clock.now)
        simulation.run(for: .milliseconds(50))
        assertEnded(callee, .hungUpByPeer)
    }

    func testACallKeepsGoingWhenBothDevicesLoseTheSignallingServer() throws {
        answer(code: nil)
        let call = try alice.call(bob, securityCode: nil)
        XCTAssertTrue(runUntilSettled([call, calleeCall(of: call)]) { self.calleeCall(of: call) })
        let callee = try XCTUnwrap(calleeCall(of: call))
        try alice.reconnectSignalling()  // the server reports peerGone to bob
        try bob.reconnectSignalling()
        simulation.run(for: .seconds(60))
        XCTAssertEqual(call.state, .connected)
        XCTAssertEqual(callee.state, .connected)
        try alice.sendFrame(on: call, type: .messageData, payload: [42])
        simulation.run(for: .milliseconds(5))
        XCTAssertEqual(bob.receivedFrames.last?.payload, [42])
    }

    func testAPeerThatVanishesEndsTheCallByConsentLossWithinItsTimeout() throws {
        answer(code: nil)
        let call = try alice.call(bob, securityCode: nil)
        XCTAssertTrue(runUntilSettled([call, calleeCall(of: call)]) { self.calleeCall(of: call) })
        let killedAt = simulation.clock.now
        bob.kill()
        XCTAssertTrue(simulation.run(for: simulation.ice.consentTimeout + .seconds(1)) { call.state.isEnded })
        assertEnded(call, .failed(.connectionLost))
        XCTAssertGreaterThanOrEqual(simulation.clock.now.since(killedAt), simulation.ice.consentTimeout,
                                    "the server's peerGone alone must not end a connected call")
    }

    func testNoWorkingPathFailsBothSidesWithPeerUnreachable() throws {
        simulation.ice.blocked = true
        answer(code: nil)
        let call = try alice.call(bob, securityCode: nil)
        XCTAssertTrue(runUntilSettled([call, calleeCall(of: call)]) { self.calleeCall(of: call) })
        assertEnded(call, .failed(.peerUnreachable))
        assertEnded(calleeCall(of: call), .failed(.peerUnreachable))
    }
}

private extension CallFlowTests {
    /// Runs until `calls` and the call found later by `callee` are all settled.
    func runUntilSettled(_ calls: [CallCore?], callee: @escaping () -> CallCore?) -> Bool {
        simulation.run(for: .seconds(120)) {
            guard let found = callee() else { return false }
            return (calls.compactMap { $0 } + [found]).allSatisfy { $0.state.isEnded || $0.state == .connected }
        }
    }
}
