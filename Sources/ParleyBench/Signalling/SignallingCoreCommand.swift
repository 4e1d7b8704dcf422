import ArgumentParser
import CSodium
import ParleyCrypto
import ParleyProtocol
import SignallingCore

/// `parley-bench signalling-core`: the per-message CPU cost of the relay path without
/// sockets: `SignallingCore` routing a 512-byte sealed signal between connected
/// calls, beside the envelope codec decoding and re-encoding the same message in the
/// same run. Their sum bounds what one core can relay before TLS and WebSocket costs.
struct SignallingCoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signalling-core",
        abstract: "Time SignallingCore relaying sealed signals, beside the envelope codec on the same messages."
    )

    @Flag(help: "Short runs (3 runs of 10 ms) as a smoke test; the figures are not worth quoting.")
    var quick = false

    @Option(help: "Connected call pairs the relayed messages rotate over (default 64).")
    var pairs = 64

    @Flag(help: "Print the results as JSON instead of a table.")
    var json = false

    func validate() throws {
        if pairs < 1 || pairs > 5_000 { throw ValidationError("--pairs must be 1...5000") }
    }

    func run() throws {
        guard sodium_init() >= 0 else { throw BenchmarkError(workload: "setup", problem: "sodium_init failed") }
        let plan = quick ? RunPlan.quick : RunPlan.standard
        var report = CryptoReport(plan: plan, environment: .current(libsodium: String(cString: sodium_version_string())))
        report.benchmark = "signalling-core"
        let workloads: [any Workload] = [try CoreRelayWorkload(pairs: pairs), try CodecRelayWorkload()]
        report.add(workloads, samples: try Sampler(plan: plan).measureInterleaved(workloads))
        print(json ? try report.json() : report.table)
    }
}

/// The message every workload relays: a signal with a 512-byte opaque payload.
private let relayedPayload = [UInt8](repeating: 0x5a, count: 512)

/// `SignallingCore.handle(.received(.signal))` for `pairs` connected calls, round robin.
final class CoreRelayWorkload: Workload {
    let name: String
    let batchSize = 256
    let payloadBytes: Int? = relayedPayload.count
    let displayUnit = DisplayUnit.nanoseconds
    private var core: SignallingCore
    private var senders: [(ConnectionID, CallID)] = []
    private let now = Timestamp(nanoseconds: 1)
    private var next = 0

    init(pairs: Int) throws {
        name = "SignallingCore relay, \(pairs) pairs"
        var configuration = ServerConfiguration()
        // The bench measures routing, not the limiter's verdict: no connection is throttled.
        configuration.messagesPerSecond = 1e12
        configuration.messageBurst = 1e12
        configuration.bytesPerSecond = 1e15
        configuration.byteBurst = 1e15
        configuration.maxCallsPerDevice = 1
        let certificate = [UInt8](repeating: 1, count: 32)
        core = SignallingCore(configuration: configuration, policy: .open, certificateSHA256: certificate)
        var connection: UInt64 = 0
        func login(_ identity: DeviceIdentity) throws -> ConnectionID {
            connection += 1
            let id = ConnectionID(connection)
            guard case let .send(_, .challenge(challenge))? = core.handle(.connected(id), now: now).first else {
                throw BenchmarkError(workload: "setup", problem: "no challenge")
            }
            let signed = Auth.signedData(nonce: challenge.nonce, serverCertificateSHA256: certificate, realm: "bench", enrollmentCode: "")
            _ = core.handle(.received(id, .auth(Auth(identityKey: identity.publicKey, signature: try identity.sign(signed),
                                                     realm: "bench", enrollmentCode: "")), byteCount: 200), now: now)
            return id
        }
        for pair in 0..<pairs {
            let caller = DeviceIdentity(), callee = DeviceIdentity()
            defer { caller.erase(); callee.erase() }
            let a = try login(caller), b = try login(callee)
            let callID = try CallID(bytes: (0..<16).map { UInt8(truncatingIfNeeded: pair >> ($0 % 4 * 8)) ^ UInt8($0) })
            _ = core.handle(.received(a, .invite(callee: callee.deviceID, callID: callID, payload: [1]), byteCount: 60), now: now)
            _ = core.handle(.received(b, .accept(callID: callID, payload: [2]), byteCount: 40), now: now)
            senders.append((a, callID))
            senders.append((b, callID))
        }
    }

    func measure(_ count: Int) throws -> Duration {
        let clock = ContinuousClock()
        var delivered = 0
        let start = clock.now
        for _ in 0..<count {
            let (id, callID) = senders[next]
            next = next + 1 == senders.count ? 0 : next + 1
            delivered += core.handle(.received(id, .signal(callID: callID, payload: relayedPayload), byteCount: 531), now: now).count
        }
        let elapsed = start.duration(to: clock.now)
        guard delivered == count else { throw BenchmarkError(workload: name, problem: "\(delivered) actions for \(count) signals") }
        return elapsed
    }
}

/// The codec's share of the same relay: decode the received signal, encode it for the peer.
final class CodecRelayWorkload: Workload {
    let name = "envelope decode+encode, same signal"
    let batchSize = 256
    let payloadBytes: Int? = relayedPayload.count
    let displayUnit = DisplayUnit.nanoseconds
    private let wire: [UInt8]

    init() throws {
        wire = try SignalCodec.encode(.signal(callID: try CallID(bytes: [UInt8](repeating: 3, count: 16)), payload: relayedPayload))
    }

    func measure(_ count: Int) throws -> Duration {
        let clock = ContinuousClock()
        var bytes = 0
        let start = clock.now
        for _ in 0..<count {
            bytes += try SignalCodec.encode(try SignalCodec.decode(wire)).count
        }
        let elapsed = start.duration(to: clock.now)
        guard bytes == count * wire.count else { throw BenchmarkError(workload: name, problem: "re-encoded \(bytes) bytes") }
        return elapsed
    }
}
