import Logging
import Parley
import ParleyCrypto
import ParleyProtocol
import Synchronization

/// What the pairs, the pacer and the main thread share during `parley-bench relay`:
/// progress of the setup, counters, and the current scenario's times. The main thread
/// sets the times before the scenario's first send; loop threads read them per message.
final class RelayRun: Sendable {
    /// Receptions at times in [windowStart, windowEnd) (CLOCK_MONOTONIC ns) are counted and
    /// their latency recorded.
    let windowStart = Atomic<UInt64>(.max)
    let windowEnd = Atomic<UInt64>(.max)
    /// Closed loop (maximum throughput): until this time, each message received makes its
    /// caller send the next, so every caller keeps its initial window in flight.
    let refillUntil = Atomic<UInt64>(0)

    let sent = Atomic<Int>(0)
    let received = Atomic<Int>(0)
    /// `send` refused (send queue full, or not connected).
    let sendFailures = Atomic<Int>(0)
    /// `error` messages from the server (a rate limit, an unknown call).
    let serverErrors = Atomic<Int>(0)
    /// Connections that left `online` after reaching it.
    let connectionsLost = Atomic<Int>(0)

    let online = Atomic<Int>(0)
    let callsConnected = Atomic<Int>(0)
    /// The first few unexpected events, for the report.
    let problems = Mutex<[String]>([])

    static let keptProblems = 8

    func note(_ problem: String) {
        problems.withLock { if $0.count < RelayRun.keptProblems { $0.append(problem) } }
    }
}

/// Receptions of one loop thread inside the measured window: latency from the time a
/// message was due, and from the time it was handed to the client (the same in the closed
/// loop; later when a paced sender ran late). The main thread takes them after the
/// window (the lock is uncontended meanwhile).
final class RelayRecorder: Sendable {
    struct Latencies: Sendable {
        var fromDue = LatencyHistogram()
        var fromHandOff = LatencyHistogram()
    }

    private let latencies = Mutex(Latencies())

    func record(fromDue: UInt64, fromHandOff: UInt64) {
        latencies.withLock {
            $0.fromDue.record(fromDue)
            $0.fromHandOff.record(fromHandOff)
        }
    }

    /// The recordings so far, leaving the recorder empty.
    func take() -> Latencies {
        latencies.withLock { latencies in
            defer { latencies = Latencies() }
            return latencies
        }
    }
}

/// A caller and a callee on the same `SignallingLoop`, in a realm of their own, in one
/// connected call: the caller sends `signal`s whose payload starts with two times
/// (CLOCK_MONOTONIC ns, little-endian): when the message was due and when it was handed to
/// the client. The callee records each one's latency from both.
///
/// Threads: `start`, `invite` and `send` from any thread; the event handlers run on the
/// loop thread, and the callee's handler refills the caller there (same loop: no hop).
final class RelayPair: @unchecked Sendable {
    /// Bytes of the relayed payload, a sealed blob's size in the workload.
    static let payloadCount = 512
    /// Bytes of the invite's and the accept's payloads (handshake messages 1 and 2 in size).
    static let handshakePayloadCount = 148

    let callID: CallID
    private let run: RelayRun
    private let recorder: RelayRecorder
    private let payload: [UInt8]
    /// Set in init, before either client starts; never changed.
    private var caller: SignallingClient!
    private var callee: SignallingClient!
    // Loop thread only.
    private var callerOnline = false
    private var calleeOnline = false

    init(index: Int, url: String, pin: [UInt8], loop: SignallingLoop, run: RelayRun, recorder: RelayRecorder, logger: Logger) throws {
        self.run = run
        self.recorder = recorder
        callID = try CallID(bytes: RelayPair.randomBytes(CallID.byteCount))
        payload = RelayPair.randomBytes(RelayPair.payloadCount)
        let configuration = SignallingClientConfiguration(
            url: url, trust: .pinned(sha256: pin), realm: "relay-\(index)",
            // Room for a paced scenario's backlog if the loop falls behind: refusals are counted, not expected.
            maxSendQueueBytes: 16 << 20,
            reconnect: ReconnectPolicy(maxAttempts: 0), tracksPresence: false)
        caller = try SignallingClient(configuration: configuration, identity: DeviceIdentity(), loop: loop, logger: logger) { [unowned self] in
            callerEvent($0)
        }
        callee = try SignallingClient(configuration: configuration, identity: DeviceIdentity(), loop: loop, logger: logger) { [unowned self] in
            calleeEvent($0)
        }
    }

    func start() {
        caller.start()
        callee.start()
    }

    func stop() {
        caller.stop()
        callee.stop()
    }

    /// The caller invites the callee; the callee accepts when it rings.
    func invite() throws {
        try caller.send(.invite(callee: callee.deviceID, callID: callID, payload: RelayPair.randomBytes(RelayPair.handshakePayloadCount)))
    }

    /// The caller sends one signal that was due at `due`.
    func send(due: UInt64) {
        var stamped = payload
        stamped.withUnsafeMutableBytes {
            $0.storeBytes(of: due.littleEndian, as: UInt64.self)
            $0.storeBytes(of: Monotonic.now().littleEndian, toByteOffset: 8, as: UInt64.self)
        }
        do {
            run.sent.add(1, ordering: .relaxed)
            try caller.send(.signal(callID: callID, payload: stamped))
        } catch {
            run.sent.subtract(1, ordering: .relaxed)
            run.sendFailures.add(1, ordering: .relaxed)
        }
    }

    // MARK: Loop thread

    private func callerEvent(_ event: SignallingEvent) {
        switch event {
        case let .stateChanged(state):
            track(state, &callerOnline, role: "caller")
        case let .message(.accept(callID, _)) where callID == self.callID:
            run.callsConnected.add(1, ordering: .relaxed)
        case .message(.ringing), .presenceChanged:
            break
        case let .message(.error(code, text)):
            run.serverErrors.add(1, ordering: .relaxed)
            run.note("caller got error \(code): \(text)")
        default:
            run.note("caller got \(event)")
        }
    }

    private func calleeEvent(_ event: SignallingEvent) {
        switch event {
        case let .stateChanged(state):
            track(state, &calleeOnline, role: "callee")
        case let .message(.signal(_, payload)) where payload.count >= 16:
            let now = Monotonic.now()
            let (due, handedOff) = payload.withUnsafeBytes {
                (UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)), UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
            }
            if now >= run.windowStart.load(ordering: .relaxed) && now < run.windowEnd.load(ordering: .relaxed) {
                recorder.record(fromDue: now >= due ? now - due : 0, fromHandOff: now >= handedOff ? now - handedOff : 0)
            }
            run.received.add(1, ordering: .relaxed)
            if now < run.refillUntil.load(ordering: .relaxed) { send(due: now) }
        case let .message(.incomingCall(_, callID, _)):
            do {
                try callee.send(.accept(callID: callID, payload: RelayPair.randomBytes(RelayPair.handshakePayloadCount)))
            } catch {
                run.note("callee could not accept: \(error)")
            }
        case .presenceChanged:
            break
        case let .message(.error(code, text)):
            run.serverErrors.add(1, ordering: .relaxed)
            run.note("callee got error \(code): \(text)")
        default:
            run.note("callee got \(event)")
        }
    }

    private func track(_ state: ConnectionState, _ online: inout Bool, role: String) {
        switch state {
        case .online:
            online = true
            run.online.add(1, ordering: .relaxed)
        case .connecting, .authenticating, .idle:
            break
        case .stopped(nil):
            online = false
        case .waitingToReconnect, .stopped:
            if online { run.connectionsLost.add(1, ordering: .relaxed) }
            online = false
            run.note("\(role) \(state)")
        }
    }

    private static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }
}
