/// Identifies a message this side sent, in the order `send` accepted them (from 1).
public typealias ReliableMessageID = UInt64
/// Identifies a file stream within its direction (the sender numbers its files from 1).
public typealias ReliableFileID = UInt32

/// What the channel tells the app, drained with `pollEvent()`.
public enum ReliableEvent: Equatable, Sendable {
    // MARK: Receiving

    /// A whole message from the peer, in order, exactly once.
    case message([UInt8])
    /// The peer started a file of `size` bytes.
    case fileStarted(id: ReliableFileID, size: UInt64, name: String?)
    /// The next bytes of an incoming file, in order; `received` counts every byte so far
    /// (the receiver's progress, never decreasing).
    case fileData(id: ReliableFileID, bytes: [UInt8], received: UInt64)
    /// The incoming file is complete and its digest matched the sender's.
    case fileCompleted(id: ReliableFileID, size: UInt64, digest: [UInt8])
    /// The incoming file failed (`fileIntegrity`, `fileSizeMismatch`, `fileCancelled`): discard it.
    case fileFailed(id: ReliableFileID, error: ReliableError)

    // MARK: Sending

    /// The peer received this message (it and everything before it in the stream).
    case delivered(ReliableMessageID)
    /// The send buffer has room again after `send` or `writeFile` was refused or cut short.
    case writable
    /// The peer acknowledged `acknowledged` of `size` bytes of an outgoing file (never decreasing).
    case fileProgress(id: ReliableFileID, acknowledged: UInt64, size: UInt64)
    /// Every byte of the outgoing file and its digest reached the peer.
    case fileSent(id: ReliableFileID, digest: [UInt8])

    // MARK: The channel

    /// The channel stopped for good (`peerUnresponsive`, `protocolViolation`).
    case failed(ReliableError)
}

/// What the channel measured, for call stats and benchmarks. Times in nanoseconds.
public struct ReliableStats: Equatable, Sendable {
    /// Smoothed RTT (RFC 9002), nil before the first sample.
    public var smoothedRTTNanoseconds: UInt64?
    /// Least RTT seen in the min-RTT window, nil before the first sample.
    public var minRTTNanoseconds: UInt64?
    /// Bottleneck bandwidth estimate (max filter of delivery-rate samples), bytes per second.
    public var bandwidthBytesPerSecond: Double
    /// Current pacing rate, bytes per second.
    public var pacingRateBytesPerSecond: Double
    /// Congestion window, bytes.
    public var congestionWindowBytes: UInt64
    /// Packet bytes sent and neither acknowledged nor declared lost.
    public var bytesInFlight: UInt64
    /// BBR phase: "startup", "drain", "probeBandwidth" or "probeRTT".
    public var phase: String
    /// Data packets sent (originals, retransmissions and probes).
    public var packetsSent: UInt64
    /// Packets retransmitted (lost ranges sent again) and probe packets.
    public var retransmittedPackets: UInt64
    /// Packets declared lost.
    public var lostPackets: UInt64
    /// Packets declared lost that were acknowledged later (reordering, not loss).
    public var spuriousLosses: UInt64
    /// Probe timeouts that fired.
    public var probeTimeouts: UInt64
    /// Acks sent by this side.
    public var acksSent: UInt64
    /// Stream bytes the peer acknowledged in order.
    public var bytesAcknowledged: UInt64
    /// Stream bytes received in order from the peer.
    public var bytesReceived: UInt64
    /// The highest window limit this side advertised to the peer (the peer must stay below it).
    public var advertisedWindowLimit: UInt64
    /// The peer's window limit: this side sends no stream byte at or above it.
    public var peerWindowLimit: UInt64
    /// Duplicate data packets received (every byte already held).
    public var duplicatePackets: UInt64
}
