import ParleyCrypto
import ParleyProtocol
import XCTest

/// A real call handshake (PROTOCOL.md, "Call handshake") run between two logged-in raw
/// clients through the server: message 1 in the invite, 2 in the accept, 3 and 4 as
/// signals. The caller of `run` owns the keys and erases them.
struct RelayedCall {
    let callID: CallID
    let callerKeys: CallKeys
    let calleeKeys: CallKeys
    /// Handshake messages 1...4 as the devices produced them.
    let handshakeMessages: [[UInt8]]

    struct Failure: Error, CustomStringConvertible { let description: String }

    static func run(caller: LoggedInDevice, callee: LoggedInDevice, callerCode: String?, calleeCode: String?) throws -> RelayedCall {
        let callerSecurityCode = try SecurityCode.parse(callerCode)
        let calleeSecurityCode = try SecurityCode.parse(calleeCode)
        defer {
            callerSecurityCode?.erase()
            calleeSecurityCode?.erase()
        }
        let initiator = try CallInitiator(identity: caller.identity, calleeID: callee.id, securityCode: callerSecurityCode)
        defer { initiator.erase() }
        let callID = try CallID(bytes: initiator.callID)
        let message1 = initiator.inviteMessage
        try caller.socket.send(.invite(callee: callee.id, callID: callID, payload: message1))

        guard case let .incomingCall(from, incomingID, relayed1) = try callee.socket.nextMessage(), from == caller.id, incomingID == callID else {
            throw Failure(description: "the callee did not get the incoming call")
        }
        let responder = CallResponder(identity: callee.identity, callerID: from, securityCode: calleeSecurityCode)
        defer { responder.erase() }
        let message2 = try responder.consumeInvite(relayed1)
        try callee.socket.send(.accept(callID: callID, payload: message2))

        guard try caller.socket.nextMessage() == .ringing(callID: callID) else { throw Failure(description: "no ringing") }
        guard case let .accept(acceptedID, relayed2) = try caller.socket.nextMessage(), acceptedID == callID else {
            throw Failure(description: "the caller did not get the accept")
        }
        let message3 = try initiator.consumeResponse(relayed2)
        try caller.socket.send(.signal(callID: callID, payload: message3))

        guard case let .signal(_, relayed3) = try callee.socket.nextMessage() else { throw Failure(description: "no message 3") }
        let (message4, calleeKeys) = try responder.consumeConfirm(relayed3)
        try callee.socket.send(.signal(callID: callID, payload: message4))

        guard case let .signal(_, relayed4) = try caller.socket.nextMessage() else {
            calleeKeys.erase()
            throw Failure(description: "no message 4")
        }
        let callerKeys: CallKeys
        do {
            callerKeys = try initiator.consumeFinish(relayed4)
        } catch {
            calleeKeys.erase()
            throw error
        }
        return RelayedCall(callID: callID, callerKeys: callerKeys, calleeKeys: calleeKeys,
                           handshakeMessages: [message1, message2, message3, message4])
    }

    func erase() {
        callerKeys.erase()
        calleeKeys.erase()
    }
}
