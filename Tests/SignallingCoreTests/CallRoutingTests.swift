@testable import ParleyCrypto
import ParleyProtocol
@testable import SignallingCore
import XCTest

final class CallRoutingTests: XCTestCase {
    private let alice = DeviceIdentity(), bob = DeviceIdentity(), carol = DeviceIdentity()
    private let callID = CoreHarness.callID(0xaa)
    private let invitePayload = [UInt8](repeating: 1, count: 148)

    private func twoOnline(_ server: CoreHarness) throws -> (ConnectionID, ConnectionID) {
        let a = try server.login(alice), b = try server.login(bob)
        _ = server.take(a); _ = server.take(b)
        return (a, b)
    }

    func testAcceptedCallRelaysPayloadsInOrderAndHangupEndsIt() throws {
        let server = CoreHarness()
        let (a, b) = try twoOnline(server)
        server.send(a, .invite(callee: bob.deviceID, callID: callID, payload: invitePayload))
        XCTAssertEqual(server.take(b), [.incomingCall(caller: alice.deviceID, callID: callID, payload: invitePayload)])
        XCTAssertEqual(server.take(a), [.ringing(callID: callID)])
        server.send(b, .accept(callID: callID, payload: [2, 2]))
        XCTAssertEqual(server.take(a), [.accept(callID: callID, payload: [2, 2])])
        for index in 0..<20 { server.send(a, .signal(callID: callID, payload: [UInt8(index)])) }
        server.send(b, .signal(callID: callID, payload: [0xff]))
        XCTAssertEqual(server.take(b), (0..<20).map { .signal(callID: callID, payload: [UInt8($0)]) }, "relayed once each, in order")
        XCTAssertEqual(server.take(a), [.signal(callID: callID, payload: [0xff])])
        server.send(b, .hangup(callID: callID))
        XCTAssertEqual(server.take(a), [.callEnded(callID: callID, outcome: .hungUp)])
        XCTAssertEqual(server.core.callCount, 0, "the server forgets the call")
        server.send(a, .signal(callID: callID, payload: [1]))
        XCTAssertEqual(server.take(a).first, .error(code: .unknownCall, message: "no connected call \(callID) with this device"))
    }

    func testRejectBusyUnavailableAndUnanswered() throws {
        let server = CoreHarness()
        let (a, b) = try twoOnline(server)
        server.send(a, .invite(callee: bob.deviceID, callID: callID, payload: invitePayload))
        server.send(b, .reject(callID: callID))
        XCTAssertEqual(server.take(a).last, .callEnded(callID: callID, outcome: .rejected))

        let c = try server.login(carol)
        _ = server.take(c); _ = server.take(a); _ = server.take(b)
        server.send(a, .invite(callee: bob.deviceID, callID: CoreHarness.callID(1), payload: invitePayload))
        server.send(c, .invite(callee: bob.deviceID, callID: CoreHarness.callID(2), payload: invitePayload))
        XCTAssertEqual(server.take(c), [.callEnded(callID: CoreHarness.callID(2), outcome: .busy)])

        let offline = DeviceIdentity()
        server.send(c, .invite(callee: offline.deviceID, callID: CoreHarness.callID(3), payload: invitePayload))
        XCTAssertEqual(server.take(c), [.callEnded(callID: CoreHarness.callID(3), outcome: .unavailable)])

        _ = server.take(a); _ = server.take(b)
        server.advance(ServerConfiguration().ringTimeout)
        XCTAssertEqual(server.take(a), [.callEnded(callID: CoreHarness.callID(1), outcome: .unanswered)])
        XCTAssertEqual(server.take(b), [.callEnded(callID: CoreHarness.callID(1), outcome: .unanswered)])
        XCTAssertEqual(server.core.callCount, 0)
    }

    func testDeviceInAnotherRealmIsUnavailable() throws {
        let server = CoreHarness()
        let a = try server.login(alice, realm: "home")
        _ = try server.login(bob, realm: "office")
        _ = server.take(a)
        server.send(a, .invite(callee: bob.deviceID, callID: callID, payload: invitePayload))
        XCTAssertEqual(server.take(a), [.callEnded(callID: callID, outcome: .unavailable)], "no call across realms, no hint it exists")
    }

    func testGlareKeepsTheCallOfTheLowerDeviceIDWhicheverArrivesFirst() throws {
        for lowerFirst in [true, false] {
            let server = CoreHarness()
            let (a, b) = try twoOnline(server)
            let (low, high) = alice.deviceID < bob.deviceID ? (a, b) : (b, a)
            let (lowID, highID) = alice.deviceID < bob.deviceID ? (alice.deviceID, bob.deviceID) : (bob.deviceID, alice.deviceID)
            let lowCall = CoreHarness.callID(1), highCall = CoreHarness.callID(2)
            let sends = [(low, SignalMessage.invite(callee: highID, callID: lowCall, payload: invitePayload)),
                         (high, SignalMessage.invite(callee: lowID, callID: highCall, payload: invitePayload))]
            for (id, message) in lowerFirst ? sends : sends.reversed() { server.send(id, message) }
            XCTAssertEqual(server.core.callCount, 1, "lower first: \(lowerFirst)")
            XCTAssertTrue(server.take(high).contains(.incomingCall(caller: lowID, callID: lowCall, payload: invitePayload)))
            XCTAssertTrue(server.take(low).contains(.ringing(callID: lowCall)))
            XCTAssertEqual(server.inbox[high], [], "drained")
            // The losing call is over: the higher device may accept the surviving one.
            server.send(high, .accept(callID: lowCall, payload: [2]))
            XCTAssertEqual(server.take(low), [.accept(callID: lowCall, payload: [2])])
        }
    }

    func testGlareLoserIsToldGlare() throws {
        let server = CoreHarness()
        let (a, b) = try twoOnline(server)
        let (low, high) = alice.deviceID < bob.deviceID ? (a, b) : (b, a)
        let (lowID, highID) = alice.deviceID < bob.deviceID ? (alice.deviceID, bob.deviceID) : (bob.deviceID, alice.deviceID)
        server.send(high, .invite(callee: lowID, callID: CoreHarness.callID(2), payload: invitePayload))
        _ = server.take(high)
        server.send(low, .invite(callee: highID, callID: CoreHarness.callID(1), payload: invitePayload))
        XCTAssertTrue(server.take(high).contains(.callEnded(callID: CoreHarness.callID(2), outcome: .glare)))
        XCTAssertTrue(server.take(low).contains(.callEnded(callID: CoreHarness.callID(2), outcome: .glare)))

        let server2 = CoreHarness()
        let (a2, b2) = try twoOnline(server2)
        let (low2, high2) = alice.deviceID < bob.deviceID ? (a2, b2) : (b2, a2)
        server2.send(low2, .invite(callee: highID, callID: CoreHarness.callID(1), payload: invitePayload))
        server2.send(high2, .invite(callee: lowID, callID: CoreHarness.callID(2), payload: invitePayload))
        XCTAssertTrue(server2.take(high2).contains(.callEnded(callID: CoreHarness.callID(2), outcome: .glare)))
    }

    func testDisconnectEndsTheCallForTheOtherPartyAndCallerMayCancel() throws {
        let server = CoreHarness()
        let (a, b) = try twoOnline(server)
        server.send(a, .invite(callee: bob.deviceID, callID: callID, payload: invitePayload))
        server.send(b, .accept(callID: callID, payload: [2]))
        _ = server.take(a)
        server.feed(.disconnected(b))
        XCTAssertEqual(server.take(a), [.callEnded(callID: callID, outcome: .peerGone), .presenceUpdate(device: bob.deviceID, online: false)])

        let b2 = try server.login(bob)
        _ = server.take(b2); _ = server.take(a)
        server.send(a, .invite(callee: bob.deviceID, callID: CoreHarness.callID(9), payload: invitePayload))
        server.send(a, .hangup(callID: CoreHarness.callID(9)))
        XCTAssertEqual(server.take(b2).last, .callEnded(callID: CoreHarness.callID(9), outcome: .cancelled))
    }

    func testCallsToSelfUnknownCallsAndStrangersAreRefused() throws {
        let server = CoreHarness()
        let (a, b) = try twoOnline(server)
        let c = try server.login(carol)
        _ = server.take(c); _ = server.take(a); _ = server.take(b)
        server.send(a, .invite(callee: alice.deviceID, callID: callID, payload: []))
        XCTAssertEqual(server.take(a), [.error(code: .invalidTarget, message: "a device cannot call itself")])
        server.send(a, .invite(callee: bob.deviceID, callID: callID, payload: invitePayload))
        server.send(b, .accept(callID: callID, payload: [2]))
        _ = server.take(a); _ = server.take(b)
        // Carol is not in the call: she can neither inject into it nor end it.
        server.send(c, .signal(callID: callID, payload: [6, 6, 6]))
        server.send(c, .hangup(callID: callID))
        server.send(c, .accept(callID: callID, payload: [1]))
        XCTAssertEqual(server.take(a), [])
        XCTAssertEqual(server.take(b), [])
        let codes: [SignalErrorCode?] = server.take(c).map { message -> SignalErrorCode? in
            if case let .error(code, _) = message { return code }
            return nil
        }
        XCTAssertEqual(codes, [.unknownCall, .unknownCall, .unknownCall])
        // A reused call ID is refused.
        server.send(c, .invite(callee: alice.deviceID, callID: callID, payload: invitePayload))
        XCTAssertEqual(server.take(c).first, .error(code: .unexpectedMessage, message: "call ID \(callID) is already in use"))
    }
}
