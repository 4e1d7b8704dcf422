import Foundation
import Glibc
import Parley
import ParleyProtocol
import XCTest

/// TURN through a real coturn (Debian `coturn`) started on 127.0.0.1 by the test, with
/// long-term credentials; both sides are `relayOnly`, so only relayed candidates exist.
final class IceTurnTests: XCTestCase {
    static let turnserver = "/usr/bin/turnserver"

    func testRelayOnlyTransportsConnectThroughTurnOverUDPAndReportARelayedPath() throws {
        try connectThroughTurn(.udp)
    }

    func testRelayOnlyTransportsConnectThroughTurnOverTCPAndReportARelayedPath() throws {
        try connectThroughTurn(.tcp)
    }

    private func connectThroughTurn(_ transport: TurnTransport) throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: IceTurnTests.turnserver), "coturn is not installed")
        let server = try TurnServerProcess()
        defer { server.stop() }
        let turn = TurnServer(address: IceServerAddress(host: "127.0.0.1", port: server.port), transport: transport,
                              username: TurnServerProcess.username, password: TurnServerProcess.password)
        var configuration = IceCall.loopbackConfiguration(connectTimeout: .seconds(10))
        configuration.turnServers = [turn]
        configuration.relayOnly = true
        let call = try IceCall(configuration: configuration)
        defer { call.stop() }
        try call.start()

        XCTAssertTrue(waitUntil(timeout: .seconds(10)) { call.a.transport.state == .connected && call.b.transport.state == .connected },
                      "A: \(call.a.transport.state), B: \(call.b.transport.state)")
        for line in call.a.log.localCandidates + call.b.log.localCandidates {
            XCTAssertTrue(line.contains(" typ relay"), line)
        }
        for peer in [call.a, call.b] {
            let pair = try XCTUnwrap(peer.transport.selectedPair)
            XCTAssertTrue(pair.isRelayed, "\(pair)")
            XCTAssertEqual(pair.local.kind, .relayed)
        }
        var datagram = [UInt8](repeating: 0, count: 1200)
        for sequence in 0..<100 {
            datagram.withUnsafeMutableBytes { Datagram.fill($0, sequence: UInt32(sequence)) }
            XCTAssertTrue(datagram.withUnsafeBytes { call.a.transport.send($0) })
            // Paced: an unpaced burst overflows coturn's sockets (non-reliable sends never push back).
            if sequence % 10 == 9 { usleep(1000) }
        }
        XCTAssertTrue(waitUntil(timeout: .seconds(3)) { call.b.received.intact.load(ordering: .relaxed) == 100 },
                      "\(call.b.received.intact.load(ordering: .relaxed)) of 100 arrived through TURN over \(transport)")
    }
}

/// coturn on 127.0.0.1 with a test-picked port, one long-term user, no TLS, loopback peers
/// allowed (they are refused by default), its own user database in a temporary directory.
final class TurnServerProcess {
    static let username = "parley"
    static let password = "turn-test-password"
    let port: UInt16
    private let process = Process()
    private let directory: URL

    init() throws {
        port = try TurnServerProcess.freePort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("parley-turn-\(port)-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: IceTurnTests.turnserver)
        process.arguments = [
            "-n", "--listening-ip=127.0.0.1", "--listening-port=\(port)", "--relay-ip=127.0.0.1",
            "--min-port=\(Int(port) + 1)", "--max-port=\(Int(port) + 200)",
            "--lt-cred-mech", "--user=\(TurnServerProcess.username):\(TurnServerProcess.password)", "--realm=parley.test",
            "--no-tls", "--no-dtls", "--allow-loopback-peers", "--no-cli", "--no-stdout-log",
            "--userdb=\(directory.appendingPathComponent("turndb").path)",
            "--pidfile=\(directory.appendingPathComponent("turnserver.pid").path)",
            "--log-file=\(directory.appendingPathComponent("turn.log").path)",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Ready once its TCP listener accepts.
        guard waitUntil(timeout: .seconds(5), { TurnServerProcess.accepts(port: self.port) }) else {
            stop()
            throw TestSocketError(errno: ETIMEDOUT)
        }
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// A port free for both UDP and TCP on 127.0.0.1 (the kernel's pick for a UDP socket).
    private static func freePort() throws -> UInt16 {
        for _ in 0..<20 {
            let socket = try UDPTestSocket()
            let port = socket.port
            if port < 65_000 && !accepts(port: port) { return port }
        }
        throw TestSocketError(errno: EADDRINUSE)
    }

    private static func accepts(port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = UDPTestSocket.loopback(port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
