import ParleyCrypto

/// Consent on the direct path, judged from authenticated traffic (PROTOCOL.md, "ICE",
/// "Consent on the sealed path"). RFC 7675's idea, moved from STUN to the call's own
/// frames: the peer still wants this path as long as frames it sealed keep arriving, and
/// only frames that open (authentic, not replayed) count, so neither an on-path attacker
/// nor a replay can keep a dead call alive.
///
/// Two duties, both driven by explicit time:
/// - a sender that has sent no frame for `CallSpec.keepaliveInterval` sends a keepalive
///   control frame (`keepaliveDue`), so an idle call still proves itself;
/// - consent expires when no frame opened for `timeout` (`expired`): the call ends with
///   `connectionLost`.
///
/// Neither clock runs before `start(now:)` (the moment ICE connected).
public struct PathConsent: Equatable, Sendable {
    public let timeout: Duration
    public private(set) var lastReceived: Timestamp?
    public private(set) var lastSent: Timestamp?

    public init(timeout: Duration) {
        self.timeout = timeout
    }

    /// The path is connected: both clocks start at `now`.
    public mutating func start(now: Timestamp) {
        lastReceived = now
        lastSent = now
    }

    public var isStarted: Bool { lastReceived != nil }

    /// A frame from the peer opened: consent is fresh.
    public mutating func frameOpened(now: Timestamp) {
        guard isStarted else { return }
        lastReceived = now
    }

    /// A frame was sealed and handed to the transport.
    public mutating func frameSent(now: Timestamp) {
        guard isStarted else { return }
        lastSent = now
    }

    /// True when this side has been silent for the keepalive interval.
    public func keepaliveDue(now: Timestamp) -> Bool {
        guard let lastSent else { return false }
        return now >= lastSent + CallSpec.keepaliveInterval
    }

    /// True once no frame from the peer opened for `timeout`.
    public func expired(now: Timestamp) -> Bool {
        guard let lastReceived else { return false }
        return now >= lastReceived + timeout
    }

    /// When a keepalive is next due or consent next expires, whichever is first.
    public var nextDeadline: Timestamp? {
        guard let lastReceived, let lastSent else { return nil }
        return min(lastSent + CallSpec.keepaliveInterval, lastReceived + timeout)
    }
}
