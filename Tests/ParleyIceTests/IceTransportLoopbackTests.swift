import Glibc
import Parley
import ParleyProtocol
import Synchronization
import XCTest

/// Real libnice agents on 127.0.0.1, both on one IceLoop.
final class IceTransportLoopbackTests: XCTestCase {
    func testTrickledCandidatesConnectBothSidesOverADirectHostPair() throws {
        let call = try IceCall()
        defer { call.stop() }
        try call.start()

        XCTAssertTrue(waitUntil(timeout: .seconds(10)) { call.a.transport.state == .connected && call.b.transport.state == .connected },
                      "A: \(call.a.transport.state), B: \(call.b.transport.state)")
        XCTAssertTrue(waitUntil(timeout: .seconds(5)) { call.a.log.gatheringComplete && call.b.log.gatheringComplete })
        // States only move forward, each reported once.
        for log in [call.a.log, call.b.log] {
            XCTAssertEqual(log.states.filter { $0 == .connected }.count, 1)
            XCTAssertFalse(log.states.contains { $0.isTerminal })
        }
        XCTAssertEqual(call.a.log.states.first, .gathering)
        // Local candidates are attribute values without "a=", in libnice's RFC 8839 form.
        for line in call.a.log.localCandidates + call.b.log.localCandidates {
            XCTAssertTrue(line.hasPrefix("candidate:"), line)
            XCTAssertTrue(line.contains(" 127.0.0.1 "), line)
            XCTAssertTrue(line.contains(" typ host"), line)
        }
        XCTAssertTrue(call.a.refusedCandidates.withLock { $0.isEmpty })
        for peer in [call.a, call.b] {
            let pair = try XCTUnwrap(peer.transport.selectedPair)
            XCTAssertFalse(pair.isRelayed, "\(pair)")
            XCTAssertEqual(pair.local.kind, .host)
            XCTAssertEqual(pair.remote.kind, .host)
            XCTAssertEqual(pair.local.transport, "udp")
            XCTAssertEqual(pair.local.address, "127.0.0.1")
            XCTAssertEqual(peer.log.selectedPairs.last, pair)
            // The selected socket got the configured 4 MiB (Linux reports twice the request,
            // capped by net.core.rmem_max).
            XCTAssertGreaterThan(peer.transport.stats.socketReceiveBufferBytes, 212_992)
        }
        XCTAssertEqual(call.a.transport.selectedPair?.local.port, call.b.transport.selectedPair?.remote.port)
    }

    func testTenThousandDatagramsEachWayArriveIntactWithSingleAndBatchSends() throws {
        let call = try IceCall()
        defer { call.stop() }
        try call.start()
        XCTAssertTrue(waitUntil(timeout: .seconds(10)) { call.a.transport.state == .connected && call.b.transport.state == .connected })

        let count = 10_000, size = 1200, window = 500
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size * 64, alignment: 8)
        defer { buffer.deallocate() }
        // A → B with single sends, B → A in batches of 50; the test paces to a window of
        // 500 datagrams in flight (non-reliable sends never push back).
        var sequence: UInt32 = 0
        while Int(sequence) < count {
            XCTAssertTrue(waitUntil(timeout: .seconds(5)) { Int(sequence) - call.b.received.intact.load(ordering: .relaxed) < window })
            let slot = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<size])
            Datagram.fill(slot, sequence: sequence)
            XCTAssertTrue(call.a.transport.send(UnsafeRawBufferPointer(slot)))
            sequence += 1
        }
        var sent = 0
        var datagrams = [UnsafeRawBufferPointer]()
        while sent < count {
            XCTAssertTrue(waitUntil(timeout: .seconds(5)) { sent - call.a.received.intact.load(ordering: .relaxed) < window })
            datagrams.removeAll(keepingCapacity: true)
            for index in 0..<min(50, count - sent) {
                let slot = UnsafeMutableRawBufferPointer(rebasing: buffer[(index * size)..<((index + 1) * size)])
                Datagram.fill(slot, sequence: UInt32(sent + index))
                datagrams.append(UnsafeRawBufferPointer(slot))
            }
            let accepted = datagrams.withUnsafeBufferPointer { call.b.transport.send(batch: $0) }
            XCTAssertEqual(accepted, datagrams.count)
            sent += accepted
        }
        waitUntil(timeout: .seconds(5)) {
            call.a.received.intact.load(ordering: .relaxed) == count && call.b.received.intact.load(ordering: .relaxed) == count
        }
        print("IceTransport loopback: A→B \(call.b.received.intact.load(ordering: .relaxed))/\(count) (single sends), "
            + "B→A \(call.a.received.intact.load(ordering: .relaxed))/\(count) (batches of 50) datagrams of \(size) B arrived")
        XCTAssertEqual(call.b.received.intact.load(ordering: .relaxed), count)
        XCTAssertEqual(call.a.received.intact.load(ordering: .relaxed), count)
        XCTAssertEqual(call.a.received.corrupt.load(ordering: .relaxed) + call.b.received.corrupt.load(ordering: .relaxed), 0)
        let statsA = call.a.transport.stats, statsB = call.b.transport.stats
        XCTAssertEqual(statsA.packetsSent, UInt64(count))
        XCTAssertEqual(statsB.packetsSent, UInt64(count))
        XCTAssertEqual(statsB.packetsReceived, UInt64(count))
        XCTAssertEqual(statsB.bytesReceived, UInt64(count * size))
        XCTAssertEqual(statsA.sendDropsWouldBlock + statsB.sendDropsWouldBlock, 0)
    }

    func testSendBeforeConnectedOversizedOrAfterCloseIsRefusedAndCounted() throws {
        let call = try IceCall()
        defer { call.stop() }
        let bytes = [UInt8](repeating: 7, count: 100)
        XCTAssertFalse(bytes.withUnsafeBytes { call.a.transport.send($0) })
        try call.start()
        XCTAssertTrue(waitUntil(timeout: .seconds(10)) { call.a.transport.state == .connected })
        let oversized = [UInt8](repeating: 1, count: IceConstants.maxDatagramBytes + 1)
        XCTAssertFalse(oversized.withUnsafeBytes { call.a.transport.send($0) })
        XCTAssertTrue(bytes.withUnsafeBytes { call.a.transport.send($0) })
        call.a.transport.close()
        XCTAssertFalse(bytes.withUnsafeBytes { call.a.transport.send($0) })
        XCTAssertEqual(call.a.transport.state, .closed)
        let stats = call.a.transport.stats
        XCTAssertEqual(stats.sendsRefused, 3)
        XCTAssertEqual(stats.packetsSent, 1)
    }

    func testWrongRemotePasswordNeverConnectsAndFailsWithinTheConnectTimeout() throws {
        let configuration = IceCall.loopbackConfiguration(connectTimeout: .seconds(2))
        let call = try IceCall(configuration: configuration)
        defer { call.stop() }
        try call.start(remotePasswordForA: String(repeating: "x", count: 24))

        XCTAssertTrue(waitUntil(timeout: .seconds(6)) { call.a.transport.state.isFailed }, "A: \(call.a.transport.state)")
        XCTAssertFalse(call.a.log.states.contains(.connected))
        guard case let .failed(error) = call.a.transport.state else { return XCTFail("A did not fail") }
        XCTAssertTrue([.connectTimeout, .connectivityChecksFailed].contains(error.code), "\(error)")
        print("wrong password: A failed with \(error)")
        // Datagrams cannot be sent on a failed transport.
        XCTAssertFalse([UInt8](repeating: 0, count: 10).withUnsafeBytes { call.a.transport.send($0) })
    }

    func testMalformedAndUnsupportedCandidatesAndOneBeyondTheCapAreRefused() throws {
        var configuration = IceCall.loopbackConfiguration()
        configuration.maxRemoteCandidates = 2
        let loop = IceLoop()
        try loop.start()
        defer { loop.stop() }
        let peer = try IcePeer(loop: loop, configuration: configuration, controlling: true)
        let transport = peer.transport

        func code(_ line: String) -> IceError.Code? {
            do throws(IceError) {
                try transport.addRemoteCandidate(line)
                return nil
            } catch {
                return error.code
            }
        }
        XCTAssertEqual(code("garbage"), .malformedCandidate)
        XCTAssertEqual(code("a=candidate:1 1 UDP 2015363327 127.0.0.1 40000 typ host"), .malformedCandidate)
        XCTAssertEqual(code("candidate:1 1 UDP 2015363327 127.0.0.1 40000 typ host\r\n"), .malformedCandidate)
        XCTAssertEqual(code("candidate:1 1 UDP 2015363327 127.0.0.1"), .malformedCandidate)
        XCTAssertEqual(code("candidate:1 1 UDP 2015363327 127.0.0.1 70000 typ host"), .malformedCandidate)
        XCTAssertEqual(code("candidate:1 2 UDP 2015363327 127.0.0.1 40000 typ host"), .unsupportedCandidate)
        XCTAssertEqual(code("candidate:1 1 TCP 2015363327 127.0.0.1 40000 typ host tcptype passive"), .unsupportedCandidate)
        XCTAssertEqual(code("candidate:1 1 UDP 2015363327 4f1c9a7e-1c2d.local 40000 typ host"), .unsupportedCandidate)
        // Refusals do not use up the cap; two good candidates fill it, the third is refused.
        XCTAssertNil(code("candidate:1 1 UDP 2015363327 127.0.0.1 40000 typ host"))
        XCTAssertNil(code("candidate:2 1 UDP 2015363326 127.0.0.1 40001 typ host"))
        XCTAssertEqual(code("candidate:3 1 UDP 2015363325 127.0.0.1 40002 typ host"), .tooManyRemoteCandidates)
        transport.close()
        XCTAssertEqual(code("candidate:4 1 UDP 2015363325 127.0.0.1 40003 typ host"), .tooManyRemoteCandidates)
    }

    func testInvalidRemoteCredentialsAndRepeatedCallsAreRefused() throws {
        let loop = IceLoop()
        try loop.start()
        defer { loop.stop() }
        let transport = try IcePeer(loop: loop, configuration: IceCall.loopbackConfiguration(), controlling: false).transport
        func code(_ body: () throws(IceError) -> Void) -> IceError.Code? {
            do throws(IceError) { try body(); return nil } catch { return error.code }
        }
        XCTAssertEqual(code { () throws(IceError) in try transport.setRemoteCredentials(IceCredentials(usernameFragment: "abc", password: String(repeating: "p", count: 22))) },
                       .invalidCredentials)
        XCTAssertEqual(code { () throws(IceError) in try transport.setRemoteCredentials(IceCredentials(usernameFragment: "abcd", password: "short")) },
                       .invalidCredentials)
        XCTAssertEqual(code { () throws(IceError) in try transport.setRemoteCredentials(IceCredentials(usernameFragment: "ab d", password: String(repeating: "p", count: 22))) },
                       .invalidCredentials)
        XCTAssertNil(code { () throws(IceError) in try transport.setRemoteCredentials(IceCredentials(usernameFragment: "abcd", password: String(repeating: "p", count: 22))) })
        XCTAssertEqual(code { () throws(IceError) in try transport.setRemoteCredentials(IceCredentials(usernameFragment: "abcd", password: String(repeating: "p", count: 22))) },
                       .invalidState)
        XCTAssertNil(code { () throws(IceError) in try transport.gather() })
        XCTAssertEqual(code { () throws(IceError) in try transport.gather() }, .invalidState)
        transport.close()
        XCTAssertEqual(code { () throws(IceError) in try transport.gather() }, .closed)
        // Local credentials: RFC 8839 ice-chars, fresh per transport.
        let credentials = transport.localCredentials
        XCTAssertEqual(credentials.usernameFragment.utf8.count, IceConstants.localUsernameFragmentLength)
        XCTAssertEqual(credentials.password.utf8.count, IceConstants.localPasswordLength)
        let other = try IcePeer(loop: loop, configuration: IceCall.loopbackConfiguration(), controlling: false).transport
        XCTAssertNotEqual(other.localCredentials.password, credentials.password)
        XCTAssertFalse(credentials.description.contains(credentials.password))
        other.close()
    }

    func testCloseDuringConnectivityChecksStopsEveryCallbackAndFreesTheAgents() throws {
        let loop = IceLoop()
        try loop.start()
        defer { loop.stop() }
        for round in 0..<8 {
            let call = try IceCall(loop: loop)
            try call.start()
            // Close as soon as checks run (or a little later on odd rounds).
            waitUntil(timeout: .seconds(2)) { !call.a.log.localCandidates.isEmpty && !call.b.log.localCandidates.isEmpty }
            if round % 2 == 1 { usleep(useconds_t(1000 * round)) }
            call.a.transport.close()
            call.a.log.closed.store(true, ordering: .releasing)
            call.a.received.closed.store(true, ordering: .releasing)
            call.b.transport.close()
            call.b.log.closed.store(true, ordering: .releasing)
            call.b.received.closed.store(true, ordering: .releasing)
            call.close()
            // Let timers and sockets of the freed agents fire if anything were left.
            usleep(50_000)
            for peer in [call.a, call.b] {
                XCTAssertEqual(peer.log.eventsAfterClose.load(ordering: .relaxed), 0, "round \(round)")
                XCTAssertEqual(peer.received.afterClose.load(ordering: .relaxed), 0, "round \(round)")
                XCTAssertEqual(peer.transport.state, .closed)
            }
            XCTAssertEqual(loop.openTransports, 0)
        }
    }

    func testCloseFromInsideItsOwnEventCallbackIsSafe() throws {
        let loop = IceLoop()
        try loop.start()
        defer { loop.stop() }
        let holder = Mutex<IceTransport?>(nil)
        let eventsAfterClose = Atomic<Int>(0)
        let closedInCallback = Atomic<Bool>(false)
        let transport = try IceTransport(loop: loop, configuration: IceCall.loopbackConfiguration(), controlling: true,
                                         events: { event in
                                             if closedInCallback.load(ordering: .relaxed) { eventsAfterClose.add(1, ordering: .relaxed) }
                                             if case .localCandidate = event {
                                                 holder.withLock { $0 }?.close()
                                                 closedInCallback.store(true, ordering: .relaxed)
                                             }
                                         }, receive: { _ in })
        holder.withLock { $0 = transport }
        try transport.gather()
        waitUntil(timeout: .seconds(2)) { closedInCallback.load(ordering: .relaxed) }
        usleep(50_000)
        XCTAssertTrue(closedInCallback.load(ordering: .relaxed))
        XCTAssertEqual(eventsAfterClose.load(ordering: .relaxed), 0)
        XCTAssertEqual(transport.state, .closed)
        transport.close()
        XCTAssertEqual(loop.openTransports, 0)
    }

    func testLoopStopClosesOpenTransportsAndIsSafeBeforeStartAndTwice() throws {
        let never = IceLoop()
        never.stop()
        never.stop()
        XCTAssertThrowsError(try never.start())

        let call = try IceCall()
        try call.start()
        XCTAssertEqual(call.loop.openTransports, 2)
        call.loop.stop()
        XCTAssertEqual(call.a.transport.state, .closed)
        XCTAssertEqual(call.b.transport.state, .closed)
        XCTAssertEqual(call.loop.openTransports, 0)
        call.close()
        call.loop.stop()
        XCTAssertThrowsError(try IcePeer(loop: call.loop, configuration: IceCall.loopbackConfiguration(), controlling: true)) { error in
            XCTAssertEqual((error as? IceError)?.code, .loopNotRunning)
        }
    }

    func testInvalidConfigurationIsRefusedWithTheFieldNamed() throws {
        let loop = IceLoop()
        defer { loop.stop() }
        func refusal(_ change: (inout IceConfiguration) -> Void) -> String? {
            var configuration = IceConfiguration()
            change(&configuration)
            do throws(IceError) {
                try configuration.validate()
                return nil
            } catch {
                XCTAssertEqual(error.code, .invalidConfiguration)
                return error.message
            }
        }
        XCTAssertNil(refusal { _ in })
        XCTAssertTrue(refusal { $0.stunServer = IceServerAddress(host: "stun.example.org", port: 3478) }?.contains("stunServer") == true)
        XCTAssertTrue(refusal { $0.maxRemoteCandidates = IceConstants.maxRemoteCandidatesLimit + 1 }?.contains("maxRemoteCandidates") == true)
        XCTAssertTrue(refusal { $0.checkPacing = .zero }?.contains("checkPacing") == true)
        XCTAssertTrue(refusal { $0.connectTimeout = .milliseconds(10) }?.contains("connectTimeout") == true)
        XCTAssertTrue(refusal { $0.localAddresses = ["eth0"] }?.contains("localAddresses") == true)
        XCTAssertTrue(refusal { $0.relayOnly = true }?.contains("relayOnly") == true)
        let turn = TurnServer(address: IceServerAddress(host: "127.0.0.1", port: 3478), transport: .udp, username: "u", password: "secret-pw")
        XCTAssertFalse(turn.description.contains("secret-pw"))
        XCTAssertTrue(refusal { $0.turnServers = Array(repeating: turn, count: 9) }?.contains("TURN") == true)
    }
}
