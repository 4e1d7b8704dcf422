import ParleyCrypto
import ParleyProtocol
import SignallingCore

/// A message the relay is about to hand to a device.
public struct RelayedMessage: Equatable, Sendable {
    /// The device that receives it.
    public var to: DeviceID
    public var message: SignalMessage

    public init(to: DeviceID, message: SignalMessage) {
        self.to = to
        self.message = message
    }
}

/// The signalling server in memory: the real `SignallingCore` (authentication, call
/// routing, glare, ring timeout, limits), driven on a `VirtualClock`, with devices
/// that are in-process inboxes instead of TLS connections. Every message passes
/// through `SignalCodec` (encoded and decoded, byte-exact) on its way in.
///
/// `interceptor` sees every message the server sends to a device and returns what
/// is delivered instead: nothing (drop), the message (deliver), several (replay,
/// inject). `MaliciousRelay` builds interceptors from a script.
///
/// Not thread-safe: one simulation drives it.
public final class InMemoryRelay {
    public let clock: VirtualClock
    public private(set) var core: SignallingCore
    public var interceptor: ((RelayedMessage) -> [RelayedMessage])?
    /// How often a device pings when it has sent nothing else (below the server's idle timeout).
    public var keepaliveInterval: Duration = .seconds(20)
    /// How long a message takes from the server to a device (a signalling path is
    /// slower than the direct path between two devices).
    public var latency: Duration = .milliseconds(10)

    private var connections: [DeviceID: ConnectionID] = [:]
    private var devices: [ConnectionID: DeviceID] = [:]
    private var lastSent: [DeviceID: Timestamp] = [:]
    private var inboxes: [DeviceID: [(due: Timestamp, message: SignalMessage)]] = [:]
    private var nextConnection: UInt64 = 1
    private static let certificateSHA256 = [UInt8](repeating: 0xce, count: 32)

    public init(clock: VirtualClock, configuration: ServerConfiguration = ServerConfiguration()) {
        self.clock = clock
        core = SignallingCore(configuration: configuration, policy: .open, certificateSHA256: InMemoryRelay.certificateSHA256)
    }

    /// Connects and authenticates a device (the challenge is signed by `identity`).
    public func connect(_ identity: DeviceIdentity, realm: String = "simulation") throws {
        let connection = ConnectionID(nextConnection)
        nextConnection += 1
        connections[identity.deviceID] = connection
        devices[connection] = identity.deviceID
        var challenge: Challenge?
        for action in core.handle(.connected(connection), now: clock.now) {
            if case let .send(_, .challenge(sent)) = action { challenge = sent }
        }
        guard let challenge else { throw SimulationError("the server sent no challenge") }
        let signed = Auth.signedData(nonce: challenge.nonce, serverCertificateSHA256: InMemoryRelay.certificateSHA256,
                                     realm: realm, enrollmentCode: "")
        let auth = Auth(identityKey: identity.publicKey, signature: try identity.sign(signed), realm: realm, enrollmentCode: "")
        send(.auth(auth), from: identity.deviceID)
        guard isConnected(identity.deviceID) else { throw SimulationError("the server refused the device") }
    }

    /// The device's connection ends (its process died, or its network went away).
    public func disconnect(_ device: DeviceID) {
        guard let connection = connections.removeValue(forKey: device) else { return }
        devices[connection] = nil
        inboxes[device] = nil
        perform(core.handle(.disconnected(connection), now: clock.now))
    }

    public func isConnected(_ device: DeviceID) -> Bool { connections[device] != nil }

    /// A device sends a message to the server (encoded and decoded on the way).
    public func send(_ message: SignalMessage, from device: DeviceID) {
        guard let connection = connections[device] else { return }
        lastSent[device] = clock.now
        do {
            let bytes = try SignalCodec.encode(message)
            let decoded = try SignalCodec.decode(bytes)
            perform(core.handle(.received(connection, decoded, byteCount: bytes.count), now: clock.now))
        } catch {
            perform(core.handle(.undecodable(connection, .malformed, reason: "\(error)", byteCount: 0), now: clock.now))
        }
    }

    /// Messages that reached the device by now and were not taken yet, in order.
    public func takeMessages(for device: DeviceID) -> [SignalMessage] {
        guard let inbox = inboxes[device] else { return [] }
        let due = inbox.prefix { $0.due <= clock.now }
        inboxes[device] = Array(inbox.dropFirst(due.count))
        return due.map(\.message)
    }

    /// True when some device has a message that reached it by now.
    public var hasPendingMessages: Bool { inboxes.values.contains { $0.first.map { $0.due <= clock.now } ?? false } }

    /// Runs the server's timers and the devices' keepalives due at the clock's time.
    public func advance() {
        let now = clock.now
        for (device, last) in lastSent where now >= last + keepaliveInterval && connections[device] != nil {
            send(.ping(0), from: device)
        }
        if let deadline = core.nextDeadline, deadline <= now {
            perform(core.handle(.tick, now: now))
        }
    }

    /// The earliest time `advance` has work: a server timer or a keepalive.
    public var nextDeadline: Timestamp? {
        let keepalives = lastSent.compactMap { connections[$0.key] == nil ? nil : $0.value + keepaliveInterval }
        let deliveries = inboxes.values.compactMap { $0.first?.due }
        return ([core.nextDeadline].compactMap { $0 } + keepalives + deliveries).min()
    }

    /// Hands a message to a device as if the server had sent it (an injection by a
    /// hostile relay, or a test's own message).
    public func deliver(_ message: SignalMessage, to device: DeviceID) {
        guard connections[device] != nil else { return }
        inboxes[device, default: []].append((clock.now + latency, message))
    }

    private func perform(_ actions: [ServerAction]) {
        for action in actions {
            switch action {
            case let .send(connection, message):
                guard let device = devices[connection] else { continue }
                if case .pong = message { continue }
                let relayed = RelayedMessage(to: device, message: message)
                for out in interceptor?(relayed) ?? [relayed] { deliver(out.message, to: out.to) }
            case let .close(connection, _):
                guard let device = devices[connection] else { continue }
                connections[device] = nil
                devices[connection] = nil
                perform(core.handle(.disconnected(connection), now: clock.now))
            case .enrolled:
                break
            }
        }
    }
}

/// A simulation could not be set up as asked.
public struct SimulationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
