import Logging
import ParleyCrypto
import SignallingCore
import SignallingServer
import Synchronization
import XCTest

/// An allowlist and enrollment codes kept in memory, recording enrollments.
final class MemoryStateStore: ServerStateStore, @unchecked Sendable {
    private let state = Mutex<(allowlist: [DeviceID: String], codes: [EnrollmentCodeRecord], enrolled: [DeviceID])>(([:], [], []))

    var allowlist: [DeviceID: String] {
        get { state.withLock { $0.allowlist } }
        set { state.withLock { $0.allowlist = newValue } }
    }
    var codes: [EnrollmentCodeRecord] {
        get { state.withLock { $0.codes } }
        set { state.withLock { $0.codes = newValue } }
    }
    var enrolled: [DeviceID] { state.withLock { $0.enrolled } }

    func loadAllowlist() throws -> [DeviceID: String] { allowlist }
    func loadEnrollmentCodes() throws -> [EnrollmentCodeRecord] { codes }
    func recordEnrollment(device: DeviceID, codeDigest: [UInt8]) throws {
        state.withLock { state in
            state.allowlist[device] = ""
            state.codes.removeAll { $0.digest == codeDigest }
            state.enrolled.append(device)
        }
    }
}

/// A real `SignallingServer` on 127.0.0.1 with a system-chosen port, a fresh self-signed
/// certificate and an in-memory store; stopped by `stop()` (tests call it in tearDown).
final class ServerFixture {
    let server: SignallingServer
    let store: MemoryStateStore
    let certificate: ServerCertificate
    var port: Int { server.port }
    var pin: [UInt8] { certificate.sha256 }

    /// `capture`, when given, sees every whole message the server receives and sends
    /// (`SignallingServer.setCapture`, installed before the server starts).
    init(enrollment: EnrollmentPolicy = .open, metrics: Bool = false, configure: (inout ServerOptions) -> Void = { _ in },
         capture: (@Sendable (CapturedMessage) -> Void)? = nil) throws {
        var options = ServerOptions()
        options.port = 0
        options.metricsPort = metrics ? 0 : nil
        options.enrollment = enrollment
        options.drainTimeout = .seconds(2)
        configure(&options)
        store = MemoryStateStore()
        certificate = try ServerCertificate.generateSelfSigned(commonName: "parley-signal test")
        var logger = Logger(label: "test.parley-signal")
        logger.logLevel = .warning
        server = try SignallingServer(options: options, certificate: certificate, store: store, logger: logger)
        if let capture { server.setCapture(capture) }
        try server.start()
    }

    /// A server on a given `port` with a given `certificate`, open enrollment and a new
    /// in-memory store: the restart of a stopped fixture, which devices reach again at
    /// the same address with the same pin.
    init(port: Int, certificate: ServerCertificate) throws {
        var options = ServerOptions()
        options.port = port
        options.metricsPort = nil
        options.enrollment = .open
        options.drainTimeout = .seconds(2)
        store = MemoryStateStore()
        self.certificate = certificate
        var logger = Logger(label: "test.parley-signal")
        logger.logLevel = .warning
        server = try SignallingServer(options: options, certificate: certificate, store: store, logger: logger)
        try server.start()
    }

    func stop() { server.stopNow() }

    /// A raw client logged in as `identity` (a new device when nil).
    func rawClient(identity: DeviceIdentity = DeviceIdentity(), realm: String = "home") throws -> (RawWebSocket, DeviceIdentity, [DeviceID]) {
        let socket = try RawWebSocket(port: port)
        let online = try socket.logIn(port: port, identity: identity, realm: realm, certificateSHA256: pin)
        return (socket, identity, online)
    }
}
