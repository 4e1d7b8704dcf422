@testable import ParleyCrypto
import XCTest

/// Two devices and helpers to run the call handshake between them, honestly or
/// through a tampering function standing in for a hostile relay.
final class CallFixture {
    let caller = DeviceIdentity()
    let callee = DeviceIdentity()

    deinit {
        caller.erase()
        callee.erase()
    }

    struct Outcome {
        let callerKeys: CallKeys
        let calleeKeys: CallKeys
        func erase() {
            callerKeys.erase()
            calleeKeys.erase()
        }
    }

    /// Runs the four messages through `relay` (called with the step 1...4 and the
    /// message), which may rewrite each one.
    func handshake(callerCode: String?, calleeCode: String?,
                   callerPolicy: PeerIdentityPolicy = .requireDeviceID, calleePolicy: PeerIdentityPolicy = .requireDeviceID,
                   relay: (Int, [UInt8]) throws -> [UInt8] = { $1 }) throws -> Outcome {
        let callerSecurityCode = try SecurityCode.parse(callerCode)
        let calleeSecurityCode = try SecurityCode.parse(calleeCode)
        defer {
            callerSecurityCode?.erase()
            calleeSecurityCode?.erase()
        }
        let initiator = try CallInitiator(identity: caller, calleeID: callee.deviceID, securityCode: callerSecurityCode, policy: callerPolicy)
        let responder = CallResponder(identity: callee, callerID: caller.deviceID, securityCode: calleeSecurityCode, policy: calleePolicy)
        defer {
            initiator.erase()
            responder.erase()
        }
        let response = try responder.consumeInvite(relay(1, initiator.inviteMessage))
        let confirm = try initiator.consumeResponse(relay(2, response))
        let (finish, calleeKeys) = try responder.consumeConfirm(relay(3, confirm))
        do {
            let callerKeys = try initiator.consumeFinish(relay(4, finish))
            return Outcome(callerKeys: callerKeys, calleeKeys: calleeKeys)
        } catch {
            calleeKeys.erase()
            throw error
        }
    }
}

/// Asserts that `body` throws exactly `expected`.
func XCTAssertThrowsCryptoError<T>(_ expected: CryptoError, _ body: @autoclosure () throws -> T,
                                   _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try body(), message, file: file, line: line) { error in
        XCTAssertEqual(error as? CryptoError, expected, message, file: file, line: line)
    }
}

/// A test case that starts each test with one honest call between two fresh devices
/// (with `securityCode` on both sides) and erases it afterwards.
class CallTestCase: SecretsTestCase {
    var fixture: CallFixture!
    var call: CallFixture.Outcome!
    /// The code both sides use; subclasses override to run with or without one.
    var securityCode: String? { nil }

    override func setUp() {
        super.setUp()
        fixture = CallFixture()
        // An honest handshake with matching codes cannot fail.
        call = try! fixture.handshake(callerCode: securityCode, calleeCode: securityCode)
    }

    override func tearDown() {
        call.erase()
        call = nil
        fixture = nil
        super.tearDown()
    }
}
