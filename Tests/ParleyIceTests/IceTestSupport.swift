import Glibc
import Parley
import ParleyProtocol
import Synchronization
import XCTest

/// Records a transport's events (they arrive on the loop thread) for the test thread.
final class EventLog: Sendable {
    private let events = Mutex<[(ContinuousClock.Instant, IceTransportEvent)]>([])
    /// Set by a test once `close()` has returned: any event after it is a violation.
    let closed = Atomic<Bool>(false)
    let eventsAfterClose = Atomic<Int>(0)

    func append(_ event: IceTransportEvent) {
        if closed.load(ordering: .acquiring) { eventsAfterClose.add(1, ordering: .relaxed) }
        events.withLock { $0.append((ContinuousClock.now, event)) }
    }

    var all: [IceTransportEvent] { events.withLock { $0.map(\.1) } }
    var states: [IceTransportState] { all.compactMap { if case let .stateChanged(state) = $0 { state } else { nil } } }
    var localCandidates: [String] { all.compactMap { if case let .localCandidate(line) = $0 { line } else { nil } } }
    var gatheringComplete: Bool { all.contains(.gatheringComplete) }
    var selectedPairs: [CandidatePair] { all.compactMap { if case let .selectedPair(pair) = $0 { pair } else { nil } } }

    /// When the first event matching `match` arrived.
    func firstTime(where match: (IceTransportEvent) -> Bool) -> ContinuousClock.Instant? {
        events.withLock { $0.first(where: { match($0.1) })?.0 }
    }
}

/// Counts received datagrams and checks each one's pattern (see `Datagram`).
final class ReceiveCounter: Sendable {
    let intact = Atomic<Int>(0)
    let corrupt = Atomic<Int>(0)
    let bytes = Atomic<Int>(0)
    let afterClose = Atomic<Int>(0)
    let closed = Atomic<Bool>(false)

    func receive(_ datagram: UnsafeRawBufferPointer) {
        if closed.load(ordering: .acquiring) { afterClose.add(1, ordering: .relaxed) }
        bytes.add(datagram.count, ordering: .relaxed)
        if Datagram.check(datagram) { intact.add(1, ordering: .relaxed) } else { corrupt.add(1, ordering: .relaxed) }
    }
}

/// Test datagrams: a 4-byte big-endian sequence number, then bytes derived from it.
enum Datagram {
    static func fill(_ buffer: UnsafeMutableRawBufferPointer, sequence: UInt32) {
        withUnsafeBytes(of: sequence.bigEndian) { buffer.copyMemory(from: $0) }
        for index in 4..<buffer.count { buffer[index] = UInt8(truncatingIfNeeded: UInt32(index) &* 31 &+ sequence) }
    }

    static func check(_ datagram: UnsafeRawBufferPointer) -> Bool {
        guard datagram.count >= 4 else { return false }
        let sequence = datagram.loadUnaligned(as: UInt32.self).bigEndian
        for index in 4..<datagram.count where datagram[index] != UInt8(truncatingIfNeeded: UInt32(index) &* 31 &+ sequence) {
            return false
        }
        return true
    }
}

/// One side of a test call: a transport with its log and counter. `peer` is set once both
/// sides exist so that trickled candidates can be forwarded from the event callback.
final class IcePeer: Sendable {
    let log = EventLog()
    let received = ReceiveCounter()
    private let transportBox = Mutex<IceTransport?>(nil)
    private let peerBox = Mutex<IcePeer?>(nil)
    /// Rewrites (or drops, with nil) each local candidate before it reaches the peer.
    let candidateFilter = Mutex<(@Sendable (String) -> String?)?>(nil)
    let refusedCandidates = Mutex<[IceError]>([])

    var transport: IceTransport { transportBox.withLock { $0! } }

    init(loop: IceLoop, configuration: IceConfiguration, controlling: Bool) throws {
        let log = self.log, received = self.received
        let transport = try IceTransport(loop: loop, configuration: configuration, controlling: controlling,
                                         events: { [weak self] event in
                                             log.append(event)
                                             self?.forward(event)
                                         },
                                         receive: { received.receive($0) })
        transportBox.withLock { $0 = transport }
    }

    func connect(to peer: IcePeer) { peerBox.withLock { $0 = peer } }

    /// Breaks the peer reference cycle.
    func disconnectPeer() { peerBox.withLock { $0 = nil } }

    private func forward(_ event: IceTransportEvent) {
        guard let peer = peerBox.withLock({ $0 }) else { return }
        switch event {
        case let .localCandidate(line):
            let filter = candidateFilter.withLock { $0 }
            guard let rewritten = filter.map({ $0(line) }) ?? line else { return }
            do throws(IceError) {
                try peer.transport.addRemoteCandidate(rewritten)
            } catch {
                peer.refusedCandidates.withLock { $0.append(error) }
            }
        case .gatheringComplete:
            peer.transport.endOfRemoteCandidates()
        default:
            break
        }
    }
}

/// Two transports on one loop, A controlling and B controlled, that trickle candidates to
/// each other as they are gathered.
final class IceCall {
    let loop: IceLoop
    let a: IcePeer
    let b: IcePeer

    init(configuration: IceConfiguration = IceCall.loopbackConfiguration(),
         configurationB: IceConfiguration? = nil, loop: IceLoop? = nil) throws {
        if let loop {
            self.loop = loop
        } else {
            self.loop = IceLoop()
            try self.loop.start()
        }
        a = try IcePeer(loop: self.loop, configuration: configuration, controlling: true)
        b = try IcePeer(loop: self.loop, configuration: configurationB ?? configuration, controlling: false)
        a.connect(to: b)
        b.connect(to: a)
    }

    static func loopbackConfiguration(pacing: Duration = .milliseconds(20), connectTimeout: Duration = .seconds(10)) -> IceConfiguration {
        IceConfiguration(localAddresses: ["127.0.0.1"], checkPacing: pacing, connectTimeout: connectTimeout)
    }

    /// Exchanges credentials and starts gathering on both sides.
    func start(remotePasswordForA: String? = nil) throws {
        var credentialsOfB = b.transport.localCredentials
        if let remotePasswordForA { credentialsOfB.password = remotePasswordForA }
        try a.transport.setRemoteCredentials(credentialsOfB)
        try b.transport.setRemoteCredentials(a.transport.localCredentials)
        try a.transport.gather()
        try b.transport.gather()
    }

    func close() {
        a.transport.close()
        b.transport.close()
        a.disconnectPeer()
        b.disconnectPeer()
    }

    func stop() {
        close()
        loop.stop()
    }
}

/// Polls `condition` every millisecond until it holds or `timeout` passes.
@discardableResult
func waitUntil(timeout: Duration, _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        usleep(1000)
    }
    return condition()
}

extension IceTransportState {
    var isFailed: Bool { if case .failed = self { true } else { false } }
    var isDisconnected: Bool { if case .disconnected = self { true } else { false } }
}

/// The port (6th field) of a candidate attribute, and the attribute with it replaced.
func candidatePort(_ line: String) -> UInt16? {
    let fields = line.split(separator: " ")
    return fields.count > 5 ? UInt16(fields[5]) : nil
}

func replacingCandidatePort(_ line: String, with port: UInt16) -> String {
    var fields = line.split(separator: " ").map(String.init)
    fields[5] = String(port)
    return fields.joined(separator: " ")
}
