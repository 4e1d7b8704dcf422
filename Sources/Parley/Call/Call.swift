import Logging
import ParleyCrypto
import ParleyProtocol

/// One call, outgoing or incoming: its state, its SAS, its events, and the direct
/// path's messages, media and files. Thread-safe; every method may be called from any
/// thread or task. Setup and teardown run on the client's engine thread; sends run on
/// the calling thread.
///
///     let call = try client.call(bob, securityCode: "482-915")
///     try await call.connected()          // throws CallError (securityCodeMismatch, rejected, ...)
///     print(call.sas!, call.path!)        // "direct: host udp 10.0.0.2:5000 <-> ..."
///     try call.send(message: Array("hi".utf8))
///     for await data in call.received() { ... }
///     call.hangUp()                       // every key of the call is erased when it returns
public final class Call: @unchecked Sendable {
    public let id: CallID
    public let peer: DeviceID
    public let role: CallRole
    let session: CallSession
    /// The client this call belongs to: a call handle keeps it (and its threads) alive, so
    /// a call still works when the application dropped the client but kept the call. No
    /// cycle: the client holds only the session, never this handle.
    private let client: ParleyClient

    init(session: CallSession, client: ParleyClient) {
        self.session = session
        self.client = client
        id = session.callID
        peer = session.peer
        role = session.role
    }

    /// Where the call is (a snapshot).
    public var state: CallState { session.snapshot.state }
    /// The short authentication string, once the keys are confirmed: without a security
    /// code, both people read it aloud and hang up if it differs.
    public var sas: ShortAuthenticationString? { session.snapshot.sas }
    /// The selected candidate pair (direct or relayed), once connected.
    public var path: CandidatePair? { session.snapshot.path }
    /// What the offer and answer agreed on.
    public var negotiatedMedia: NegotiatedMedia? { session.snapshot.negotiatedMedia }
    /// How it ended, once it has.
    public var end: CallEnd? { if case let .ended(end) = session.snapshot.state { return end } else { return nil } }

    /// State changes, the SAS, the negotiated media, the selected path and the end, in order.
    /// Each call of this method returns a new stream that sees events from then on.
    public func events() -> AsyncStream<CallEvent> { session.eventStream() }

    /// Messages, media frames and file events from the direct path, in order, buffered
    /// from the start of the call. Received messages and file data are never dropped for a
    /// slow reader: once 1 MiB (or 4096 of them) wait, the rest stays in the reliable
    /// channel and its flow control holds the peer back until the reader catches up. Media
    /// frames and notices about this side's sending (delivered, writable, progress) are
    /// dropped beyond 65 536 items or 64 MiB and counted in `stats.droppedDeliveries`.
    /// One reader: the first iterator reads the stream, any other finishes at once.
    /// It finishes when the call ends, or when the reading task is cancelled (after which
    /// what arrives is dropped).
    public func received() -> CallDataStream { session.dataStream() }

    /// Waits until the call is connected; throws the reason when it ends first
    /// (`CallError`, or `.invalidState` when it was hung up).
    public func connected() async throws(CallError) {
        try await session.waitUntilConnected()
    }

    /// Answers an incoming call. `securityCode` must be the code the caller entered
    /// (nil when none was agreed); any difference fails the call on both sides with
    /// `securityCodeMismatch`.
    public func accept(securityCode: String? = nil, media: MediaPreferences = .default,
                       policy: PeerIdentityPolicy = .requireDeviceID) throws(CallError) {
        try session.accept(securityCode: securityCode, media: media, policy: policy)
    }

    /// Declines an incoming call that still rings.
    public func reject() throws(CallError) { try session.reject() }

    /// Ends the call (cancel, reject or hang up, whatever its state). When this returns,
    /// every key of the call is erased and its transport is closed.
    public func hangUp() { session.hangUp() }

    /// Sends a message on the reliable channel (at most `ReliableConstants.maxMessageBytes`).
    @discardableResult
    public func send(message: [UInt8]) throws(CallSendError) -> ReliableMessageID {
        try session.withDataPath { path throws(CallSendError) in try path.send(message: message) }
    }

    /// Sends one encoded audio or video frame (unreliable; fragmented to the path MTU).
    public func send(media frame: MediaFrame) throws(CallSendError) {
        try session.withDataPath { path throws(CallSendError) in try path.sendMedia(frame) }
    }

    /// Starts an outgoing file of `size` bytes; then `writeFile` its bytes in order.
    public func startFile(size: UInt64, name: String? = nil) throws(CallSendError) -> ReliableFileID {
        try session.withDataPath { path throws(CallSendError) in try path.startFile(size: size, name: name) }
    }

    /// Queues the next bytes of a file; returns how many the send buffer took (the rest
    /// must be written again after a `.writable` or `.fileProgress` event).
    public func writeFile(_ file: ReliableFileID, bytes: [UInt8]) throws(CallSendError) -> Int {
        try session.withDataPath { path throws(CallSendError) in try path.writeFile(file, bytes: bytes) }
    }

    /// Counters of the call so far.
    public var stats: CallStats { session.stats }
}

/// What a call counted (a snapshot).
public struct CallStats: Sendable, Equatable {
    public var framesSent = 0
    public var framesReceived = 0
    /// Frames that failed to open on arrival (forged, corrupted, replayed): dropped.
    public var refusedFrames = 0
    /// Media frames and sending notices dropped because `received()` was not consumed fast
    /// enough (received messages and file data are held back instead, never dropped).
    public var droppedDeliveries = 0
    public var reliable: ReliableStats?
    public var media: MediaReassemblyStats?
    public var signalling = CallCounters()
    public var ice: IceTransportStats?

    public init() {}
}
