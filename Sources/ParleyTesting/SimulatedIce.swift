import ParleyCrypto
import ParleyProtocol

/// ICE for a `CallSimulation`. Each call's `.start` makes a transport with fresh
/// credentials and two host candidates (reported 1 ms and 2 ms later, then
/// gathering complete). Two transports of the same call connect `connectDelay` after
/// each holds the other's exact credentials and at least one of its exact
/// candidates; a transport whose peer goes silent reports consent lost
/// `consentTimeout` later (10 s, as libnice 0.1.21 reports it); with `blocked` they never connect and
/// report failure after `failureTimeout`. Frames take `latency` one way and can be
/// dropped with `dropFrames`.
public final class SimulatedIce {
    public var connectDelay: Duration = .milliseconds(5)
    public var consentTimeout: Duration = .seconds(10)
    public var failureTimeout: Duration = .seconds(10)
    public var latency: Duration = .milliseconds(1)
    /// No path works (for example both sides behind firewalls without TURN).
    public var blocked = false
    /// Decides per frame whether the path loses it.
    public var dropFrames: ([UInt8]) -> Bool = { _ in false }

    weak var simulation: CallSimulation?
    private var transports: [Transport] = []
    private var nextSerial = 1

    final class Transport {
        unowned let owner: SimulatedDevice
        let callID: CallID
        weak var call: CallCore?
        let credentials: IceCredentials
        let candidates: [String]
        var remoteCredentials: IceCredentials?
        var remoteCandidates: [String] = []
        var running = true
        var connected = false

        init(owner: SimulatedDevice, call: CallCore, serial: Int) {
            self.owner = owner
            self.callID = call.callID
            self.call = call
            credentials = IceCredentials(usernameFragment: "sim\(serial)",
                                         password: "simulatedpassword\(serial)xxxxxxxxxx")
            candidates = (1...2).map { "candidate:\($0) 1 UDP \(2_130_706_431 - $0) 10.0.\(serial % 250).\($0) \(40000 + serial) typ host" }
        }
    }

    init() {}

    /// Transports currently running.
    public var runningTransportCount: Int { transports.filter(\.running).count }

    func perform(_ command: TransportCommand, owner: SimulatedDevice, call: CallCore) {
        guard let simulation else { return }
        let now = simulation.clock.now
        switch command {
        case .start:
            let transport = Transport(owner: owner, call: call, serial: nextSerial)
            nextSerial += 1
            transports.append(transport)
            call.handleTransport(.started(transport.credentials), now: now)
            for (index, candidate) in transport.candidates.enumerated() {
                simulation.schedule(at: now + .milliseconds(index + 1)) { [weak transport] in
                    guard let transport, transport.running else { return }
                    transport.call?.handleTransport(.localCandidate(candidate), now: simulation.clock.now)
                }
            }
            simulation.schedule(at: now + .milliseconds(transport.candidates.count + 1)) { [weak transport] in
                guard let transport, transport.running else { return }
                transport.call?.handleTransport(.gatheringComplete, now: simulation.clock.now)
            }
            if blocked {
                simulation.schedule(at: now + failureTimeout) { [weak transport] in
                    guard let transport, transport.running, !transport.connected else { return }
                    transport.call?.handleTransport(.failed("no candidate pair succeeded"), now: simulation.clock.now)
                }
            }
        case let .setRemoteCredentials(credentials):
            guard let transport = transport(owner, call.callID) else { return }
            transport.remoteCredentials = credentials
            checkConnectivity(transport)
        case let .addRemoteCandidate(candidate):
            guard let transport = transport(owner, call.callID) else { return }
            transport.remoteCandidates.append(candidate)
            checkConnectivity(transport)
        case .endOfRemoteCandidates:
            break
        case let .sendFrame(frame):
            send(frame, from: owner, callID: call.callID)
        case .stop:
            guard let transport = transport(owner, call.callID) else { return }
            stop(transport, silently: false)
        }
    }

    /// Sends a sealed frame to the peer's transport of the same call.
    func send(_ frame: [UInt8], from owner: SimulatedDevice, callID: CallID) {
        guard let simulation, let transport = transport(owner, callID), transport.running, transport.connected,
              let peer = peer(of: transport), !dropFrames(frame) else { return }
        simulation.schedule(at: simulation.clock.now + latency) { [weak peer] in
            guard let peer, peer.running else { return }
            peer.owner.receiveFrame(frame, callID: callID)
        }
    }

    /// Every transport of a dead device stops answering.
    func silence(owner: SimulatedDevice) {
        for transport in transports where transport.owner === owner && transport.running { stop(transport, silently: true) }
    }

    private func stop(_ transport: Transport, silently: Bool) {
        transport.running = false
        guard let simulation, let peer = peer(of: transport), peer.running, peer.connected else { return }
        // The peer notices only through consent freshness.
        simulation.schedule(at: simulation.clock.now + consentTimeout) { [weak peer] in
            guard let peer, peer.running else { return }
            peer.call?.handleTransport(.consentLost, now: simulation.clock.now)
        }
    }

    private func transport(_ owner: SimulatedDevice, _ callID: CallID) -> Transport? {
        transports.last { $0.owner === owner && $0.callID == callID && $0.running }
    }

    private func peer(of transport: Transport) -> Transport? {
        transports.last { $0.owner !== transport.owner && $0.callID == transport.callID && $0.running }
    }

    private func checkConnectivity(_ transport: Transport) {
        guard !blocked, let simulation, let peer = peer(of: transport) else { return }
        let works = transport.remoteCredentials == peer.credentials && peer.remoteCredentials == transport.credentials
            && transport.remoteCandidates.contains(where: peer.candidates.contains)
            && peer.remoteCandidates.contains(where: transport.candidates.contains)
        guard works, !transport.connected else { return }
        simulation.schedule(at: simulation.clock.now + connectDelay) { [weak transport, weak peer] in
            guard let transport, let peer, transport.running, peer.running, !transport.connected else { return }
            for (side, other) in [(transport, peer), (peer, transport)] {
                side.connected = true
                let pair = CandidatePair(local: SimulatedIce.endpoint(side.candidates[0]), remote: SimulatedIce.endpoint(other.candidates[0]))
                side.call?.handleTransport(.connected(pair), now: simulation.clock.now)
            }
        }
    }

    private static func endpoint(_ candidate: String) -> PathEndpoint {
        let fields = candidate.split(separator: " ")
        return PathEndpoint(kind: .host, transport: "udp", address: String(fields[4]), port: UInt16(fields[5]) ?? 0)
    }
}
