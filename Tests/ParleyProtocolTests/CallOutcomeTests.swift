import ParleyCrypto
import ParleyProtocol
import ParleyTesting
import XCTest

/// Every way a call ends before it connects, each with its error on each side, and
/// glare; each ends with no key left.
final class CallOutcomeTests: CallSimulationTestCase {
    func testARejectedCallFailsTheCallerWithRejected() throws {
        bob.onIncomingCall = { _ in .reject }
        let baseline = SecretBytes.liveCount
        let call = try alice.call(bob, securityCode: nil)
        runUntilSettled([call])
        assertEnded(call, .failed(.rejected))
        assertEnded(calleeCall(of: call), .hungUpLocally)
        XCTAssertEqual(SecretBytes.liveCount, baseline)
    }

    func testACallToABusyDeviceFailsWithBusy() throws {
        let carol = try simulation.addDevice(name: "carol")
        answer(code: nil)
        let first = try carol.call(bob, securityCode: nil)
        XCTAssertTrue(simulation.run(for: .seconds(10)) { first.state == .connected })
        let second = try alice.call(bob, securityCode: nil)
        runUntilSettled([second])
        assertEnded(second, .failed(.busy))
        XCTAssertEqual(first.state, .connected, "the first call is not disturbed")
    }

    func testACallToAnOfflineDeviceFailsWithPeerUnavailable() throws {
        bob.kill()
        let call = try alice.call(bob, securityCode: nil)
        runUntilSettled([call])
        assertEnded(call, .failed(.peerUnavailable))
    }

    func testAnUnansweredCallEndsAfterTheServersRingTimeout() throws {
        let call = try alice.call(bob, securityCode: nil)  // bob lets it ring
        let start = simulation.clock.now
        runUntilSettled([call])
        assertEnded(call, .failed(.unanswered))
        assertEnded(calleeCall(of: call), .failed(.unanswered))
        XCTAssertEqual(simulation.clock.now.since(start), .seconds(45) + simulation.relay.latency,
                       "the server's ring timeout, plus the server-to-device latency")
    }

    func testTheCallerCancellingARingingCallEndsTheCalleeAsHungUpByPeer() throws {
        let call = try alice.call(bob, securityCode: nil)
        simulation.run(for: .milliseconds(100))
        XCTAssertEqual(call.state, .ringing)
        XCTAssertEqual(calleeCall(of: call)?.state, .ringing)
        call.hangUp(now: simulation.clock.now)
        simulation.run(for: .milliseconds(100))
        assertEnded(call, .hungUpLocally)
        assertEnded(calleeCall(of: call), .hungUpByPeer)
    }

    func testGlareLeavesExactlyOneCallWhichConnects() throws {
        answer(code: nil)
        answer(alice, code: nil)
        let fromAlice = try alice.call(bob, securityCode: nil)
        let fromBob = try bob.call(alice, securityCode: nil)
        simulation.run(for: .seconds(10)) {
            [fromAlice, fromBob].allSatisfy { $0.state.isEnded || $0.state == .connected }
        }
        let survivor = alice.id < bob.id ? fromAlice : fromBob
        let loser = survivor === fromAlice ? fromBob : fromAlice
        XCTAssertEqual(survivor.state, .connected)
        assertEnded(loser, .failed(.glare))
        let loserOnTheOtherSide = (loser === fromAlice ? bob : alice).call(loser.callID)
        if let loserOnTheOtherSide { XCTAssertTrue(loserOnTheOtherSide.state.isEnded) }
    }

    func testAMissingKeyConfirmationFailsTheCallerWithAHandshakeTimeout() throws {
        // The relay swallows message 4 (the callee's finish) towards alice.
        simulation.relay.interceptor = { message in
            if message.to == self.alice.id, case let .signal(_, payload) = message.message, payload.first == CallSpec.PayloadType.finish {
                return []
            }
            return [message]
        }
        answer(code: nil)
        let call = try alice.call(bob, securityCode: nil)
        runUntilSettled([call])
        assertEnded(call, .failed(.timeout(.handshake)))
        simulation.run(for: .seconds(1))
        XCTAssertTrue(calleeCall(of: call)?.state.isEnded == true, "the callee is told (abort and hang-up)")
    }

    func testAnIncomingCallNobodyDecidesOnEndsAtTheServersRingTimeoutNotLater() throws {
        bob.timeouts.incoming = .seconds(300)
        let call = try alice.call(bob, securityCode: nil)
        runUntilSettled([call])
        assertEnded(calleeCall(of: call), .failed(.unanswered))
    }

    func testAcceptingTwiceOrAcceptingAnOutgoingCallIsAnInvalidStateError() throws {
        answer(code: nil)
        let call = try alice.call(bob, securityCode: nil)
        XCTAssertThrowsError(try call.accept(securityCode: nil, media: .default, now: simulation.clock.now)) { error in
            XCTAssertEqual((error as? CallError)?.code, 5015)
        }
        runUntilSettled([call])
        let callee = try XCTUnwrap(calleeCall(of: call))
        XCTAssertThrowsError(try callee.accept(securityCode: nil, media: .default, now: simulation.clock.now))
        XCTAssertThrowsError(try callee.reject(now: simulation.clock.now))
    }

    func testHangingUpAnEndedCallDoesNothing() throws {
        let call = try alice.call(bob, securityCode: nil)
        call.hangUp(now: simulation.clock.now)
        while call.pollOutput() != nil {}
        call.hangUp(now: simulation.clock.now)
        XCTAssertNil(call.pollOutput())
        assertEnded(call, .hungUpLocally)
    }
}
