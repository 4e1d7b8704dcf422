import ParleyProtocol

/// Why a call failed, in the few words the status line has room for, with the stable
/// code so a person can look it up ("security codes differ (5001)").
public enum CallErrorText {
    public static func describe(_ error: CallError) -> String {
        let text: String
        switch error {
        case .securityCodeMismatch: text = "security codes differ (or only one side entered one); agree on the code and call again"
        case .rejected: text = "the call was declined"
        case .busy: text = "busy in another call"
        case .peerUnavailable: text = "that device is not online"
        case .unanswered: text = "nobody answered"
        case let .timeout(step): text = "timed out while \(step.rawValue)"
        case .peerUnreachable: text = "no network path to the other device (a TURN server may be needed)"
        case .connectionLost: text = "the connection to the other device was lost"
        case .peerGone: text = "the other device left before the call was connected"
        case .serverUnreachable: text = "the signalling server is unreachable"
        case .glare: text = "you both called at once; the other call continues"
        default: text = TerminalText.sanitize(error.description)
        }
        return "\(text) (\(error.code))"
    }
}
