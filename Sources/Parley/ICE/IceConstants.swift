/// Parley's ICE numbers in one place (Signalling/PROTOCOL.md, "ICE", "Constants"). The
/// longest candidate attribute and the remote ufrag and password lengths are the SDP
/// grammar's (`SDPLimits.maxCandidateBytes`, `iceUfragBytes`, `icePasswordBytes`).
public enum IceConstants {
    // MARK: Specification constants

    /// The one ICE stream and its one component that carry every Parley datagram.
    public static let componentID: UInt32 = 1
    /// The largest datagram the transport carries: a sealed Parley frame never exceeds it.
    public static let maxDatagramBytes = 16_408
    /// Length of the local credentials Parley generates (from the OS CSPRNG, not libnice's
    /// GLib PRNG): 8 ice-chars (48 bits) of ufrag, 32 ice-chars (192 bits) of password.
    public static let localUsernameFragmentLength = 8
    public static let localPasswordLength = 32
    /// Remote candidates a transport accepts by default: the call's limit (PROTOCOL.md, "Call flow").
    public static let defaultMaxRemoteCandidates = 32
    /// The highest `maxRemoteCandidates` allowed. libnice 0.1.21 documents 25 remote candidates
    /// (`NICE_AGENT_MAX_REMOTE_CANDIDATES`) but does not enforce it; what it does bound is the
    /// check list (`max-connectivity-checks`, 100 pairs), so more remote candidates than that
    /// could never all be checked.
    public static let maxRemoteCandidatesLimit = 100
    /// libnice 0.1.21's limit of TURN servers per component (`NICE_CANDIDATE_MAX_TURN_SERVERS`).
    public static let maxTurnServers = 8

    /// Consent freshness as libnice 0.1.21 implements RFC 7675, when
    /// `IceConfiguration.libniceConsentFreshness` turns it on (compile-time constants in
    /// agent-priv.h, not configurable): one consent check every 5 s ± 20 % (at least 4 s),
    /// never retransmitted; consent is lost 10 s after the last response. Calls leave it off
    /// and use `PathConsent` on their sealed frames (PROTOCOL.md, "ICE").
    public static let consentCheckInterval: Duration = .seconds(5)
    public static let consentTimeout: Duration = .seconds(10)

    // MARK: Implementation tuning

    /// Datagrams per `sendmmsg` batch; larger batches are sent in chunks of this size.
    public static let maxBatch = 64
    /// STUN retransmission start (RTO) and count (Rc) for gathering and checks: 100 ms,
    /// doubling, 6 retransmissions, so an unanswered pair fails after about 5 s (libnice's
    /// defaults, 200 ms and 7, take about 20 s: longer than a sensible connect timeout).
    public static let stunInitialTimeoutMilliseconds: UInt32 = 100
    public static let stunMaxRetransmissions: UInt32 = 6
}
