import ParleyProtocol

/// The exit statuses of parley-agent (README.md, "Exit codes"). They follow sysexits.h
/// where one fits, so shell scripts can tell a wrong flag from a server that is down.
enum AgentExit: Int32, CaseIterable {
    /// Done: every call ended by a hang-up (or serve was stopped by a signal).
    case ok = 0
    /// A bad flag or argument (ArgumentParser's validation errors use it too).
    case usage = 64
    /// An input file (--play, --send, --code-file, --config) cannot be read or is malformed.
    case inputFile = 66
    /// The signalling server could not be reached within --connect-timeout, or refused us.
    case serverUnreachable = 69
    /// An output (--record, --receive-dir) cannot be written.
    case outputFile = 74
    /// The call was rejected, the peer was busy, offline, or did not answer.
    case callNotAnswered = 75
    /// The call failed after it was answered (ICE, lost connection, protocol, ...).
    case callFailed = 76
    /// The two devices did not use the same security code.
    case securityCodeMismatch = 77
    /// The configuration (config file, server, pin, identity, policy) is wrong.
    case configuration = 78

    /// The status for a call that failed with `error`.
    static func forCall(_ error: CallError) -> AgentExit {
        switch error {
        case .securityCodeMismatch: return .securityCodeMismatch
        case .rejected, .busy, .peerUnavailable, .unanswered: return .callNotAnswered
        case .serverUnreachable: return .serverUnreachable
        default: return .callFailed
        }
    }

    /// The status for a call that ended as `end`.
    static func forEnd(_ end: CallEnd) -> AgentExit {
        if case let .failed(error) = end { return forCall(error) }
        return .ok
    }
}

/// An error that ends the agent with `status`, after one line on stderr and an `error` event.
struct AgentFailure: Error, CustomStringConvertible {
    let status: AgentExit
    let message: String

    init(_ status: AgentExit, _ message: String) {
        self.status = status
        self.message = message
    }

    var description: String { message }
}
