@testable import ParleyCrypto
import ParleyProtocol
@testable import SignallingCore
import XCTest

/// Drives a SignallingCore on a virtual clock with devices that sign real challenges.
final class CoreHarness {
    static let certificate = [UInt8](repeating: 0xc3, count: 32)
    var core: SignallingCore
    var now = Timestamp(nanoseconds: 1_000_000_000)
    private var nextConnection: UInt64 = 1
    /// Everything sent to each connection, in order.
    var inbox: [ConnectionID: [SignalMessage]] = [:]
    var closed: [ConnectionID: SignalErrorCode?] = [:]
    var enrolled: [DeviceID] = []

    init(configuration: ServerConfiguration = ServerConfiguration(), policy: EnrollmentPolicy = .open, allowlist: [DeviceID: String] = [:]) {
        core = SignallingCore(configuration: configuration, policy: policy, allowlist: allowlist,
                              certificateSHA256: CoreHarness.certificate, entropy: DeterministicEntropy(seed: [7]))
    }

    @discardableResult
    func feed(_ input: ServerInput) -> [ServerAction] {
        let actions = core.handle(input, now: now)
        for action in actions {
            switch action {
            case let .send(id, message): inbox[id, default: []].append(message)
            case let .close(id, code): closed[id] = code
            case let .enrolled(device, _): enrolled.append(device)
            }
        }
        return actions
    }

    func advance(_ duration: Duration) {
        now = now + duration
        feed(.tick)
    }

    func connect() -> ConnectionID {
        let id = ConnectionID(nextConnection)
        nextConnection += 1
        feed(.connected(id))
        return id
    }

    func send(_ id: ConnectionID, _ message: SignalMessage, byteCount: Int = 64) {
        feed(.received(id, message, byteCount: byteCount))
    }

    /// Messages received by `id` since the last call to `take`.
    func take(_ id: ConnectionID) -> [SignalMessage] {
        defer { inbox[id] = [] }
        return inbox[id] ?? []
    }

    func nonce(of id: ConnectionID) throws -> [UInt8] {
        guard case let .challenge(challenge)? = inbox[id]?.first else { throw XCTSkip("no challenge") }
        return challenge.nonce
    }

    /// Connects `device` and authenticates it in `realm`; returns the connection.
    func login(_ device: DeviceIdentity, realm: String = "home", code: String = "",
               certificate: [UInt8] = CoreHarness.certificate) throws -> ConnectionID {
        let id = connect()
        let nonce = try XCTUnwrap({ if case let .challenge(c)? = take(id).first { return c.nonce } else { return nil } }())
        let signature = try device.sign(Auth.signedData(nonce: nonce, serverCertificateSHA256: certificate, realm: realm, enrollmentCode: code))
        send(id, .auth(Auth(identityKey: device.publicKey, signature: signature, realm: realm, enrollmentCode: code)))
        return id
    }

    static func callID(_ byte: UInt8) -> CallID {
        // 16 bytes cannot fail.
        try! CallID(bytes: [UInt8](repeating: byte, count: 16))
    }
}
