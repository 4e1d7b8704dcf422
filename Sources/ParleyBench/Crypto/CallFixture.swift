import ParleyCrypto

/// Two devices and the call handshake between them. The identities are made once:
/// generating a device identity is not part of placing a call.
final class CallFixture {
    let caller = DeviceIdentity()
    let callee = DeviceIdentity()

    /// Runs the whole handshake, both sides in this thread, and returns each side's keys:
    /// CallInitiator -> inviteMessage -> CallResponder.consumeInvite ->
    /// CallInitiator.consumeResponse -> CallResponder.consumeConfirm -> CallInitiator.consumeFinish.
    func establish(callerCode: SecurityCode? = nil, calleeCode: SecurityCode? = nil) throws -> (caller: CallKeys, callee: CallKeys) {
        let initiator = try CallInitiator(identity: caller, calleeID: callee.deviceID, securityCode: callerCode)
        let responder = CallResponder(identity: callee, callerID: caller.deviceID, securityCode: calleeCode)
        let response = try responder.consumeInvite(initiator.inviteMessage)
        let confirm = try initiator.consumeResponse(response)
        let (finish, calleeKeys) = try responder.consumeConfirm(confirm)
        let callerKeys = try initiator.consumeFinish(finish)
        return (callerKeys, calleeKeys)
    }
}
