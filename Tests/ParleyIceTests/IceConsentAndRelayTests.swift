import Glibc
import Parley
import ParleyTesting
import Synchronization
import XCTest

/// Consent freshness with a vanished peer, and ICE through the lossy UDPRelay.
final class IceConsentAndRelayTests: XCTestCase {
    /// With libnice's consent freshness on (calls leave it off and judge consent from their
    /// sealed frames), libnice 0.1.21 sends a consent check every 5 s ± 20 % and declares
    /// consent lost 10 s after the last response (constants compiled into libnice), so a
    /// vanished peer is reported at most 10 s later; this test takes that long.
    func testWithLibniceConsentFreshnessOnAPeerThatVanishesIsReportedAsConsentLostWithinTenSeconds() throws {
        var configuration = IceCall.loopbackConfiguration()
        configuration.libniceConsentFreshness = true
        let call = try IceCall(configuration: configuration)
        defer { call.stop() }
        try call.start()
        XCTAssertTrue(waitUntil(timeout: .seconds(10)) { call.a.transport.state == .connected && call.b.transport.state == .connected })

        // B's process "dies": its agent and sockets are gone, nothing answers A any more.
        let vanished = ContinuousClock.now
        call.b.transport.close()
        XCTAssertTrue(waitUntil(timeout: .seconds(20)) { call.a.transport.state.isDisconnected }, "A: \(call.a.transport.state)")
        let detected = call.a.log.firstTime { $0 == .stateChanged(call.a.transport.state) } ?? ContinuousClock.now
        print("consent lost reported \(detected - vanished) after the peer vanished")
        guard case let .disconnected(error) = call.a.transport.state else { return XCTFail("A is \(call.a.transport.state)") }
        XCTAssertEqual(error.code, .consentLost)
        XCTAssertEqual(call.a.log.states.last, .disconnected(error))
        XCTAssertFalse([UInt8](repeating: 0, count: 10).withUnsafeBytes { call.a.transport.send($0) })
    }

    func testRelayForwardsBothWaysAndDropsTheConfiguredShare() throws {
        let relay = try UDPRelay(link: UDPRelay.Link(oneWayDelay: .milliseconds(2), lossRate: 0.1, seed: 7))
        defer { relay.stop() }
        let peerA = try UDPTestSocket(), peerB = try UDPTestSocket()
        relay.setPeerA(port: peerA.port)
        relay.setPeerB(port: peerB.port)
        for index in 0..<1000 {
            peerA.send([UInt8(index & 0xFF), 1], to: relay.portA)
            peerB.send([UInt8(index & 0xFF), 2], to: relay.portB)
        }
        waitUntil(timeout: .seconds(3)) {
            let stats = relay.stats
            return stats.forwarded.aToB + stats.lost.aToB == 1000 && stats.forwarded.bToA + stats.lost.bToA == 1000
        }
        let stats = relay.stats
        XCTAssertEqual(stats.received.aToB, 1000)
        XCTAssertEqual(stats.received.bToA, 1000)
        // 10 % of 1000 with a seeded generator: well inside 50...150.
        XCTAssertTrue((50...150).contains(stats.lost.aToB), "\(stats.lost.aToB)")
        XCTAssertTrue((50...150).contains(stats.lost.bToA), "\(stats.lost.bToA)")
        XCTAssertEqual(peerB.drain().filter { $0.last == 1 }.count, Int(stats.forwarded.aToB))
        XCTAssertEqual(peerA.drain().filter { $0.last == 2 }.count, Int(stats.forwarded.bToA))
    }

    func testRelayRateLimitDropsWhatOverflowsItsQueue() throws {
        // 100 kB/s with a 12 kB queue: a burst of 100 × 1200 B keeps about 10 and drops the rest.
        let relay = try UDPRelay(link: UDPRelay.Link(rateBytesPerSecond: 100_000, queueLimitBytes: 12_000))
        defer { relay.stop() }
        let peerA = try UDPTestSocket(), peerB = try UDPTestSocket()
        relay.setPeerB(port: peerB.port)
        for _ in 0..<100 { peerA.send([UInt8](repeating: 9, count: 1200), to: relay.portA) }
        waitUntil(timeout: .seconds(3)) { relay.stats.forwarded.aToB + relay.stats.queueDropped.aToB == 100 }
        let stats = relay.stats
        XCTAssertGreaterThan(stats.queueDropped.aToB, 50)
        XCTAssertGreaterThan(stats.forwarded.aToB, 0)
        XCTAssertEqual(stats.forwarded.aToB + stats.queueDropped.aToB, 100)
    }

    func testTransportsConnectAndCarryDatagramsThroughARelayWithFivePercentLoss() throws {
        let relay = try UDPRelay(link: UDPRelay.Link(oneWayDelay: .milliseconds(5), lossRate: 0.05, seed: 42))
        defer { relay.stop() }
        let call = try IceCall(configuration: IceCall.loopbackConfiguration(connectTimeout: .seconds(15)))
        defer { call.stop() }
        // A's candidates reach B pointing at side B; B's reach A pointing at side A.
        call.a.candidateFilter.withLock { $0 = { line in
            candidatePort(line).map { relay.setPeerA(port: $0) }
            return replacingCandidatePort(line, with: relay.portB)
        } }
        call.b.candidateFilter.withLock { $0 = { line in
            candidatePort(line).map { relay.setPeerB(port: $0) }
            return replacingCandidatePort(line, with: relay.portA)
        } }
        try call.start()
        XCTAssertTrue(waitUntil(timeout: .seconds(15)) { call.a.transport.state == .connected && call.b.transport.state == .connected },
                      "A: \(call.a.transport.state), B: \(call.b.transport.state)")
        let pairA = try XCTUnwrap(call.a.transport.selectedPair)
        XCTAssertEqual(pairA.remote.port, relay.portA, "A talks to the relay, not to B")
        XCTAssertEqual(call.b.transport.selectedPair?.remote.port, relay.portB)

        let count = 2000
        var buffer = [UInt8](repeating: 0, count: 1200)
        for sequence in 0..<count {
            buffer.withUnsafeMutableBytes { Datagram.fill($0, sequence: UInt32(sequence)) }
            XCTAssertTrue(buffer.withUnsafeBytes { call.a.transport.send($0) })
            XCTAssertTrue(buffer.withUnsafeBytes { call.b.transport.send($0) })
            if sequence % 100 == 99 { usleep(2000) }
        }
        waitUntil(timeout: .seconds(3)) {
            let stats = relay.stats
            return stats.received.aToB == stats.forwarded.aToB + stats.lost.aToB
                && call.b.received.intact.load(ordering: .relaxed) + call.b.received.corrupt.load(ordering: .relaxed) >= Int(stats.forwarded.aToB) - 50
        }
        usleep(100_000)
        let atB = call.b.received.intact.load(ordering: .relaxed), atA = call.a.received.intact.load(ordering: .relaxed)
        let stats = relay.stats
        print("through the relay (5 % loss, 5 ms): A→B \(atB)/\(count), B→A \(atA)/\(count); relay lost \(stats.lost.aToB) + \(stats.lost.bToA) "
            + "(checks included)")
        XCTAssertEqual(call.a.received.corrupt.load(ordering: .relaxed) + call.b.received.corrupt.load(ordering: .relaxed), 0)
        XCTAssertTrue((Int(Double(count) * 0.85)..<count).contains(atB), "A→B \(atB)")
        XCTAssertTrue((Int(Double(count) * 0.85)..<count).contains(atA), "B→A \(atA)")
        XCTAssertGreaterThan(stats.lost.aToB + stats.lost.bToA, 0)
    }
}

struct TestSocketError: Error { let errno: Int32 }

/// A plain UDP socket on 127.0.0.1 for relay tests.
final class UDPTestSocket {
    let fd: Int32
    let port: UInt16

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        self.fd = fd
        var address = UDPTestSocket.loopback(0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        var size: Int32 = 4 << 20
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard fd >= 0, ok else { throw TestSocketError(errno: errno) }
        port = UInt16(bigEndian: address.sin_port)
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8], to port: UInt16) {
        var address = UDPTestSocket.loopback(port)
        _ = bytes.withUnsafeBytes { raw in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, raw.baseAddress, raw.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
    }

    /// Every datagram waiting in the socket.
    func drain() -> [[UInt8]] {
        var out: [[UInt8]] = []
        var buffer = [UInt8](repeating: 0, count: 2048)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            guard count >= 0 else { return out }
            out.append(Array(buffer[0..<count]))
        }
    }

    static func loopback(_ port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }
}
