/// Every failure of the ICE transport, with a stable numeric `code` (7001-7049; the
/// signalling client uses 30xx) and a message a person can act on. Messages name limits,
/// states and candidate types, never credentials or payload bytes.
///
/// | code | name | meaning | what to do |
/// |---|---|---|---|
/// | 7001 | `invalidConfiguration` | a server address, limit or interval of `IceConfiguration` is out of range | fix the configuration |
/// | 7002 | `loopNotRunning` | the `IceLoop` was never started or has stopped | start the loop first |
/// | 7003 | `agentSetupFailed` | libnice could not create the agent, its stream or a TURN entry | treat as a failed call |
/// | 7004 | `invalidState` | an operation out of order (gather twice, credentials twice) | fix the caller |
/// | 7005 | `closed` | the transport was closed (by `close()` or `IceLoop.stop()`) | none |
/// | 7006 | `malformedCandidate` | a remote candidate attribute does not parse | drop it; a peer that sends garbage is suspect |
/// | 7007 | `unsupportedCandidate` | a well-formed candidate Parley does not use (other component, TCP with ICE-TCP off, a hostname or mDNS address) | ignore it and go on |
/// | 7008 | `tooManyRemoteCandidates` | more remote candidates than `maxRemoteCandidates` | ignore it and go on |
/// | 7009 | `invalidCredentials` | a remote ufrag or password breaks RFC 8839 (characters or length) | end the call |
/// | 7010 | `gatheringFailed` | libnice refused to gather (no usable local address) | check `localAddresses` and interfaces |
/// | 7011 | `connectivityChecksFailed` | every candidate pair failed after the peer's end-of-candidates | end the call (peer unreachable) |
/// | 7012 | `connectTimeout` | not connected within `connectTimeout` | end the call (peer unreachable) |
/// | 7013 | `consentLost` | a connected path lost consent (RFC 7675): the peer vanished or revoked it | end the call |
/// | 7014 | `loopStartFailed` | the loop's thread could not be started | treat as a setup failure |
public struct IceError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Stable numeric codes; never renumbered.
    public enum Code: Int, Sendable, CaseIterable {
        case invalidConfiguration = 7001
        case loopNotRunning = 7002
        case agentSetupFailed = 7003
        case invalidState = 7004
        case closed = 7005
        case malformedCandidate = 7006
        case unsupportedCandidate = 7007
        case tooManyRemoteCandidates = 7008
        case invalidCredentials = 7009
        case gatheringFailed = 7010
        case connectivityChecksFailed = 7011
        case connectTimeout = 7012
        case consentLost = 7013
        case loopStartFailed = 7014
    }

    public let code: Code
    /// What happened, for people and logs.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code) (\(code.rawValue)): \(message)" }
}
