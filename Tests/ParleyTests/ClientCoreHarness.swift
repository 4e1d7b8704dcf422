import Parley
import ParleyCrypto
import ParleyProtocol
import XCTest

/// SplitMix64: a tiny seeded generator, so backoff delays are reproducible.
struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

/// Drives a `SignallingClientCore` on a virtual clock, playing the server: it feeds
/// transport events and server messages and records every action the core asks for.
final class ClientCoreHarness {
    static let certificate = [UInt8](repeating: 0xc3, count: 32)
    static let realm = "home"

    let identity: DeviceIdentity
    var core: SignallingClientCore
    var now = Timestamp(nanoseconds: 1_000_000_000)
    private(set) var events: [SignallingEvent] = []
    private(set) var connects = 0
    private(set) var flushes = 0
    private(set) var closes: [WebSocketClose] = []

    init(seed: UInt64 = 1, identitySeed: UInt8 = 1, _ configure: (inout SignallingClientConfiguration) -> Void = { _ in }) {
        identity = DeviceIdentity(entropy: DeterministicEntropy(seed: [identitySeed]))
        var configuration = SignallingClientConfiguration(url: "wss://127.0.0.1:8443/", trust: .pinned(sha256: Self.certificate),
                                                          realm: Self.realm)
        configure(&configuration)
        // The harness builds only valid configurations.
        _ = try! configuration.validate()
        core = SignallingClientCore(configuration: configuration, identity: identity, random: SeededRandom(seed: seed))
    }

    @discardableResult
    func feed(_ input: SignallingClientInput) -> [SignallingClientAction] {
        let actions = core.handle(input, now: now)
        for action in actions {
            switch action {
            case .connect: connects += 1
            case .flush: flushes += 1
            case let .close(close): closes.append(close)
            case let .emit(event): events.append(event)
            }
        }
        return actions
    }

    /// Moves the virtual clock and ticks the core.
    @discardableResult
    func advance(_ duration: Duration) -> [SignallingClientAction] {
        now = now + duration
        return feed(.tick)
    }

    /// Moves the clock to the core's next deadline and ticks.
    @discardableResult
    func advanceToDeadline() throws -> [SignallingClientAction] {
        let deadline = try XCTUnwrap(core.nextDeadline, "the core has no deadline")
        now = max(now, deadline)
        return feed(.tick)
    }

    /// The server sends `message`.
    @discardableResult
    func receive(_ message: SignalMessage) -> [SignallingClientAction] {
        // Test messages are valid envelopes.
        feed(.received(try! SignalCodec.encode(message)))
    }

    /// What the client has queued for the server since the last call, decoded.
    func written() throws -> [SignalMessage] {
        var messages: [SignalMessage] = []
        while let bytes = core.nextOutgoing() { messages.append(try SignalCodec.decode(bytes)) }
        return messages
    }

    /// Events since the last call.
    func takeEvents() -> [SignallingEvent] {
        defer { events = [] }
        return events
    }

    var states: [ConnectionState] {
        events.compactMap { if case let .stateChanged(state) = $0 { return state } else { return nil } }
    }

    static func challenge(nonce: [UInt8] = [UInt8](repeating: 0x4e, count: 32), maxMessageBytes: Int = SignalLimits.maxMessageBytes,
                          pingIntervalSeconds: UInt16 = 25) -> SignalMessage {
        .challenge(Challenge(nonce: nonce, maxMessageBytes: UInt32(maxMessageBytes), pingIntervalSeconds: pingIntervalSeconds))
    }

    /// Start, transport up with `certificate`, challenge: returns the auth the client sent.
    @discardableResult
    func authenticate(challenge: SignalMessage = ClientCoreHarness.challenge(),
                      certificate: [UInt8] = ClientCoreHarness.certificate) throws -> Auth {
        feed(.start)
        feed(.transportConnected(serverCertificateSHA256: certificate))
        receive(challenge)
        let sent = try written()
        guard sent.count == 1, case let .auth(auth) = sent[0] else {
            XCTFail("expected exactly one auth, got \(sent)")
            throw XCTSkip("no auth")
        }
        return auth
    }

    /// Authenticates and receives the welcome and an empty snapshot.
    func goOnline(challenge: SignalMessage = ClientCoreHarness.challenge(), peers: [DeviceID] = []) throws {
        try authenticate(challenge: challenge)
        receive(.welcome(Welcome(deviceID: identity.deviceID, realm: Self.realm)))
        receive(.presenceSnapshot(peers))
        XCTAssertTrue(core.state.isOnline, "\(core.state)")
    }

    /// A retryable failure: the transport could not connect.
    func failConnection() {
        feed(.transportFailed(SignallingClientError(.serverUnreachable, "test: connection refused")))
    }

    static func device(_ byte: UInt8) -> DeviceID {
        // 20 bytes cannot fail.
        try! DeviceID(rawBytes: [UInt8](repeating: byte, count: DeviceID.byteCount))
    }

    static func callID(_ byte: UInt8) -> CallID {
        // 16 bytes cannot fail.
        try! CallID(bytes: [UInt8](repeating: byte, count: CallID.byteCount))
    }
}

extension ConnectionState {
    var isWaiting: Bool {
        if case .waitingToReconnect = self { return true }
        return false
    }

    var stoppedError: SignallingClientError?? {
        if case let .stopped(error) = self { return .some(error) }
        return nil
    }

    var waitingReason: SignallingClientError? {
        if case let .waitingToReconnect(_, _, reason) = self { return reason }
        return nil
    }
}
