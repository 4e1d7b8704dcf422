import ParleyCrypto
import ParleyProtocol
import SignallingServer
import XCTest

/// PROTOCOL.md "Signalling core", "Calls": every way a call ends, over real TLS WebSockets.
final class CallOutcomesOverTLSTests: ServerTestCase {
    /// `caller` invites `callee`; asserts the callee rings with the caller's payload and the
    /// caller hears ringing.
    @discardableResult
    func ring(_ caller: LoggedInDevice, _ callee: LoggedInDevice, payload: [UInt8] = randomBytes(148),
              file: StaticString = #filePath, line: UInt = #line) throws -> CallID {
        let callID = CallID.random()
        try caller.socket.send(.invite(callee: callee.id, callID: callID, payload: payload))
        try callee.socket.expect(.incomingCall(caller: caller.id, callID: callID, payload: payload), file: file, line: line)
        try caller.socket.expect(.ringing(callID: callID), file: file, line: line)
        return callID
    }

    /// Rings and accepts; asserts the accept payload reaches the caller.
    @discardableResult
    func connectCall(_ caller: LoggedInDevice, _ callee: LoggedInDevice, file: StaticString = #filePath, line: UInt = #line) throws -> CallID {
        let callID = try ring(caller, callee, file: file, line: line)
        let answer = randomBytes(148)
        try callee.socket.send(.accept(callID: callID, payload: answer))
        try caller.socket.expect(.accept(callID: callID, payload: answer), file: file, line: line)
        return callID
    }

    func assertNoCallsLeft(_ fixture: ServerFixture, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(fixture.server.metricsSnapshot().calls, 0, "the server forgot the call", file: file, line: line)
    }

    func testAcceptRelaysTheInvitePayloadToTheCalleeAndTheAcceptPayloadToTheCaller() throws {
        let fixture = try startServer()
        let caller = try logIn(fixture)
        let callee = try logIn(fixture)
        try caller.socket.expect(.presenceUpdate(device: callee.id, online: true))

        let invitePayload = randomBytes(SignalLimits.maxHandshakePayloadBytes)
        let callID = try ring(caller, callee, payload: invitePayload)
        XCTAssertEqual(fixture.server.metricsSnapshot().calls, 1)
        let acceptPayload = randomBytes(148)
        try callee.socket.send(.accept(callID: callID, payload: acceptPayload))
        try caller.socket.expect(.accept(callID: callID, payload: acceptPayload))
        try callee.socket.expectNothingElseThenPong("the callee gets no echo of its accept")

        let toCallee = randomBytes(65), toCaller = randomBytes(33)
        try caller.socket.send(.signal(callID: callID, payload: toCallee))
        try callee.socket.send(.signal(callID: callID, payload: toCaller))
        try callee.socket.expect(.signal(callID: callID, payload: toCallee))
        try caller.socket.expect(.signal(callID: callID, payload: toCaller))
        XCTAssertEqual(fixture.server.metricsSnapshot().statistics.callsConnected, 1)
    }

    func testCalleeRejectingEndsTheCallWithRejected() throws {
        let fixture = try startServer()
        let caller = try logIn(fixture)
        let callee = try logIn(fixture)
        try caller.socket.expect(.presenceUpdate(device: callee.id, online: true))

        let rejected = try ring(caller, callee)
        try callee.socket.send(.reject(callID: rejected))
        try caller.socket.expect(.callEnded(callID: rejected, outcome: .rejected))
        try callee.socket.expectNothingElseThenPong()

        // The callee hanging up while it rings is a rejection too.
        let hungUpWhileRinging = try ring(caller, callee)
        try callee.socket.send(.hangup(callID: hungUpWhileRinging))
        try caller.socket.expect(.callEnded(callID: hungUpWhileRinging, outcome: .rejected))
        try callee.socket.expectNothingElseThenPong()
        assertNoCallsLeft(fixture)
    }

    func testCallToOrFromADeviceInAnotherCallIsBusy() throws {
        let fixture = try startServer()
        let first = try logIn(fixture)
        let second = try logIn(fixture)
        let third = try logIn(fixture)
        try first.socket.expect(.presenceUpdate(device: second.id, online: true))
        try first.socket.expect(.presenceUpdate(device: third.id, online: true))
        try second.socket.expect(.presenceUpdate(device: third.id, online: true))

        let call = try connectCall(first, second)
        for busy in [first, second] {
            let callID = CallID.random()
            try third.socket.send(.invite(callee: busy.id, callID: callID, payload: randomBytes(148)))
            try third.socket.expect(.callEnded(callID: callID, outcome: .busy))
        }
        // A device that is only ringing is busy too.
        try first.socket.send(.hangup(callID: call))
        try second.socket.expect(.callEnded(callID: call, outcome: .hungUp))
        let ringing = try ring(first, second)
        let callID = CallID.random()
        try third.socket.send(.invite(callee: second.id, callID: callID, payload: randomBytes(148)))
        try third.socket.expect(.callEnded(callID: callID, outcome: .busy))
        try first.socket.expectNothingElseThenPong("the busy devices are not disturbed")
        try second.socket.expectNothingElseThenPong("the busy devices are not disturbed")

        try first.socket.send(.hangup(callID: ringing))
        try second.socket.expect(.callEnded(callID: ringing, outcome: .cancelled))
        assertNoCallsLeft(fixture)
    }

    func testCallToAnOfflineDeviceIsUnavailable() throws {
        let fixture = try startServer()
        let caller = try logIn(fixture)
        let gone = try logIn(fixture)
        try caller.socket.expect(.presenceUpdate(device: gone.id, online: true))
        gone.socket.cutConnection()
        try caller.socket.expect(.presenceUpdate(device: gone.id, online: false))

        let callID = CallID.random()
        try caller.socket.send(.invite(callee: gone.id, callID: callID, payload: randomBytes(148)))
        try caller.socket.expect(.callEnded(callID: callID, outcome: .unavailable))
        assertNoCallsLeft(fixture)
    }

    func testCallToAnUnknownDeviceIsUnavailable() throws {
        let fixture = try startServer()
        let caller = try logIn(fixture)
        let callID = CallID.random()
        try caller.socket.send(.invite(callee: DeviceID.random(), callID: callID, payload: randomBytes(148)))
        try caller.socket.expect(.callEnded(callID: callID, outcome: .unavailable))
        try caller.socket.expectNothingElseThenPong("the connection stays open")
        assertNoCallsLeft(fixture)
    }

    func testUnansweredCallEndsForBothAfterTheRingTimeout() throws {
        let fixture = try startServer { $0.core.ringTimeout = .seconds(1) }
        let caller = try logIn(fixture)
        let callee = try logIn(fixture)
        try caller.socket.expect(.presenceUpdate(device: callee.id, online: true))
        let callID = try ring(caller, callee)
        try caller.socket.expect(.callEnded(callID: callID, outcome: .unanswered), timeoutMilliseconds: 10_000)
        try callee.socket.expect(.callEnded(callID: callID, outcome: .unanswered), timeoutMilliseconds: 10_000)
        assertNoCallsLeft(fixture)

        // An accepted call does not time out.
        let connected = try connectCall(caller, callee)
        XCTAssertEqual(caller.socket.readRaw(timeoutMilliseconds: 1_500), .timeout, "no callEnded for a connected call")
        try caller.socket.send(.signal(callID: connected, payload: [1]))
        try callee.socket.expect(.signal(callID: connected, payload: [1]))
    }

    func testGlareKeepsTheLowerDeviceIDsCallWhenItWasPlacedFirst() throws {
        let fixture = try startServer()
        let (lowerIdentity, higherIdentity) = orderedIdentities()
        let lower = try logIn(fixture, lowerIdentity)
        let higher = try logIn(fixture, higherIdentity)
        try lower.socket.expect(.presenceUpdate(device: higher.id, online: true))

        let surviving = try ring(lower, higher)
        let losing = CallID.random()
        try higher.socket.send(.invite(callee: lower.id, callID: losing, payload: randomBytes(148)))
        try higher.socket.expect(.callEnded(callID: losing, outcome: .glare))
        try lower.socket.expectNothingElseThenPong("the lower device's call keeps ringing undisturbed")
        XCTAssertEqual(fixture.server.metricsSnapshot().calls, 1)

        let answer = randomBytes(148)
        try higher.socket.send(.accept(callID: surviving, payload: answer))
        try lower.socket.expect(.accept(callID: surviving, payload: answer))
    }

    func testGlareKeepsTheLowerDeviceIDsCallWhenItWasPlacedSecond() throws {
        let fixture = try startServer()
        let (lowerIdentity, higherIdentity) = orderedIdentities()
        let lower = try logIn(fixture, lowerIdentity)
        let higher = try logIn(fixture, higherIdentity)
        try lower.socket.expect(.presenceUpdate(device: higher.id, online: true))

        let losing = try ring(higher, lower)
        let surviving = CallID.random()
        let payload = randomBytes(148)
        try lower.socket.send(.invite(callee: higher.id, callID: surviving, payload: payload))
        try higher.socket.expect(.callEnded(callID: losing, outcome: .glare))
        try higher.socket.expect(.incomingCall(caller: lower.id, callID: surviving, payload: payload))
        try lower.socket.expect(.callEnded(callID: losing, outcome: .glare))
        try lower.socket.expect(.ringing(callID: surviving))
        XCTAssertEqual(fixture.server.metricsSnapshot().calls, 1, "exactly one call remains")

        let answer = randomBytes(148)
        try higher.socket.send(.accept(callID: surviving, payload: answer))
        try lower.socket.expect(.accept(callID: surviving, payload: answer))
        try higher.socket.send(.accept(callID: losing, payload: answer))
        try higher.socket.expectError(.unknownCall)
    }

    func testDisconnectEndsTheCallWithPeerGoneForTheOtherParty() throws {
        let fixture = try startServer()
        let caller = try logIn(fixture)
        let callee = try logIn(fixture)
        let third = try logIn(fixture)
        try caller.socket.expect(.presenceUpdate(device: callee.id, online: true))
        try caller.socket.expect(.presenceUpdate(device: third.id, online: true))
        try callee.socket.expect(.presenceUpdate(device: third.id, online: true))

        let connected = try connectCall(caller, callee)
        caller.socket.cutConnection()
        try callee.socket.expect(.callEnded(callID: connected, outcome: .peerGone))
        try callee.socket.expect(.presenceUpdate(device: caller.id, online: false))
        try third.socket.expect(.presenceUpdate(device: caller.id, online: false))

        // A ringing call ends the same way when the callee goes.
        let ringing = try ring(third, callee)
        callee.socket.cutConnection()
        try third.socket.expect(.callEnded(callID: ringing, outcome: .peerGone))
        try third.socket.expect(.presenceUpdate(device: callee.id, online: false))
        assertNoCallsLeft(fixture)
    }

    func testCallerHangingUpWhileRingingCancelsTheCall() throws {
        let fixture = try startServer()
        let caller = try logIn(fixture)
        let callee = try logIn(fixture)
        try caller.socket.expect(.presenceUpdate(device: callee.id, online: true))

        let callID = try ring(caller, callee)
        try caller.socket.send(.hangup(callID: callID))
        try callee.socket.expect(.callEnded(callID: callID, outcome: .cancelled))
        try caller.socket.expectNothingElseThenPong("the caller is not told of its own hangup")
        try callee.socket.send(.accept(callID: callID, payload: randomBytes(148)))
        try callee.socket.expectError(.unknownCall)
        assertNoCallsLeft(fixture)
    }

    func testHangupAfterConnectEndsTheCallWithHungUp() throws {
        let fixture = try startServer()
        let caller = try logIn(fixture)
        let callee = try logIn(fixture)
        try caller.socket.expect(.presenceUpdate(device: callee.id, online: true))

        let first = try connectCall(caller, callee)
        try callee.socket.send(.hangup(callID: first))
        try caller.socket.expect(.callEnded(callID: first, outcome: .hungUp))
        try callee.socket.expectNothingElseThenPong()

        let second = try connectCall(caller, callee)
        try caller.socket.send(.hangup(callID: second))
        try callee.socket.expect(.callEnded(callID: second, outcome: .hungUp))
        try caller.socket.send(.signal(callID: second, payload: [1, 2, 3]))
        try caller.socket.expectError(.unknownCall)
        try callee.socket.expectNothingElseThenPong("nothing is relayed after the hangup")
        assertNoCallsLeft(fixture)
    }

    func testCallingSelfIsAnInvalidTargetAndTheConnectionStaysOpen() throws {
        let fixture = try startServer()
        let device = try logIn(fixture)
        try device.socket.send(.invite(callee: device.id, callID: CallID.random(), payload: randomBytes(148)))
        try device.socket.expectError(.invalidTarget)
        try device.socket.expectNothingElseThenPong()
        assertNoCallsLeft(fixture)
    }

    func testStrangerCannotSignalAcceptRejectOrHangUpSomeoneElsesCall() throws {
        let fixture = try startServer()
        let caller = try logIn(fixture)
        let callee = try logIn(fixture)
        let stranger = try logIn(fixture)
        try caller.socket.expect(.presenceUpdate(device: callee.id, online: true))
        try caller.socket.expect(.presenceUpdate(device: stranger.id, online: true))
        try callee.socket.expect(.presenceUpdate(device: stranger.id, online: true))

        let ringing = try ring(caller, callee)
        for message: SignalMessage in [.accept(callID: ringing, payload: randomBytes(148)), .reject(callID: ringing),
                                       .signal(callID: ringing, payload: [9]), .hangup(callID: ringing)] {
            try stranger.socket.send(message)
            try stranger.socket.expectError(.unknownCall)
        }
        // The caller cannot accept its own call either.
        try caller.socket.send(.accept(callID: ringing, payload: randomBytes(148)))
        try caller.socket.expectError(.unknownCall)

        let answer = randomBytes(148)
        try callee.socket.send(.accept(callID: ringing, payload: answer))
        try caller.socket.expect(.accept(callID: ringing, payload: answer), "the call survived the stranger's attempts")
        for message: SignalMessage in [.signal(callID: ringing, payload: [9]), .hangup(callID: ringing), .reject(callID: ringing)] {
            try stranger.socket.send(message)
            try stranger.socket.expectError(.unknownCall)
        }
        try stranger.socket.send(.signal(callID: CallID.random(), payload: [1]))
        try stranger.socket.expectError(.unknownCall)
        try stranger.socket.expectNothingElseThenPong("unknownCall does not close the connection")
        try caller.socket.expectNothingElseThenPong("nothing of the stranger reached the caller")
        try callee.socket.expectNothingElseThenPong("nothing of the stranger reached the callee")

        try caller.socket.send(.signal(callID: ringing, payload: [4, 2]))
        try callee.socket.expect(.signal(callID: ringing, payload: [4, 2]))
        XCTAssertEqual(fixture.rejections(.unknownCall), 0, "unknownCall is an error, not a rejection that closes")
    }

    func testInviteReusingACallIDInUseIsUnexpectedAndLeavesTheConnectionOpen() throws {
        let fixture = try startServer()
        let caller = try logIn(fixture)
        let callee = try logIn(fixture)
        let other = try logIn(fixture)
        try caller.socket.expect(.presenceUpdate(device: callee.id, online: true))
        try caller.socket.expect(.presenceUpdate(device: other.id, online: true))
        try callee.socket.expect(.presenceUpdate(device: other.id, online: true))
        let callID = try ring(caller, callee)
        try other.socket.send(.invite(callee: caller.id, callID: callID, payload: randomBytes(148)))
        try other.socket.expectError(.unexpectedMessage)
        try other.socket.expectNothingElseThenPong("still open")
        try caller.socket.expectNothingElseThenPong("the call's parties saw nothing")
        try callee.socket.expectNothingElseThenPong("the call's parties saw nothing")
        XCTAssertEqual(fixture.server.metricsSnapshot().calls, 1)
    }

    func testADeviceTakesPartInAtMostMaxCallsPerDevice() throws {
        let fixture = try startServer { $0.core.maxCallsPerDevice = 2 }
        let caller = try logIn(fixture)
        let callees = try (0..<3).map { _ in try logIn(fixture, realm: "home") }
        for (index, callee) in callees.enumerated() {
            try caller.socket.expect(.presenceUpdate(device: callee.id, online: true))
            for earlier in callees[..<index] { try earlier.socket.expect(.presenceUpdate(device: callee.id, online: true)) }
        }
        try ring(caller, callees[0])
        try ring(caller, callees[1])
        try caller.socket.send(.invite(callee: callees[2].id, callID: CallID.random(), payload: randomBytes(148)))
        try caller.socket.expectError(.tooManyCalls)
        try caller.socket.expectNothingElseThenPong("still open")
        try callees[2].socket.expectNothingElseThenPong("the third callee never rang")
        XCTAssertEqual(fixture.server.metricsSnapshot().calls, 2)
    }
}
