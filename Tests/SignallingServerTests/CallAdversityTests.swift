import Foundation
import Parley
import ParleyCrypto
import ParleyProtocol
import ParleyTesting
import SignallingServer
import Synchronization
import XCTest

/// Whole calls on loopback when things go wrong: a lossy, delaying UDP relay on the
/// direct path, a peer process killed mid-call, the signalling server restarted mid-call,
/// and calls that fail (wrong code through the relay, rejected, busy, unavailable). Each
/// asserts what the application sees and that no key of the call is left. Waits have
/// generous limits; the figures printed are for reading, never asserted.
final class CallAdversityTests: CallTestCase {
    private var relays: [UDPRelay] = []
    private var peers: [PeerProcess] = []

    override func tearDown() {
        peers.forEach { $0.terminate() }
        peers = []
        super.tearDown()
        relays.forEach { $0.stop() }
        relays = []
    }

    /// A relay between two clients, stopped in tearDown (after the clients).
    private func startRelay(_ link: UDPRelay.Link) throws -> UDPRelay {
        let relay = try UDPRelay(link: link)
        relays.append(relay)
        return relay
    }

    /// Two clients whose calls cross `relay`: the first is side A, the second side B.
    private func clientsThrough(_ relay: UDPRelay) async throws -> (ParleyClient, ParleyClient) {
        let alice = try await startClient { $0.localCandidateRewrite = RelaySide.a.candidateRewrite(through: relay) }
        let bob = try await startClient { $0.localCandidateRewrite = RelaySide.b.candidateRewrite(through: relay) }
        return (alice, bob)
    }

    // MARK: Loss on the direct path

    func testMessagesAudioAndAFileSurviveThreePercentLossEachWayAndHangUpErasesEveryKey() async throws {
        let relay = try startRelay(UDPRelay.Link(oneWayDelay: .milliseconds(5), lossRate: 0.03, seed: 2024))
        let (alice, bob) = try await clientsThrough(relay)
        let baseline = SecretBytes.liveCount
        let (call, answered) = try await connectedCall(alice, bob, callerCode: "482-915", calleeCode: "482915")
        XCTAssertEqual(call.path?.remote.port, relay.portA, "the caller talks to the relay, not to the callee")
        XCTAssertEqual(answered.path?.remote.port, relay.portB, "the callee talks to the relay, not to the caller")
        let received = DataCollector(answered.received())

        // 1000 messages: each delivered once, in order, despite the loss.
        let messages = (0..<1000).map { Array("message \($0)".utf8) }
        for message in messages { try call.send(message: message) }
        try await waitUntil("1000 messages arrived", within: .seconds(30)) { received.messageCount >= messages.count }
        XCTAssertEqual(received.messages, messages)

        // Audio, 50 frames per second for 5 s: what arrives was sent, in order, at most once; most arrives.
        let sentFrames = try await sendAudio(on: call, count: 250)
        try? await waitUntil("the audio frames settled", within: .seconds(2), failing: false) {
            received.mediaFrameCount >= sentFrames.count
        }
        let gotFrames = received.mediaFrames
        XCTAssertTrue(zip(gotFrames, gotFrames.dropFirst()).allSatisfy { $0.sequence < $1.sequence }, "frame sequence numbers only increase")
        // The packetizer numbers the frames it sends (the application's carry 0): compare the rest.
        let gotContent = gotFrames.map { frame in var frame = frame; frame.sequence = 0; return frame }
        XCTAssertTrue(isOrderedSubset(gotContent, of: sentFrames), "audio frames arrive in order, each at most once, intact")
        XCTAssertGreaterThanOrEqual(gotFrames.count, sentFrames.count * 8 / 10, "most audio frames arrive through 3 % loss")

        // A 5 MB file arrives byte for byte.
        let started = ContinuousClock.now
        let file = Self.testFile(count: 5_000_000)
        let fileBytes = try await streamFile(file, on: call, to: received, name: "lossy.bin", within: .seconds(120))
        let fileTime = ContinuousClock.now - started
        XCTAssertEqual(fileBytes.count, file.count)
        XCTAssertTrue(fileBytes == file, "the file arrived byte for byte")

        let stats = relay.stats
        let reliable = call.stats.reliable
        print("through 3 % loss each way, 5 ms one way: audio \(gotFrames.count)/\(sentFrames.count); 5 MB file in \(fileTime); "
            + "relay lost \(stats.lost.aToB) of \(stats.received.aToB) A→B, \(stats.lost.bToA) of \(stats.received.bToA) B→A; "
            + "caller's reliable channel: \(reliable.map { "\($0)" } ?? "-")")
        XCTAssertGreaterThan(stats.lost.aToB, 0, "the relay dropped caller-to-callee packets")
        XCTAssertGreaterThan(stats.lost.bToA, 0, "the relay dropped callee-to-caller packets")

        call.hangUp()
        XCTAssertEqual(call.end, .hungUpLocally)
        try await waitUntil("the callee sees the hang-up") { answered.end != nil }
        XCTAssertEqual(answered.end, .hungUpByPeer)
        XCTAssertEqual(SecretBytes.liveCount, baseline, "every secret of the call is erased on both sides")
    }

    // MARK: A peer that dies

    /// Consent on the sealed path: no frame from the killed peer opens for the consent
    /// timeout (10 s here, the shortest production value), so the call ends.
    func testACallWhosePeerProcessIsKilledEndsWithConnectionLostAndErasesItsKeys() async throws {
        let alice = try await startClient { $0.callTimeouts.pathConsent = CallSpec.minPathConsentTimeout }
        let baseline = SecretBytes.liveCount
        let peer = try PeerProcess(arguments: ["call-peer", "--url", "wss://127.0.0.1:\(fixture.port)/", "--pin", Hex.encode(fixture.pin),
                                               "--realm", "home", "--code", "482-915"])
        peers.append(peer)
        let deviceLine = try await peer.line(startingWith: "device ", within: .seconds(60))
        let peerID = try DeviceID(printable: String(deviceLine.dropFirst("device ".count)))

        let call = try alice.call(peerID, securityCode: "482915")
        try await call.connected()
        _ = try await peer.line(startingWith: "connected", within: .seconds(10))
        let received = DataCollector(call.received())
        try call.send(message: Array("are you there?".utf8))
        try await waitUntil("the peer echoed a message") { received.messageCount > 0 }
        XCTAssertEqual(received.messages, [Array("are you there?".utf8)], "the direct path worked before the kill")

        let killed = ContinuousClock.now
        peer.kill()
        try await waitUntil("the call ended", within: .seconds(40)) { call.end != nil }
        let detected = ContinuousClock.now - killed
        print("a killed peer ended the call \(detected) after SIGKILL")
        XCTAssertGreaterThanOrEqual(detected, CallSpec.minPathConsentTimeout - .seconds(1),
                                    "consent expired only after the timeout (the last frame may predate the kill by the keepalive interval)")
        XCTAssertEqual(call.end, .failed(.connectionLost))
        XCTAssertEqual(SecretBytes.liveCount, baseline, "every secret of the call is erased")
    }

    // MARK: The server restarts

    func testACallKeepsGoingAcrossASignallingServerRestart() async throws {
        let quickReconnect: (inout ParleyConfiguration) -> Void = {
            $0.signalling.reconnect = ReconnectPolicy(backoff: ReconnectBackoff(baseDelay: .milliseconds(100), maxDelay: .milliseconds(500)))
        }
        let alice = try await startClient(configure: quickReconnect)
        let bob = try await startClient(configure: quickReconnect)
        let baseline = SecretBytes.liveCount
        let (call, answered) = try await connectedCall(alice, bob, callerCode: nil, calleeCode: nil)
        let atBob = DataCollector(answered.received())
        let atAlice = DataCollector(call.received())
        let toBob = (0..<300).map { Array("to bob \($0)".utf8) }
        let toAlice = (0..<300).map { Array("to alice \($0)".utf8) }

        // Server down: both devices lose it; the call goes on over the direct path.
        let port = fixture.port
        let certificate = fixture.certificate
        fixture.stop()
        try await waitUntil("both devices lost the server") { !alice.connectionState.isOnline && !bob.connectionState.isOnline }
        for index in 0..<100 {
            try call.send(message: toBob[index])
            try answered.send(message: toAlice[index])
        }
        try await waitUntil("100 messages each way arrived while the server was down") {
            atBob.messageCount >= 100 && atAlice.messageCount >= 100
        }
        XCTAssertEqual(call.state, .connected)
        XCTAssertEqual(answered.state, .connected)

        // The same server comes back (same port, same certificate): the devices reconnect.
        fixture = try await restartedServer(port: port, certificate: certificate)
        try await waitUntil("both devices are online again", within: .seconds(20)) {
            alice.connectionState.isOnline && bob.connectionState.isOnline
        }
        try await waitUntil("each sees the other online") { alice.onlinePeers.contains(bob.deviceID) && bob.onlinePeers.contains(alice.deviceID) }
        for index in 100..<300 {
            try call.send(message: toBob[index])
            try answered.send(message: toAlice[index])
        }
        try await waitUntil("all 300 messages each way arrived") { atBob.messageCount >= 300 && atAlice.messageCount >= 300 }
        XCTAssertEqual(atBob.messages, toBob, "each message delivered once, in order, across the restart")
        XCTAssertEqual(atAlice.messages, toAlice, "each message delivered once, in order, across the restart")
        XCTAssertNil(call.end)
        XCTAssertNil(answered.end)

        // Hanging up still ends both sides (the sealed goodbye on the direct path) and erases every key.
        answered.hangUp()
        XCTAssertEqual(answered.end, .hungUpLocally)
        try await waitUntil("the caller sees the hang-up") { call.end != nil }
        XCTAssertEqual(call.end, .hungUpByPeer)
        XCTAssertEqual(SecretBytes.liveCount, baseline, "every secret of the call is erased on both sides")
    }

    /// A server on the port just freed, retried while the kernel still holds it.
    private func restartedServer(port: Int, certificate: ServerCertificate) async throws -> ServerFixture {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            do {
                return try ServerFixture(port: port, certificate: certificate)
            } catch where ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    // MARK: Calls that fail

    func testAWrongCodeThroughALossyRelayFailsBothSidesWithSecurityCodeMismatchAndLeavesNoKey() async throws {
        let relay = try startRelay(UDPRelay.Link(oneWayDelay: .milliseconds(5), lossRate: 0.05, seed: 99))
        let (alice, bob) = try await clientsThrough(relay)
        let baseline = SecretBytes.liveCount
        let incoming = try await nextIncomingCall(on: bob) { try? $0.accept(securityCode: "111-111") }
        let call = try alice.call(bob.deviceID, securityCode: "222-222")
        await assertFails(call, with: .securityCodeMismatch)
        let incomingCall = await incoming.value
        let answered = try XCTUnwrap(incomingCall)
        try await waitUntil("the callee fails too") { answered.end != nil }
        XCTAssertEqual(answered.end, .failed(.securityCodeMismatch))
        XCTAssertNil(call.sas)
        XCTAssertNil(call.path, "no direct path is opened without confirmed keys")
        XCTAssertEqual(SecretBytes.liveCount, baseline, "no key is left on either side")
    }

    func testARejectedCallFailsTheCallerWithRejectedAndLeavesNoKey() async throws {
        let alice = try await startClient()
        let bob = try await startClient()
        let baseline = SecretBytes.liveCount
        let incoming = try await nextIncomingCall(on: bob) { try? $0.reject() }
        let call = try alice.call(bob.deviceID, securityCode: "482-915")
        await assertFails(call, with: .rejected)
        let incomingCall = await incoming.value
        let answered = try XCTUnwrap(incomingCall)
        try await waitUntil("the callee's call ended") { answered.end != nil }
        XCTAssertEqual(answered.end, .hungUpLocally)
        XCTAssertEqual(SecretBytes.liveCount, baseline, "no key is left on either side")
    }

    func testCallingADeviceAlreadyInACallFailsWithBusyAndLeavesNoKey() async throws {
        let alice = try await startClient()
        let bob = try await startClient()
        let carol = try await startClient()
        let before = SecretBytes.liveCount
        let (bobsCall, carolsCall) = try await connectedCall(bob, carol, callerCode: nil, calleeCode: nil)
        let baseline = SecretBytes.liveCount

        let call = try alice.call(bob.deviceID, securityCode: "482-915")
        await assertFails(call, with: .busy)
        XCTAssertEqual(SecretBytes.liveCount, baseline, "the refused call left no key; only the ongoing call's remain")
        XCTAssertEqual(bobsCall.state, .connected, "the call in progress is untouched")
        XCTAssertEqual(carolsCall.state, .connected)

        bobsCall.hangUp()
        try await waitUntil("the other side of the ongoing call ended") { carolsCall.end != nil }
        XCTAssertEqual(SecretBytes.liveCount, before, "and hanging that up erased its keys")
    }

    func testCallingADeviceThatIsNotOnlineFailsWithPeerUnavailableAndLeavesNoKey() async throws {
        let alice = try await startClient()
        let baseline = SecretBytes.liveCount
        let call = try alice.call(DeviceIdentity().deviceID, securityCode: "482-915")
        await assertFails(call, with: .peerUnavailable)
        XCTAssertEqual(SecretBytes.liveCount, baseline)
    }

    /// `call.connected()` throws `error` and the call ends with it.
    private func assertFails(_ call: Call, with error: CallError, file: StaticString = #filePath, line: UInt = #line) async {
        do {
            try await call.connected()
            XCTFail("the call connected; expected \(error)", file: file, line: line)
        } catch let thrown {
            XCTAssertEqual(thrown, error, file: file, line: line)
        }
        XCTAssertEqual(call.end, .failed(error), file: file, line: line)
    }
}

/// `parley-bench` run as a child process (built beside `parley-signal`), its stdout
/// read line by line on a thread of its own; its stdin is held open until `terminate`.
private final class PeerProcess: @unchecked Sendable {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private let lines = Mutex<[String]>([])

    init(arguments: [String]) throws {
        let signal = try PackageLayout.parleySignal()
        let bench = URL(fileURLWithPath: signal).deletingLastPathComponent().appendingPathComponent("parley-bench").path
        guard FileManager.default.isExecutableFile(atPath: bench) else {
            XCTFail("parley-bench is not built beside \(signal); run `swift build --build-tests` first")
            throw CocoaError(.fileNoSuchFile)
        }
        process.executableURL = URL(fileURLWithPath: bench)
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        let reader = output.fileHandleForReading
        let thread = Thread { [weak self] in
            var pending = ""
            while true {
                let chunk = reader.availableData
                if chunk.isEmpty { return }
                pending += String(decoding: chunk, as: UTF8.self)
                while let newline = pending.firstIndex(of: "\n") {
                    let line = String(pending[..<newline])
                    pending = String(pending[pending.index(after: newline)...])
                    self?.lines.withLock { $0.append(line) }
                }
            }
        }
        thread.start()
    }

    /// The first line of stdout starting with `prefix`, waiting up to `limit` for it.
    func line(startingWith prefix: String, within limit: Duration) async throws -> String {
        let deadline = ContinuousClock.now + limit
        while true {
            if let line = lines.withLock({ $0.first { $0.hasPrefix(prefix) } }) { return line }
            guard process.isRunning else {
                XCTFail("parley-bench exited (status \(process.terminationStatus)) before printing '\(prefix)...'")
                throw CocoaError(.executableLoad)
            }
            guard ContinuousClock.now < deadline else {
                XCTFail("parley-bench printed no '\(prefix)...' line within \(limit); it printed \(lines.withLock { $0 })")
                throw CocoaError(.executableLoad)
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// SIGKILL: the process vanishes without closing anything cleanly.
    func kill() {
        guard process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Closes its stdin (it exits), then kills it if it is still there.
    func terminate() {
        try? input.fileHandleForWriting.close()
        let deadline = ContinuousClock.now + .seconds(5)
        while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
        kill()
    }
}
