import CParleyShims
import CWebSockets
import DequeModule
import Glibc
import Logging
import ParleyCrypto
import ParleyLWS
import ParleyProtocol
import SignallingCore
import Synchronization

/// Work handed to the service thread by other threads (drained in
/// `LWS_CALLBACK_EVENT_WAIT_CANCELLED`).
enum LoopCommand: Sendable {
    case reload
    case shutdown
    case snapshot(@Sendable (ServerMetricsSnapshot) -> Void)
}

/// Implementation tuning of the adapter (not part of the wire protocol).
enum AdapterTuning {
    /// lws's receive buffer per WebSocket, held for the connection's life: 1 KiB takes a
    /// relayed 512-byte blob in one piece and costs 2.5 KB less per idle connection than
    /// lws's 4 KiB default (BENCHMARKS.md); a 32 KiB message arrives in 33 pieces.
    static let rxBufferSize = 1024
    /// The most lws hands to TLS in one write (0 would mean rx_buffer_size): a whole batch
    /// of frames (`WebSocketBatchWriter.targetBytes`) or the largest message with its header.
    static let txPacketSize = 64 * 1024
    /// WebSocket frames (fragments) one message may arrive in; more is a fragment flood and
    /// is refused with `malformed`. lws's receive chunks of one frame (one per TLS record or
    /// rx buffer) are not counted: a peer sending small TLS records is not flooding.
    static let maxFragmentsPerMessage = 256
    /// A receive buffer grown past this is released after its message instead of kept.
    static let keptReceiveCapacity = 4096
    /// Seconds a closing connection may take to flush its queue and close frame.
    static let closeFlushSeconds: Int32 = 5
    /// Metrics connections at once.
    static let maxMetricsSockets = 16
}

/// Everything the service thread owns: the core, the connections, the lws context.
/// Only the service thread touches it, except `commands` (a mutex) and `context` (read
/// by `wake()` to call `lws_cancel_service`, which is thread-safe).
final class ServerLoop: LWSTimerOwner, @unchecked Sendable {
    let options: ServerOptions
    let logger: Logger
    let store: ServerStateStore
    let certificateSHA256: [UInt8]
    var core: SignallingCore
    /// Tests only: sees every whole WebSocket message the server received or queued.
    var capture: (@Sendable (CapturedMessage) -> Void)?
    /// Renders /metrics (MetricsExporter, wired by SignallingServer).
    var renderMetrics: (ServerMetricsSnapshot) -> String = { _ in "" }

    let commands = Mutex<[LoopCommand]>([])
    private let contextPointer = Atomic<Int>(0)
    var context: OpaquePointer? {
        get { OpaquePointer(bitPattern: contextPointer.load(ordering: .acquiring)) }
        set { contextPointer.store(Int(bitPattern: newValue.map(UnsafeRawPointer.init)), ordering: .releasing) }
    }
    var signallingVhost: OpaquePointer?
    var metricsVhost: OpaquePointer?

    var connections: [ConnectionID: ServerConnection] = [:]
    /// Accepted sockets in acceptance order with the time their WebSocket upgrade must be done by.
    var upgradeDeadlines = Deque<(at: UInt64, id: ConnectionID)>()
    private var nextConnection: UInt64 = 1
    var signallingSockets = 0
    var metricsSockets = 0
    var counters = ServerMetricsSnapshot()
    /// Frames queued messages into batches (one buffer for the whole loop).
    private var batchWriter = WebSocketBatchWriter(maxMessageBytes: SignalLimits.maxMessageBytes)
    /// Messages by envelope type byte (named only when a snapshot is taken: per-message
    /// string work would cost more than routing).
    private var receivedByType = [Int](repeating: 0, count: 256)
    private var sentByType = [Int](repeating: 0, count: 256)

    /// Set when the loop should end and tear down (`requestStop`).
    private(set) var stopping = false
    /// The libev loop lws runs on (nil: lws's own poll loop, which returns from
    /// `lws_service` after each turn so `stopping` is checked there).
    var eventLoop: UnsafeMutableRawPointer?
    /// ev_break was called: nothing more is scheduled.
    private var loopBroken = false
    /// After `shutdown`: when the drain ends at the latest.
    var drainDeadline: UInt64?
    /// The timer that wakes the loop at the core's next deadline: libev's own with an event
    /// loop (see `EVTimer`), else an lws timer.
    private lazy var lwsTimer = LWSTimer(owner: self)
    private lazy var evTimer: EVTimer? = eventLoop.map { EVTimer(loop: $0, owner: self) }

    private func scheduleTimer(afterMicroseconds microseconds: Int64) {
        if let evTimer {
            evTimer.schedule(afterMicroseconds: microseconds)
        } else if let context {
            lwsTimer.schedule(on: context, afterMicroseconds: microseconds)
        }
    }

    /// Frees the libev timer while its loop still exists (the service thread, at the end).
    func releaseEventTimer() { evTimer = nil }
    var timerArmedAt: UInt64?

    init(options: ServerOptions, certificateSHA256: [UInt8], store: ServerStateStore, logger: Logger) throws {
        self.options = options
        self.logger = logger
        self.store = store
        self.certificateSHA256 = certificateSHA256
        let allowlist = try store.loadAllowlist()
        core = SignallingCore(configuration: options.core, policy: options.enrollment, allowlist: allowlist,
                              certificateSHA256: certificateSHA256)
    }

    // MARK: Time

    /// Monotonic nanoseconds (the same clock lws schedules with).
    static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    // MARK: Feeding the core

    /// Hands `input` to the core and performs what it asks, including inputs that performing
    /// creates (a send queue overflowing), then re-arms the timer.
    func feed(_ input: ServerInput) {
        var pending: Deque<ServerInput> = [input]
        while let next = pending.popFirst() {
            let actions = core.handle(next, now: Timestamp(nanoseconds: Self.now()))
            for action in actions { perform(action, &pending) }
        }
        armTimer()
    }

    private func perform(_ action: ServerAction, _ pending: inout Deque<ServerInput>) {
        switch action {
        case let .send(id, message):
            guard let connection = connections[id], connection.closeStatus == nil else { return }
            let frame: [UInt8]
            do {
                frame = try SignalCodec.encode(message)
            } catch {
                logger.error("could not encode an outgoing message", metadata: ["conn": "\(id)", "type": "\(message.type)", "error": "\(error)"])
                return
            }
            let size = frame.count
            if case .error = message {
                // Errors always fit: they are what tells a device why it is being closed.
            } else if connection.queuedBytes + size > options.core.maxSendQueueBytes {
                counters.queueDrops += 1
                let dropped = connection.discardQueue()
                logger.notice("send queue full; closing slow reader", metadata: ["conn": "\(id)", "dropped_bytes": "\(dropped)"])
                pending.append(.sendQueueOverflow(id))
                return
            }
            if let capture { capture(CapturedMessage(direction: .sent, connection: id, bytes: frame)) }
            connection.sendQueue.append(frame)
            connection.queuedBytes += size
            sentByType[Int(message.type.rawValue)] += 1
            lws_callback_on_writable(connection.wsi)
        case let .close(id, code):
            guard let connection = connections[id], connection.closeStatus == nil else { return }
            connection.finished = true
            connection.closeStatus = WebSocketClose.status(for: code)
            connection.closeReason = Array((code.map { "\($0)" } ?? "bye").utf8.prefix(120))
            logger.debug("closing", metadata: ["conn": "\(id)", "code": "\(code.map { "\($0.rawValue)" } ?? "none")"])
            lws_set_timeout(connection.wsi, PENDING_TIMEOUT_USER_OK, AdapterTuning.closeFlushSeconds)
            lws_callback_on_writable(connection.wsi)
        case let .enrolled(device, digest):
            do {
                try store.recordEnrollment(device: device, codeDigest: digest)
                logger.info("device enrolled with a one-time code", metadata: ["device": "\(device.printable)"])
            } catch {
                logger.error("device enrolled but the allowlist could not be written", metadata: ["device": "\(device.printable)", "error": "\(error)"])
            }
        }
    }

    // MARK: Connections (called from the lws callback)

    func accepted(_ wsi: OpaquePointer) -> ServerConnection {
        let now = Self.now()
        let connection = ServerConnection(id: ConnectionID(nextConnection), wsi: wsi, acceptedAt: now)
        nextConnection += 1
        connections[connection.id] = connection
        signallingSockets += 1
        upgradeDeadlines.append((now + options.core.handshakeTimeout.nanoseconds, connection.id))
        armTimer()
        return connection
    }

    func established(_ connection: ServerConnection) {
        connection.established = true
        feed(.connected(connection.id))
    }

    func closed(_ connection: ServerConnection) {
        guard connection.established, !connection.finished else { return }
        connection.finished = true
        feed(.disconnected(connection.id))
    }

    func destroyed(_ connection: ServerConnection) {
        if connection.established && !connection.finished {
            connection.finished = true
            feed(.disconnected(connection.id))
        }
        _ = connection.discardQueue()
        connections[connection.id] = nil
        signallingSockets -= 1
        if drainDeadline != nil, connections.isEmpty { requestStop() }
    }

    /// One complete chunk of a received WebSocket message (see RECEIVE in the callback).
    func received(_ connection: ServerConnection, _ bytes: UnsafeRawBufferPointer, binary: Bool, final: Bool, remaining: Int) {
        guard connection.established, !connection.finished else { return }
        guard binary else {
            return feed(.undecodable(connection.id, .malformed, reason: "text messages are not part of parley/1", byteCount: bytes.count))
        }
        if remaining == 0 { connection.receivedFragments += 1 }  // this chunk ends a frame
        let total = connection.receiving.count + bytes.count + remaining
        guard total <= options.core.maxMessageBytes else {
            connection.receiving = []
            return feed(.undecodable(connection.id, .messageTooLarge,
                                     reason: "message of at least \(total) bytes exceeds \(options.core.maxMessageBytes)", byteCount: total))
        }
        guard connection.receivedFragments <= AdapterTuning.maxFragmentsPerMessage else {
            connection.receiving = []
            return feed(.undecodable(connection.id, .malformed,
                                     reason: "message split into more than \(AdapterTuning.maxFragmentsPerMessage) fragments", byteCount: total))
        }
        connection.receiving.append(contentsOf: bytes)
        guard final, remaining == 0 else { return }
        let message = connection.receiving
        connection.receivedFragments = 0
        if let capture { capture(CapturedMessage(direction: .received, connection: connection.id, bytes: message)) }
        if connection.receiving.capacity > AdapterTuning.keptReceiveCapacity {
            connection.receiving = []
        } else {
            connection.receiving.removeAll(keepingCapacity: true)
        }
        do {
            let decoded = try SignalCodec.decode(message, maxBytes: options.core.maxMessageBytes)
            receivedByType[Int(decoded.type.rawValue)] += 1
            feed(.received(connection.id, decoded, byteCount: message.count))
        } catch {
            feed(.undecodable(connection.id, error.code, reason: "\(error)", byteCount: message.count))
        }
    }

    /// The socket can take more: writes a batch of queued messages (one TLS record for
    /// many; see `WebSocketBatchWriter`), or the close once the queue is empty.
    /// Returns -1 to close the connection.
    func writeable(_ connection: ServerConnection) -> Int32 {
        guard !connection.sendQueue.isEmpty else {
            guard let status = connection.closeStatus else { return 0 }
            connection.closeReason.withUnsafeMutableBufferPointer {
                lws_close_reason(connection.wsi, lws_close_status(rawValue: UInt32(status)), $0.baseAddress, $0.count)
            }
            return -1
        }
        guard let written = batchWriter.writeBatch(connection.wsi, from: &connection.sendQueue, masked: false) else { return -1 }
        connection.queuedBytes -= written
        if !connection.sendQueue.isEmpty || connection.closeStatus != nil { lws_callback_on_writable(connection.wsi) }
        return 0
    }

    /// Whether a new TCP connection may be accepted (checked before TLS).
    func admitSocket() -> Bool {
        guard signallingSockets < options.core.maxConnections + options.refusalHeadroom else {
            counters.socketsRefused += 1
            return false
        }
        return true
    }

    // MARK: Timers

    /// Runs at the timer: kills sockets that did not finish the WebSocket upgrade in time
    /// (slowloris), ticks the core, ends a drain that ran out of time.
    package func lwsTimerFired() {
        timerArmedAt = nil
        let now = Self.now()
        while let first = upgradeDeadlines.first, first.at <= now {
            upgradeDeadlines.removeFirst()
            if let connection = connections[first.id], !connection.established {
                logger.debug("upgrade timeout; dropping socket", metadata: ["conn": "\(first.id)"])
                lws_set_timeout(connection.wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC)
            }
        }
        if stopping {
            // Scheduled by requestStop: leave libev's loop from a timer turn, on its thread.
            if let eventLoop, !loopBroken {
                loopBroken = true
                CParleyShims_ev_break(eventLoop)
            }
            return
        }
        if let drain = drainDeadline, now >= drain {
            requestStop()
            return
        }
        feed(.tick)
    }

    /// Ends the service loop: the poll loop sees `stopping`; libev's loop is broken from the
    /// next timer turn.
    func requestStop() {
        guard !stopping else { return }
        stopping = true
        guard let context else { return }
        if eventLoop != nil {
            timerArmedAt = nil
            scheduleTimer(afterMicroseconds: 0)
        } else {
            lws_cancel_service(context)
        }
    }

    /// Schedules the timer at the earliest of the core's deadline, the next upgrade deadline
    /// and the drain deadline.
    func armTimer() {
        guard let context, !stopping else { return }
        var next = core.nextDeadline?.nanoseconds
        if let upgrade = upgradeDeadlines.first?.at { next = min(next ?? .max, upgrade) }
        if let drain = drainDeadline { next = min(next ?? .max, drain) }
        guard let at = next, at != timerArmedAt else { return }
        timerArmedAt = at
        let now = Self.now()
        let delayMicroseconds = at > now ? Int64(clamping: (at - now) / 1000 + 1) : 0
        scheduleTimer(afterMicroseconds: delayMicroseconds)
    }

    // MARK: Commands from other threads

    func drainCommands() {
        let work = commands.withLock { queue -> [LoopCommand] in
            let taken = queue
            queue.removeAll()
            return taken
        }
        for command in work {
            switch command {
            case .reload: reload()
            case .shutdown: beginShutdown()
            case let .snapshot(reply): reply(snapshot())
            }
        }
    }

    func reload() {
        do {
            let allowlist = try store.loadAllowlist()
            let codes = try store.loadEnrollmentCodes()
            feed(.allowlistChanged(allowlist))
            feed(.enrollmentCodesChanged(enrollmentExpiries(codes)))
            logger.info("reloaded allowlist and enrollment codes", metadata: ["devices": "\(allowlist.count)", "codes": "\(codes.count)"])
        } catch {
            logger.error("reload failed; keeping the previous allowlist", metadata: ["error": "\(error)"])
        }
    }

    /// Converts wall-clock expiries to the monotonic clock the core runs on.
    func enrollmentExpiries(_ records: [EnrollmentCodeRecord]) -> [[UInt8]: Timestamp] {
        var wall = timespec()
        clock_gettime(CLOCK_REALTIME, &wall)
        let nowMono = Self.now()
        var result: [[UInt8]: Timestamp] = [:]
        for record in records {
            let remainingSeconds = record.expiresAtUnixSeconds - Int64(wall.tv_sec)
            guard remainingSeconds > 0 else { continue }
            result[record.digest] = Timestamp(nanoseconds: nowMono) + .seconds(remainingSeconds)
        }
        return result
    }

    func beginShutdown() {
        guard drainDeadline == nil else { return }
        logger.info("draining: telling devices and closing connections", metadata: ["connections": "\(core.connectionCount)"])
        drainDeadline = Self.now() + options.drainTimeout.nanoseconds
        feed(.shutdown)
        if connections.isEmpty { requestStop() }
    }

    func snapshot() -> ServerMetricsSnapshot {
        var snapshot = counters
        for type in SignalType.allCases {
            let received = receivedByType[Int(type.rawValue)], sent = sentByType[Int(type.rawValue)]
            if received > 0 { snapshot.messagesReceivedByType["\(type)"] = received }
            if sent > 0 { snapshot.messagesSentByType["\(type)"] = sent }
        }
        snapshot.statistics = core.statistics
        snapshot.connections = core.connectionCount
        snapshot.devices = core.deviceCount
        snapshot.sockets = signallingSockets
        snapshot.calls = core.callCount
        snapshot.queuedBytes = connections.values.reduce(0) { $0 + $1.queuedBytes }
        return snapshot
    }
}

/// One whole WebSocket message as the server handled it (tests: the capture of a call).
package struct CapturedMessage: Sendable {
    package enum Direction: Sendable { case received, sent }
    package let direction: Direction
    package let connection: ConnectionID
    package let bytes: [UInt8]
}

/// WebSocket close status codes (PROTOCOL.md, "Transport"): 1000 for a clean close,
/// 4000 + (code - 2000) for a close after `error(code)`.
enum WebSocketClose {
    static func status(for code: SignalErrorCode?) -> UInt16 {
        guard let code else { return 1000 }
        return 4000 + (code.rawValue - 2000)
    }
}

extension Duration {
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        return UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
    }
}
