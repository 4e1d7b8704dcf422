import ParleyCrypto
import ParleyProtocol

/// Calls between in-process devices, deterministic, on a virtual clock: each device
/// runs real `CallCore`s; the signalling server is the real `SignallingCore` in an
/// `InMemoryRelay` (so a `MaliciousRelay` can sit in it); ICE is simulated by
/// `SimulatedIce`, which connects two transports only when each holds the other's
/// credentials and one of its candidates, that is, only when the sealed SDP and
/// candidates really went through.
///
/// Not thread-safe: a test drives it from one thread.
public final class CallSimulation {
    public let clock: VirtualClock
    public let relay: InMemoryRelay
    public let ice: SimulatedIce
    public private(set) var devices: [SimulatedDevice] = []
    private var scheduled: [(at: Timestamp, order: Int, action: () -> Void)] = []
    private var scheduleOrder = 0

    public init(clock: VirtualClock = VirtualClock()) {
        self.clock = clock
        relay = InMemoryRelay(clock: clock)
        ice = SimulatedIce()
        ice.simulation = self
    }

    /// A new device with a fresh identity, connected to the relay.
    @discardableResult
    public func addDevice(name: String) throws -> SimulatedDevice {
        let device = SimulatedDevice(name: name, identity: DeviceIdentity(), simulation: self)
        try relay.connect(device.identity)
        devices.append(device)
        return device
    }

    /// Runs `action` at `at` (virtual time), in the order scheduled among equal times.
    public func schedule(at: Timestamp, _ action: @escaping () -> Void) {
        scheduleOrder += 1
        let entry = (at: at, order: scheduleOrder, action: action)
        let index = scheduled.firstIndex { ($0.at, $0.order) > (at, scheduleOrder) } ?? scheduled.endIndex
        scheduled.insert(entry, at: index)
    }

    /// Runs until `condition` holds or `limit` of virtual time has passed; returns
    /// whether it holds. Jumps straight from one deadline to the next.
    @discardableResult
    public func run(for limit: Duration, until condition: () -> Bool = { false }) -> Bool {
        let end = clock.now + limit
        var steps = 0
        while true {
            settle()
            if condition() { return true }
            steps += 1
            precondition(steps < 1_000_000, "the simulation does not settle")
            guard let next = nextDeadline, next <= end else {
                clock.advance(to: end)
                settle()
                return condition()
            }
            clock.advance(to: next)
        }
    }

    /// Does everything due at the current time until nothing more happens.
    public func settle() {
        var rounds = 0
        while true {
            rounds += 1
            precondition(rounds < 100_000, "the simulation loops without time passing")
            var progressed = false
            while let first = scheduled.first, first.at <= clock.now {
                scheduled.removeFirst()
                first.action()
                progressed = true
            }
            relay.advance()
            for device in devices where device.step() { progressed = true }
            if !progressed && !relay.hasPendingMessages { return }
        }
    }

    private var nextDeadline: Timestamp? {
        var candidates = [scheduled.first?.at, relay.nextDeadline].compactMap { $0 }
        for device in devices { candidates += device.deadlines }
        return candidates.min()
    }
}

/// What a simulated device does when a call comes in.
public enum AnswerDecision {
    case accept(securityCode: String?, media: MediaPreferences = .default, policy: PeerIdentityPolicy = .requireDeviceID)
    case reject
    /// Let it ring.
    case ignore
}

/// One device of a `CallSimulation`: an identity, its calls, and everything they
/// reported.
public final class SimulatedDevice {
    public let name: String
    public let identity: DeviceIdentity
    public var id: DeviceID { identity.deviceID }
    /// Decides on each incoming call; by default lets it ring.
    public var onIncomingCall: (CallCore) -> AnswerDecision = { _ in .ignore }
    /// How long the device rings before `onIncomingCall` decides.
    public var answerDelay: Duration = .milliseconds(500)
    public var timeouts = CallTimeouts.default
    /// Every call this device took part in, newest last (ended calls included).
    public private(set) var calls: [CallCore] = []
    /// Every event of every call, in order.
    public private(set) var events: [(callID: CallID, event: CallEvent)] = []
    /// Frames opened on the direct path: (call, frame type, payload).
    public private(set) var receivedFrames: [(callID: CallID, type: UInt8, payload: [UInt8])] = []
    /// Server errors this device received.
    public private(set) var serverErrors: [SignalErrorCode] = []
    /// Invites ignored because their call ID was seen before (a replaying relay).
    public private(set) var ignoredReplayedInvites = 0
    private var recentCallIDs = RecentCallIDs()
    /// False once `kill()`ed.
    public private(set) var alive = true
    unowned let simulation: CallSimulation

    init(name: String, identity: DeviceIdentity, simulation: CallSimulation) {
        self.name = name
        self.identity = identity
        self.simulation = simulation
    }

    /// Places a call.
    @discardableResult
    public func call(_ callee: SimulatedDevice, securityCode: String?, media: MediaPreferences = .default,
                     policy: PeerIdentityPolicy = .requireDeviceID) throws -> CallCore {
        let code = try SecurityCode.parse(securityCode)
        defer { code?.erase() }
        let core = try CallCore.outgoing(identity: identity, callee: callee.id, securityCode: code, media: media, policy: policy,
                                         timeouts: timeouts, now: simulation.clock.now)
        _ = recentCallIDs.insert(core.callID, now: simulation.clock.now)
        calls.append(core)
        _ = step()
        return core
    }

    /// The call with this ID (the newest, if the ID was reused by a hostile relay).
    public func call(_ id: CallID) -> CallCore? { calls.last { $0.callID == id } }

    /// The device's process dies: its signalling connection drops, its transports
    /// go silent (no goodbye), its calls are gone.
    public func kill() {
        alive = false
        simulation.relay.disconnect(id)
        simulation.ice.silence(owner: self)
        calls.removeAll()
    }

    /// The device loses its signalling connection and reconnects at once (a server
    /// restart looks like this from a device): calls stay up.
    public func reconnectSignalling() throws {
        simulation.relay.disconnect(id)
        try simulation.relay.connect(identity)
    }

    /// Events of one call.
    public func events(of call: CallCore) -> [CallEvent] { events.filter { $0.callID == call.callID }.map(\.event) }

    /// Sends a frame of `type` on the call's direct path (sealed with the call's keys).
    public func sendFrame(on call: CallCore, type: FrameType, payload: [UInt8]) throws {
        guard let sealer = call.frameSealer else { throw SimulationError("the call has no frame keys") }
        let frame = try sealer.seal(type: type.rawValue, payload: payload, now: simulation.clock.now)
        simulation.ice.send(frame, from: self, callID: call.callID)
    }

    var deadlines: [Timestamp] { calls.compactMap(\.nextDeadline) }

    /// Delivers waiting messages, runs due timeouts, performs outputs. True if anything happened.
    func step() -> Bool {
        guard alive else { return false }
        var progressed = false
        for message in simulation.relay.takeMessages(for: id) {
            progressed = true
            handle(message)
        }
        let now = simulation.clock.now
        for call in calls {
            if let deadline = call.nextDeadline, deadline <= now {
                call.handleTimeout(now: now)
            }
            while let output = call.pollOutput() {
                progressed = true
                perform(output, of: call)
            }
        }
        return progressed
    }

    private func handle(_ message: SignalMessage) {
        let now = simulation.clock.now
        switch message {
        case let .incomingCall(caller, callID, payload):
            guard recentCallIDs.insert(callID, now: now) else {
                ignoredReplayedInvites += 1
                return
            }
            let core = CallCore.incoming(identity: identity, caller: caller, callID: callID, invitePayload: payload,
                                         timeouts: timeouts, now: now)
            calls.append(core)
            simulation.schedule(at: now + answerDelay) { [weak self, weak core] in
                guard let self, let core, core.state == .ringing else { return }
                switch self.onIncomingCall(core) {
                case let .accept(text, media, policy):
                    let code = try? SecurityCode.parse(text)
                    defer { code?.erase() }
                    try? core.accept(securityCode: code, media: media, policy: policy, now: self.simulation.clock.now)
                case .reject:
                    try? core.reject(now: self.simulation.clock.now)
                case .ignore:
                    break
                }
            }
        case let .ringing(callID), let .accept(callID, _), let .signal(callID, _), let .callEnded(callID, _):
            call(callID)?.handleSignalling(message, now: now)
        case let .error(code, _):
            serverErrors.append(code)
        default:
            break
        }
    }

    private func perform(_ output: CallOutput, of call: CallCore) {
        switch output {
        case let .signalling(message):
            simulation.relay.send(message, from: id)
        case let .transport(command):
            simulation.ice.perform(command, owner: self, call: call)
        case let .event(event):
            events.append((call.callID, event))
        }
    }

    /// A sealed frame arrived on the direct path of `callID`.
    func receiveFrame(_ frame: [UInt8], callID: CallID) {
        guard let call = call(callID), let opener = call.frameOpener,
              let (header, payload) = try? opener.open(frame, now: simulation.clock.now) else { return }
        receivedFrames.append((callID, header.type, payload))
        if header.type == FrameType.control.rawValue {
            call.handleTransport(.controlFrame(payload), now: simulation.clock.now)
        }
    }
}
