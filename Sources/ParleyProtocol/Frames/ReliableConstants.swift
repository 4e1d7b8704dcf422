/// The reliable channel's numbers, in one place (Signalling/spec-drafts/reliable.md,
/// "Constants"). Wire constants are fixed by the protocol; the tuning constants are this
/// implementation's choices, named as in RFC 9002 and the BBR drafts.
public enum ReliableConstants {
    // MARK: Wire format

    /// Data packet header: packet number (6) | stream offset (6).
    public static let dataHeaderBytes = 12
    /// Ack packet fixed part: largest (6) | ack delay (4) | received offset (6) | window limit (6) | range count (1).
    public static let ackFixedBytes = 23
    /// Bytes per ack range: gap (4) | count (4).
    public static let ackRangeBytes = 8
    /// Most ack ranges in one ack packet.
    public static let maxAckRanges = 32
    /// Packet numbers and stream offsets are u48: both stay below this.
    public static let sequenceLimit: UInt64 = 1 << 48
    /// Largest plaintext payload of a frame (PROTOCOL.md, "Frames").
    public static let maxFramePayloadBytes = 16_384
    /// Stream record header: kind (1) | body length (4).
    public static let recordHeaderBytes = 5
    /// Largest message body; larger payloads are streamed as files.
    public static let maxMessageBytes = 1 << 20
    /// Largest file name, in UTF-8 bytes.
    public static let maxFileNameBytes = 255
    /// Largest body of a file data record (file ID + bytes).
    public static let maxFileDataRecordBytes = 4 + 65_536
    /// File digest length (BLAKE2b-256).
    public static let fileDigestBytes = 32
    /// Files open at once in one direction (sending or receiving).
    public static let maxOpenFiles = 8
    /// Stream bytes a sender may send before the peer's first ack states its window.
    public static let initialWindowBytes: UInt64 = 256 * 1024

    // MARK: Acknowledgements (receiver)

    /// An ack is sent after this many data packets received in order ...
    public static let ackEveryPackets = 2
    /// ... or this long after the first unacknowledged one, whichever comes first.
    public static let maxAckDelay: Duration = .milliseconds(10)
    /// A receiver that handles datagrams in batches (all its socket holds) may answer a
    /// whole batch with one ack at its end, but acks at least every this many data packets.
    public static let ackCoalesceLimit = 32
    /// A window update is sent when the window limit moved this fraction of the window past the last one sent.
    public static let windowUpdateFraction: UInt64 = 4

    // MARK: Loss detection and timers (sender; RFC 9002 names)

    /// A packet is lost when a packet sent this many numbers later was acknowledged.
    public static let packetThreshold: UInt64 = 3
    /// ... or when it was sent 9/8 of an RTT before one that was acknowledged.
    public static let timeThresholdNumerator: UInt64 = 9
    public static let timeThresholdDenominator: UInt64 = 8
    /// Timer granularity: the least loss delay and RTT variance term.
    public static let timerGranularity: Duration = .milliseconds(1)
    /// RTT assumed before the first sample.
    public static let initialRTT: Duration = .milliseconds(100)
    /// The probe timeout never fires sooner than this after the last ack-eliciting packet.
    public static let minProbeTimeout: Duration = .milliseconds(200)
    /// Backoff doubles the probe timeout per consecutive expiry, up to this.
    public static let maxProbeTimeout: Duration = .seconds(5)
    /// Probe packets sent when the probe timeout fires.
    public static let probePackets = 2
    /// With data outstanding and no ack received for this long, the channel fails.
    public static let peerSilenceLimit: Duration = .seconds(10)

    // MARK: Congestion control (BBR-style)

    /// Startup pacing and cwnd gain: 2 / ln 2.
    public static let startupGain = 2.885
    /// Drain pacing gain: the inverse of the startup gain.
    public static let drainGain = 1.0 / 2.885
    /// Congestion window gain outside startup: cwnd = 2 x BDP.
    public static let cwndGain = 2.0
    /// Pacing gains of the probe-bandwidth cycle, one phase per min RTT.
    public static let probeBandwidthGains: [Double] = [1.25, 0.75, 1, 1, 1, 1, 1, 1]
    /// The phase a cycle starts in (a cruise phase, so the first probe comes after the queue drained).
    public static let probeBandwidthFirstPhase = 2
    /// Rounds the bottleneck bandwidth max filter looks back.
    public static let bandwidthFilterRounds: UInt64 = 10
    /// Startup ends when the bandwidth grew less than this factor ...
    public static let fullBandwidthGrowth = 1.25
    /// ... for this many rounds in a row.
    public static let fullBandwidthRounds = 3
    /// Min RTT samples older than this send the sender into probe-RTT.
    public static let minRTTWindow: Duration = .seconds(10)
    /// Time spent in probe-RTT with the congestion window at its minimum.
    public static let probeRTTDuration: Duration = .milliseconds(200)
    /// A round with more than this fraction of its bytes lost is congestive (BBRv2's 2%) ...
    public static let lossThreshold = 0.02
    /// ... when it also lost at least this many packets (a few random losses are not congestion) ...
    public static let minLossEventsPerRound = 5
    /// ... or, to end startup, this many (BBRv2's full-loss count).
    public static let startupLossEvents = 8
    /// After a congestive round, inflight is capped at beta x the round's inflight (never below one BDP).
    public static let lossBeta = 0.7
    /// Rounds without congestive loss before the inflight cap is probed upward again.
    public static let inflightCapHoldRounds: UInt64 = 16
    /// The congestion window also covers this much sending at the estimated bandwidth,
    /// for acks delayed by the hosts' scheduling rather than by the path (BBR's ack
    /// aggregation allowance, fixed): 2 ms is 250 KB at 1 Gbit/s, 5 KB at 20 Mbit/s.
    public static let hostDelayAllowance: Duration = .milliseconds(2)
    /// Least congestion window, in packets.
    public static let minCwndPackets = 4
    /// Pacing lets this much time's worth of sending go in one burst (at least two packets),
    /// so a host whose timers fire every millisecond still reaches the rate.
    public static let pacingBurst: Duration = .milliseconds(1)
}

/// A channel's tunables. The defaults suit a call over the internet; every value is validated.
public struct ReliableConfiguration: Sendable, Equatable {
    /// Largest plaintext payload of one frame this side sends: the path MTU minus the IP,
    /// UDP and frame overhead. 1176 = a 1200-byte sealed frame (24 bytes of frame overhead).
    public var maxPacketPayload: Int = 1176
    /// Send buffer: bytes queued and not yet acknowledged (messages, file data, in flight).
    public var sendBufferBytes: Int = 4 << 20
    /// Receive window: stream bytes this side holds for the app (out of order, assembling,
    /// delivered as events and not yet taken by `pollEvent`).
    public var receiveWindowBytes: Int = 4 << 20
    /// Congestion window before the first measurement, in packets.
    public var initialCwndPackets: Int = 16

    public init() {}

    /// Throws `invalidConfiguration` naming the first bad value.
    public func validate() throws(ReliableError) {
        let minPayload = ReliableConstants.ackFixedBytes + ReliableConstants.maxAckRanges * ReliableConstants.ackRangeBytes
        guard maxPacketPayload >= minPayload, maxPacketPayload <= ReliableConstants.maxFramePayloadBytes else {
            throw .invalidConfiguration("maxPacketPayload must be \(minPayload)...\(ReliableConstants.maxFramePayloadBytes), not \(maxPacketPayload)")
        }
        let largestRecord = ReliableConstants.maxMessageBytes + ReliableConstants.recordHeaderBytes
        guard sendBufferBytes >= largestRecord, sendBufferBytes <= 1 << 30 else {
            throw .invalidConfiguration("sendBufferBytes must be \(largestRecord)...\(1 << 30) (room for one largest message), not \(sendBufferBytes)")
        }
        let leastWindow = max(Int(ReliableConstants.initialWindowBytes), largestRecord)
        guard receiveWindowBytes >= leastWindow, receiveWindowBytes <= 1 << 30 else {
            throw .invalidConfiguration("receiveWindowBytes must be \(leastWindow)...\(1 << 30) (room for one largest message), not \(receiveWindowBytes)")
        }
        guard initialCwndPackets >= ReliableConstants.minCwndPackets, initialCwndPackets <= 1000 else {
            throw .invalidConfiguration("initialCwndPackets must be \(ReliableConstants.minCwndPackets)...1000, not \(initialCwndPackets)")
        }
    }
}
