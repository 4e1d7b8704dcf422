import Logging
import Parley
import ParleyCrypto
import ParleySampleKit
import Synchronization

/// The agent's device: its `ParleyClient`, the connection and presence reports, and the
/// two ways of running calls (`serve` answers, `call` calls).
final class Agent: Sendable {
    static let pollInterval: Duration = .milliseconds(50)

    let settings: AgentSettings
    let events: EventWriter
    let shutdown: ShutdownFlag
    let client: ParleyClient
    private let tasks = Mutex<[Task<Void, Never>]>([])

    init(settings: AgentSettings, events: EventWriter, shutdown: ShutdownFlag) throws {
        self.settings = settings
        self.events = events
        self.shutdown = shutdown
        let loaded: (identity: DeviceIdentity, created: Bool)
        do { loaded = try ClientOptions.loadOrCreateIdentity(path: settings.client.identityPath) } catch {
            throw AgentFailure(.configuration, "identity: \(error)")
        }
        if loaded.created {
            events.log("created a new identity at \(settings.client.identityPath): device \(loaded.identity.deviceID.printable)")
        }
        var logger = Logger(label: "parley-agent") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = settings.verbose ? .info : .warning
        do {
            client = try ParleyClient(configuration: settings.client.configuration, identity: loaded.identity, logger: logger)
        } catch {
            throw AgentFailure(.configuration, "\(error)")
        }
    }

    /// Connects (the library reconnects forever with backoff) and waits until online, at
    /// most `timeout` (nil: forever, reporting each reconnection).
    func start(timeout: Duration?) async throws {
        do { try client.start() } catch { throw AgentFailure(.configuration, "\(error)") }
        let monitor = Task { await monitorConnection() }
        tasks.withLock { $0.append(monitor) }
        let begun = ContinuousClock.now
        while !client.connectionState.isOnline {
            if shutdown.isSet { throw AgentFailure(.ok, "stopped before getting online") }
            if case let .stopped(error?) = client.connectionState {
                throw AgentFailure(.serverUnreachable, "the signalling server refused the connection: \(error)")
            }
            if let timeout, ContinuousClock.now - begun >= timeout {
                throw AgentFailure(.serverUnreachable, "the signalling server \(settings.client.configuration.signalling.url) "
                                   + "is unreachable (not online after \(CallRunner.milliseconds(timeout)) ms; last state: \(client.connectionState))")
            }
            try? await Task.sleep(for: Self.pollInterval)
        }
        // The online event is written by the monitor; presence follows it.
        let reported = ContinuousClock.now + .seconds(1)
        while !reportedOnline.load(ordering: .acquiring), ContinuousClock.now < reported { try? await Task.sleep(for: .milliseconds(5)) }
        let presence = Task { await reportPresence() }
        tasks.withLock { $0.append(presence) }
    }

    private let reportedOnline = Atomic<Bool>(false)

    func stop() {
        let running = tasks.withLock { tasks in
            defer { tasks = [] }
            return tasks
        }
        running.forEach { $0.cancel() }
        client.stop()
    }

    /// Reports every change of the signalling connection: `online` (the first stdout line
    /// of a run), `connection` while it reconnects.
    private func monitorConnection() async {
        var last: ConnectionState?
        while !Task.isCancelled {
            let state = client.connectionState
            if state != last {
                last = state
                switch state {
                case let .online(welcome):
                    events.emit("online", [("device", .string(client.deviceID.printable)), ("realm", .string(welcome.realm))])
                    events.log("online as \(client.deviceID.printable) in realm \(welcome.realm)")
                    reportedOnline.store(true, ordering: .releasing)
                case let .waitingToReconnect(after, attempt, reason):
                    events.emit("connection", [("state", .string("reconnecting")), ("attempt", .int(attempt)),
                                               ("after_ms", .int(CallRunner.milliseconds(after))), ("reason", .string("\(reason)"))])
                    events.log("connection lost or refused (\(reason)); reconnecting in \(CallRunner.milliseconds(after)) ms (attempt \(attempt))")
                case let .stopped(error):
                    if let error {
                        events.emit("connection", [("state", .string("stopped")), ("reason", .string("\(error)"))])
                    }
                case .connecting, .authenticating, .idle:
                    break
                }
            }
            try? await Task.sleep(for: Self.pollInterval)
        }
    }

    private func reportPresence() async {
        for await online in client.presence() {
            let devices = online.map(\.printable).sorted()
            events.emit("presence", [("online", .array(devices.map { .string($0) }))])
        }
    }

    // MARK: call

    /// `parley-agent call DEVICE`: calls, runs the call, returns its status.
    func call(_ device: DeviceID) async -> AgentExit {
        let before = SecretBytes.liveCount
        let started = ContinuousClock.now
        let call: Call
        do {
            call = try client.call(device, securityCode: settings.securityCode, media: CallRunner.media)
        } catch {
            let status = AgentExit.forCall(error)
            events.error(status, "calling \(device.fingerprint): \(error)")
            return status
        }
        events.log("calling \(device.printable) (call \(call.id))")
        events.emit("calling", [("call", .string("\(call.id)")), ("peer", .string(device.printable))])
        let runner = CallRunner(call: call, settings: settings, events: events, shutdown: shutdown, hangUpWhenDone: true,
                                liveSecretsBefore: before, started: started)
        let status = await runner.run(accept: false)
        if status != .ok, let end = call.end { events.error(status, "the call to \(device.fingerprint) \(end)") }
        return status
    }

    // MARK: serve

    private struct ServeState {
        var active = false
        var completed = 0
        var lastFailure: AgentExit?
    }

    /// What the serve loop and the call tasks share.
    private final class ServeTracker: Sendable {
        let state = Mutex(ServeState())
    }

    /// `parley-agent serve`: answers calls by policy, one at a time, until stopped or
    /// --calls calls have ended. Returns 0, or the status of the last counted call that failed.
    func serve() async -> AgentExit {
        let tracker = ServeTracker()
        let incoming = client.incomingCalls()
        let acceptor = Task { [self] in
            for await call in incoming { answer(call, tracker: tracker) }
        }
        defer { acceptor.cancel() }
        while true {
            let (active, completed) = tracker.state.withLock { ($0.active, $0.completed) }
            if !active {
                if shutdown.isSet { break }
                if let limit = settings.callLimit, completed >= limit { break }
                if case let .stopped(error?) = client.connectionState {
                    events.error(.serverUnreachable, "the signalling server ended the connection for good: \(error)")
                    return .serverUnreachable
                }
            }
            try? await Task.sleep(for: Self.pollInterval)
        }
        return tracker.state.withLock { $0.lastFailure } ?? .ok
    }

    private func answer(_ call: Call, tracker: ServeTracker) {
        let before = SecretBytes.liveCount
        let started = ContinuousClock.now
        let id = JSONValue.string("\(call.id)")
        events.emit("incoming", [("call", id), ("peer", .string(call.peer.printable))])
        let refusal = tracker.state.withLock { state -> String? in
            if state.active { return "busy" }
            if shutdown.isSet { return "stopping" }
            if let limit = settings.callLimit, state.completed >= limit { return "stopping" }
            switch settings.answer {
            case .never: return "policy"
            case .allowlist where !settings.allowlist.contains(call.peer): return "not_allowed"
            default:
                state.active = true
                return nil
            }
        }
        if let refusal {
            try? call.reject()
            events.emit("rejected", [("call", id), ("peer", .string(call.peer.printable)), ("reason", .string(refusal))])
            events.log("rejected a call from \(call.peer.printable): \(refusal)")
            return
        }
        events.log("answering a call from \(call.peer.printable)")
        let runner = CallRunner(call: call, settings: settings, events: events, shutdown: shutdown, hangUpWhenDone: false,
                                liveSecretsBefore: before, started: started)
        Task {
            let status = await runner.run(accept: true)
            tracker.state.withLock { state in
                state.completed += 1
                if status != .ok { state.lastFailure = status }
                state.active = false
            }
        }
    }
}
