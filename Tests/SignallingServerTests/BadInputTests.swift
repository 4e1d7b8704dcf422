import Dispatch
import Glibc
import ParleyCrypto
import ParleyProtocol
import SignallingCore
import SignallingServer
import XCTest

/// Hostile or broken input over real sockets (THREAT_MODEL.md 2b; PROTOCOL.md "Limits"):
/// each closes or answers only the offending connection. In every test a bystander device,
/// logged in from the start in a realm of its own, must still get a pong and place a call
/// at the end, and the server's rejection counters must show exactly the expected reasons.
final class BadInputTests: ServerTestCase {
    /// A device and the partner it calls to prove the server still serves it.
    struct Bystander {
        let device: LoggedInDevice
        let partner: LoggedInDevice
    }

    private var bystander: Bystander!
    private var fixture: ServerFixture!
    private var rejectionsBefore: [SignalErrorCode: Int] = [:]

    override func tearDown() {
        bystander = nil
        fixture = nil
        super.tearDown()
    }

    /// Starts a server with `configure` and logs the bystander and its partner in.
    func start(_ configure: (inout ServerOptions) -> Void = { _ in }) throws {
        fixture = try startServer(configure: configure)
        let device = try logIn(fixture, realm: "bystanders")
        let partner = try logIn(fixture, realm: "bystanders")
        try device.socket.expect(.presenceUpdate(device: partner.id, online: true))
        bystander = Bystander(device: device, partner: partner)
        rejectionsBefore = fixture.server.metricsSnapshot().statistics.rejectionsByReason
    }

    /// The bystander gets a pong and can place (and cancel) a call.
    func assertBystanderStillServed(file: StaticString = #filePath, line: UInt = #line) throws {
        let device = bystander.device, partner = bystander.partner
        try device.socket.expectNothingElseThenPong("the bystander still gets its pong", file: file, line: line)
        let callID = CallID.random(), payload = randomBytes(148)
        try device.socket.send(.invite(callee: partner.id, callID: callID, payload: payload))
        try partner.socket.expect(.incomingCall(caller: device.id, callID: callID, payload: payload), "the bystander can still call", file: file, line: line)
        try device.socket.expect(.ringing(callID: callID), file: file, line: line)
        try device.socket.send(.hangup(callID: callID))
        try partner.socket.expect(.callEnded(callID: callID, outcome: .cancelled), file: file, line: line)
    }

    /// The rejection counters grew by exactly `expected` since `start`.
    func assertRejections(_ expected: [SignalErrorCode: Int], file: StaticString = #filePath, line: UInt = #line) {
        let now = fixture.server.metricsSnapshot().statistics.rejectionsByReason
        var delta: [SignalErrorCode: Int] = [:]
        for (code, count) in now where count != rejectionsBefore[code, default: 0] { delta[code] = count - rejectionsBefore[code, default: 0] }
        XCTAssertEqual(delta, expected, "rejections by reason", file: file, line: line)
    }

    /// A logged-in attacker in realm "home".
    func attacker() throws -> RawWebSocket { try logIn(fixture).socket }

    /// Sends `bytes` as one binary message from a new logged-in attacker and expects the
    /// refusal `code` with its close status.
    func expectRefused(_ bytes: [UInt8], _ code: SignalErrorCode, closeStatus: UInt16, _ what: String,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let socket = try attacker()
        try? socket.writeRaw(RawWebSocket.frame(opcode: 2, bytes))  // the server may close before a large frame is all written
        let before = try socket.expectRefusal(code, closeStatus: closeStatus, file: file, line: line)
        XCTAssertEqual(before, [], what, file: file, line: line)
    }

    // MARK: Undecodable messages

    func testTruncatedEnvelopesAreMalformedAndClosed() throws {
        try start()
        let ping = try SignalCodec.encode(.ping(42))
        try expectRefused(Array(ping.dropLast()), .malformed, closeStatus: 4001, "ping cut short")
        let invite = try SignalCodec.encode(.invite(callee: bystander.device.id, callID: CallID.random(), payload: randomBytes(148)))
        try expectRefused(Array(invite.prefix(invite.count - 20)), .malformed, closeStatus: 4001, "payload shorter than its length")
        try expectRefused([SignalLimits.version], .malformed, closeStatus: 4001, "no type byte")
        try expectRefused([], .malformed, closeStatus: 4001, "empty message")
        try expectRefused(ping + [0], .malformed, closeStatus: 4001, "a byte after the body")
        assertRejections([.malformed: 5])
        try assertBystanderStillServed()
    }

    func testUnknownMessageTypeIsMalformedAndClosed() throws {
        try start()
        try expectRefused([SignalLimits.version, 0x55, 0, 0, 0, 0, 0, 0, 0, 0], .malformed, closeStatus: 4001, "type 0x55")
        try expectRefused([SignalLimits.version, 0x00], .malformed, closeStatus: 4001, "type 0x00")
        assertRejections([.malformed: 2])
        try assertBystanderStillServed()
    }

    func testWrongVersionIsUnsupportedVersionAndClosed() throws {
        try start()
        var ping = try SignalCodec.encode(.ping(1))
        ping[0] = 2
        try expectRefused(ping, .unsupportedVersion, closeStatus: 4002, "version 2")
        try expectRefused([0x00], .unsupportedVersion, closeStatus: 4002, "version 0, nothing else")
        assertRejections([.unsupportedVersion: 2])
        try assertBystanderStillServed()
    }

    func testOversizeSingleFrameIsTooLargeAndClosed() throws {
        try start()
        // The largest valid message passes (it names no call: unknownCall, connection open).
        let largest = try attacker()
        try largest.send(.signal(callID: CallID.random(), payload: randomBytes(SignalLimits.maxSignalPayloadBytes)))
        try largest.expectError(.unknownCall)
        try largest.expectNothingElseThenPong()

        try expectRefused([SignalLimits.version, SignalType.signal.rawValue] + randomBytes(SignalLimits.maxMessageBytes - 1),
                          .messageTooLarge, closeStatus: 4004, "one byte over the limit")
        try expectRefused(randomBytes(256 << 10), .messageTooLarge, closeStatus: 4004, "a 256 KiB frame")
        assertRejections([.messageTooLarge: 2])
        try assertBystanderStillServed()
    }

    func testOversizeMessageAcrossFragmentsIsTooLargeAndClosed() throws {
        try start()
        let socket = try attacker()
        // Nine fragments of 4000 bytes: each is small, the message is 36 000 bytes.
        var frames: [UInt8] = []
        for index in 0..<9 {
            frames += RawWebSocket.frame(opcode: index == 0 ? 2 : 0, randomBytes(4000), fin: index == 8)
        }
        try? socket.writeRaw(frames)  // the server may close before the last fragment
        XCTAssertEqual(try socket.expectRefusal(.messageTooLarge, closeStatus: 4004), [])
        assertRejections([.messageTooLarge: 1])
        try assertBystanderStillServed()
    }

    func testFragmentFloodIsMalformedAndClosed() throws {
        try start()
        let socket = try attacker()
        var frames = RawWebSocket.frame(opcode: 2, [SignalLimits.version], fin: false)
        for index in 0..<300 { frames += RawWebSocket.frame(opcode: 0, [0x40], fin: index == 299) }
        try? socket.writeRaw(frames)
        XCTAssertEqual(try socket.expectRefusal(.malformed, closeStatus: 4001), [])

        // Control: a valid message in a few fragments is fine.
        let fragmented = try attacker()
        let ping = try SignalCodec.encode(.ping(9))
        try fragmented.writeRaw(RawWebSocket.frame(opcode: 2, Array(ping[..<3]), fin: false)
                                + RawWebSocket.frame(opcode: 0, Array(ping[3..<6]), fin: false)
                                + RawWebSocket.frame(opcode: 0, Array(ping[6...]), fin: true))
        try fragmented.expect(.pong(9))
        assertRejections([.malformed: 1])
        try assertBystanderStillServed()
    }

    /// The fragment cap is about WebSocket fragments; how TLS happens to cut a message into
    /// records is not the sender's choice at the WebSocket layer (a proxy or a client writing
    /// small records), so a valid message in one frame must pass however many records it took.
    func testValidLargestMessageInOneFrameSentAsManySmallTLSRecordsIsAccepted() throws {
        try start()
        let socket = try attacker()
        let frame = RawWebSocket.frame(opcode: 2, try SignalCodec.encode(.signal(callID: CallID.random(),
                                                                                payload: randomBytes(SignalLimits.maxSignalPayloadBytes))))
        // Each write is one TLS record: 100 bytes each, 329 records for one WebSocket frame.
        for start in stride(from: 0, to: frame.count, by: 100) {
            guard (try? socket.writeRaw(Array(frame[start..<min(frame.count, start + 100)]))) != nil else { break }
        }
        let reply = try socket.nextMessage()
        guard case .error(.unknownCall, _) = reply else {
            return XCTFail("a valid \(SignalLimits.maxMessageBytes)-byte message in one WebSocket frame, sent as 100-byte TLS records, "
                           + "was refused instead of judged (error(unknownCall) expected): \(reply)")
        }
        try socket.expectNothingElseThenPong("still open")
        assertRejections([:])
        try assertBystanderStillServed()
    }

    func testTextFrameIsMalformedAndClosed() throws {
        try start()
        let socket = try attacker()
        try socket.writeRaw(RawWebSocket.frame(opcode: 1, Array("{\"type\":\"ping\"}".utf8)))
        XCTAssertEqual(try socket.expectRefusal(.malformed, closeStatus: 4001), [])
        assertRejections([.malformed: 1])
        try assertBystanderStillServed()
    }

    // MARK: Well-formed messages that are not allowed

    func testInviteToSelfIsInvalidTargetAndTheConnectionStaysOpen() throws {
        try start()
        let device = try logIn(fixture)
        try device.socket.send(.invite(callee: device.id, callID: CallID.random(), payload: randomBytes(148)))
        try device.socket.expectError(.invalidTarget)
        try device.socket.expectNothingElseThenPong("still open")
        assertRejections([:])
        try assertBystanderStillServed()
    }

    func testInviteToAnUnknownDeviceEndsUnavailable() throws {
        try start()
        let socket = try attacker()
        let callID = CallID.random()
        try socket.send(.invite(callee: DeviceID.random(), callID: callID, payload: randomBytes(148)))
        try socket.expect(.callEnded(callID: callID, outcome: .unavailable))
        try socket.expectNothingElseThenPong("still open")
        assertRejections([:])
        try assertBystanderStillServed()
    }

    func testSignalAndHangupForACallTheSenderIsNotInAreUnknownCallAndTheConnectionStaysOpen() throws {
        try start()
        // The bystander's own call is the target.
        let callID = CallID.random()
        try bystander.device.socket.send(.invite(callee: bystander.partner.id, callID: callID, payload: randomBytes(148)))
        // ringing goes out after incomingCall: once the caller has it, the callee's is queued
        // (messages on two connections have no order between them).
        try bystander.device.socket.expect(.ringing(callID: callID))
        guard case .incomingCall = try bystander.partner.socket.nextMessage() else { return XCTFail("no incoming call") }
        try bystander.partner.socket.send(.accept(callID: callID, payload: randomBytes(148)))
        guard case .accept = try bystander.device.socket.nextMessage() else { return XCTFail("no accept") }

        let intruder = try attacker()
        for message: SignalMessage in [.signal(callID: callID, payload: randomBytes(300)), .hangup(callID: callID),
                                       .signal(callID: CallID.random(), payload: [1]), .hangup(callID: CallID.random())] {
            try intruder.send(message)
            try intruder.expectError(.unknownCall)
        }
        try intruder.expectNothingElseThenPong("still open")
        try bystander.partner.socket.expectNothingElseThenPong("nothing reached the call")
        try bystander.device.socket.send(.signal(callID: callID, payload: [7]))
        try bystander.partner.socket.expect(.signal(callID: callID, payload: [7]), "the call is intact")
        try bystander.device.socket.send(.hangup(callID: callID))
        try bystander.partner.socket.expect(.callEnded(callID: callID, outcome: .hungUp))
        assertRejections([:])
        try assertBystanderStillServed()
    }

    /// PROTOCOL.md "Limits": "a server-to-device message type sent by a device:
    /// error(unexpectedMessage), close" — every S→C type of the message table.
    func testEveryServerToDeviceMessageTypeFromADeviceIsUnexpectedAndClosed() throws {
        try start()
        let someone = DeviceID.random(), callID = CallID.random()
        let serverOnly: [SignalMessage] = [
            .challenge(Challenge(nonce: randomBytes(32), maxMessageBytes: 1000, pingIntervalSeconds: 25)),
            .welcome(Welcome(deviceID: someone, realm: "home")),
            .presenceSnapshot([someone]),
            .presenceUpdate(device: someone, online: true),
            .incomingCall(caller: someone, callID: callID, payload: [1]),
            .ringing(callID: callID),
            .callEnded(callID: callID, outcome: .hungUp),
            .pong(5),
            .error(code: .malformed, message: "x"),
        ]
        XCTAssertEqual(Set(serverOnly.map(\.type)), Set(SignalType.allCases.filter { $0.sender == .server }), "every S→C type")
        for message in serverOnly {
            let socket = try attacker()
            try socket.send(message)
            // A ping right after: its pong coming first means the type was accepted.
            try? socket.send(.ping(77))
            let first = try socket.nextMessage()
            guard case let .error(code, _) = first else {
                XCTFail("\(message.type) from a device was accepted: the next message was \(first), not error(unexpectedMessage)")
                continue
            }
            XCTAssertEqual(code, .unexpectedMessage, "\(message.type) from a device")
            let (rest, close) = try socket.drainUntilClosed()
            XCTAssertEqual(rest, [], "\(message.type) from a device: nothing after the error")
            XCTAssertEqual(close, .close(4003), "\(message.type) from a device closes the connection with 4003")
        }
        assertRejections([.unexpectedMessage: serverOnly.count])
        try assertBystanderStillServed()
    }

    // MARK: Floods

    func testFloodPastTheRateLimitClosesOnlyTheFlooder() throws {
        // Slow refills (1 message/s, 64 bytes/s) make the number served exactly the burst.
        try start { options in
            options.core.messagesPerSecond = 1
            options.core.messageBurst = 10
            options.core.bytesPerSecond = 64
            options.core.byteBurst = 16 * 1024
        }
        // Messages: 30 pings at once against a burst of 10 (the auth took one).
        let pinger = try attacker()
        var pings: [UInt8] = []
        for value in 0..<30 { pings += RawWebSocket.frame(opcode: 2, try SignalCodec.encode(.ping(UInt64(value)))) }
        try? pinger.writeRaw(pings)
        let served = try pinger.expectRefusal(.rateLimited, closeStatus: 4010)
        XCTAssertEqual(served, (0..<9).map { .pong(UInt64($0)) }, "the burst less the auth was served, in order")

        // Bytes: 4 KiB signals against a burst of 16 KiB (few messages, many bytes).
        let sender = try attacker()
        var signals: [UInt8] = []
        for _ in 0..<8 { signals += RawWebSocket.frame(opcode: 2, try SignalCodec.encode(.signal(callID: CallID.random(), payload: randomBytes(4096)))) }
        try? sender.writeRaw(signals)
        let answered = try sender.expectRefusal(.rateLimited, closeStatus: 4010)
        // 16 384 bytes of burst: the 104-byte auth, then three 4116-byte signals (unknownCall each).
        XCTAssertEqual(answered.count, 3, "16 KiB of burst holds three 4 KiB signals after the auth: \(answered)")
        XCTAssertTrue(answered.allSatisfy { if case .error(.unknownCall, _) = $0 { return true } else { return false } })

        assertRejections([.rateLimited: 2])
        try assertBystanderStillServed()
    }

    func testConnectionFloodGetsServerFullThenIsRefusedBeforeTLSAndRecovers() throws {
        try start { options in
            options.core.maxConnections = 4
            options.refusalHeadroom = 2
        }
        let server = fixture.server
        // Two more WebSocket connections fill the server (the bystander holds two).
        let fillers = try (0..<2).map { _ in try connectAndReadChallenge(fixture).0 }
        // Past maxConnections, within the headroom: a WebSocket with error(serverFull).
        for _ in 0..<2 {
            let extra = try connect(fixture)
            try extra.upgrade(port: fixture.port)
            XCTAssertEqual(try extra.expectRefusal(.serverFull, closeStatus: 4012), [], "no challenge, only the refusal")
            extra.cutConnection()  // as a client does after the close frame
        }
        waitUntil("the refused sockets are gone") { server.metricsSnapshot().sockets == 4 }
        // Sockets that never upgrade fill the headroom...
        let holders = try (0..<2).map { _ in try connect(fixture) }
        waitUntil("the holders are counted") { server.metricsSnapshot().sockets == 6 }
        // ...and the next TCP connection is closed before TLS.
        let refusedBefore = server.metricsSnapshot().socketsRefused
        XCTAssertThrowsError(try RawWebSocket(port: fixture.port), "the TLS handshake fails: the server closed the socket")
        XCTAssertEqual(server.metricsSnapshot().socketsRefused, refusedBefore + 1)
        try assertBystanderStillServed()

        for socket in fillers + holders { socket.cutConnection() }
        waitUntil("the flood has left") { server.metricsSnapshot().sockets == 2 && server.metricsSnapshot().connections == 2 }
        let newcomer = try logIn(fixture)
        try newcomer.socket.expectNothingElseThenPong("new logins succeed again")
        assertRejections([.serverFull: 2])
        try assertBystanderStillServed()
    }

    func testSlowReaderIsClosedWhenItsSendQueueOverflowsAndTheSenderIsUnaffected() throws {
        try start { options in
            options.core.maxSendQueueBytes = 64 * 1024
            // The sender must be able to outrun the kernel's socket buffers without being rate limited.
            options.core.messagesPerSecond = 100_000
            options.core.messageBurst = 100_000
            options.core.bytesPerSecond = 1e9
            options.core.byteBurst = 1e9
        }
        let sender = try logIn(fixture)
        let victim = try logIn(fixture)
        var small: Int32 = 4096
        setsockopt(victim.socket.fileDescriptor, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        try sender.socket.expect(.presenceUpdate(device: victim.id, online: true))
        let callID = CallID.random()
        try sender.socket.send(.invite(callee: victim.id, callID: callID, payload: randomBytes(148)))
        guard case .incomingCall = try victim.socket.nextMessage() else { return XCTFail("no incoming call") }
        try victim.socket.send(.accept(callID: callID, payload: randomBytes(148)))
        try sender.socket.expect(.ringing(callID: callID))
        guard case .accept = try sender.socket.nextMessage() else { return XCTFail("no accept") }

        // The victim stops reading; the sender relays until the server gives up on the victim.
        let payload = randomBytes(SignalLimits.maxSignalPayloadBytes)
        let signal = RawWebSocket.frame(opcode: 2, try SignalCodec.encode(.signal(callID: callID, payload: payload)))
        var ended = false
        var sentBytes = 0
        while !ended && sentBytes < 256 << 20 {
            try sender.socket.writeRaw(signal)
            sentBytes += signal.count
            if case let .message(bytes) = try sender.socket.next(timeoutMilliseconds: 0) {
                XCTAssertEqual(try SignalCodec.decode(bytes), .callEnded(callID: callID, outcome: .peerGone))
                ended = true
            }
        }
        XCTAssertTrue(ended, "the slow reader was dropped after \(sentBytes) bytes")

        // The victim, reading at last, finds the relayed signals, then the refusal.
        let received = try victim.socket.expectRefusal(.sendQueueFull, closeStatus: 4011)
        XCTAssertTrue(received.allSatisfy { $0 == .signal(callID: callID, payload: payload) })
        // The sender is unaffected: it sees the victim leave, and signals it sent after the
        // call ended are unknownCall.
        try sender.socket.send(.ping(99))
        var sawOffline = false
        while true {
            let message = try sender.socket.nextMessage()
            if message == .pong(99) { break }
            if message == .presenceUpdate(device: victim.id, online: false), !sawOffline { sawOffline = true; continue }
            guard case .error(.unknownCall, _) = message else { return XCTFail("unexpected \(message) to the sender") }
        }
        XCTAssertTrue(sawOffline)
        try sender.socket.expectNothingElseThenPong()
        XCTAssertEqual(fixture.server.metricsSnapshot().queueDrops, 1)
        assertRejections([.sendQueueFull: 1])
        try assertBystanderStillServed()
    }

    func testSilentDeviceIsClosedAfterTheIdleTimeoutWhileAPingingOneStays() throws {
        // The idle timeout is at least the handshake timeout here (see
        // testIdleTimeoutShorterThanTheHandshakeTimeoutIsHonoured for the other case).
        try start { options in
            options.core.handshakeTimeout = .seconds(1)
            options.core.idleTimeout = .seconds(2)
        }
        let silent = try attacker()
        // The bystander pings every 300 ms while the silent device waits (time is the subject).
        var outcome: RawWebSocket.Event = .timeout
        for _ in 0..<40 {
            outcome = try silent.next(timeoutMilliseconds: 300)
            guard outcome == .timeout else { break }
            try bystander.device.socket.expectNothingElseThenPong("pings keep the bystander alive")
            try bystander.partner.socket.expectNothingElseThenPong("pings keep the partner alive")
        }
        guard case let .message(bytes) = outcome, case let .error(code, _) = try SignalCodec.decode(bytes) else {
            return XCTFail("expected error(idleTimeout), got \(outcome)")
        }
        XCTAssertEqual(code, .idleTimeout)
        XCTAssertEqual(try silent.next(), .close(4014))
        assertRejections([.idleTimeout: 1])
        try assertBystanderStillServed()
    }

    /// PROTOCOL.md "Limits": idle (nothing received) for `idleTimeout` closes the connection,
    /// whatever the handshake timeout is.
    func testIdleTimeoutShorterThanTheHandshakeTimeoutIsHonoured() throws {
        // No bystander here: with this configuration every silent device is closed after 1 s.
        let fixture = try startServer { options in
            options.core.handshakeTimeout = .seconds(6)
            options.core.idleTimeout = .seconds(1)
            options.core.pingIntervalSeconds = 1
        }
        let silent = try logIn(fixture).socket
        // Bound well under the 6 s handshake timeout: 1 s of silence must be enough.
        let outcome = try silent.next(timeoutMilliseconds: 4_000)
        var code: SignalErrorCode?
        if case let .message(bytes) = outcome, case let .error(received, _) = try SignalCodec.decode(bytes) { code = received }
        XCTAssertEqual(code, .idleTimeout, "error(idleTimeout) within 4 s of silence with idleTimeout = 1 s (got \(outcome))")
    }

    // MARK: Slow and broken handshakes

    /// The first bytes of a TLS 1.2+ ClientHello record (type 22, version 3.1, length 512).
    static let clientHelloStart: [UInt8] = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03] + randomBytes(32) + [0x20] + randomBytes(32)

    func testTLSHandshakeDrippedByteByByteIsDroppedAfterTheHandshakeTimeout() throws {
        try start { $0.core.handshakeTimeout = .seconds(1) }
        let slow = keep(try RawWebSocket(port: fixture.port, tls: false))
        var dropped = false
        for (index, byte) in Self.clientHelloStart.enumerated() {
            guard (try? slow.writeRaw([byte])) != nil else { dropped = true; break }
            // One byte every 100 ms (the read timeout paces the drip).
            if case .ended = slow.readRaw(timeoutMilliseconds: 100) { dropped = true; break }
            if index % 5 == 4 { try bystander.device.socket.expectNothingElseThenPong("the bystander works during the drip") }
        }
        XCTAssertTrue(dropped, "the server dropped the socket before the ClientHello was complete")
        waitUntil("the socket is gone") { fixture.server.metricsSnapshot().sockets == 2 }
        assertRejections([:])
        try assertBystanderStillServed()
    }

    func testWebSocketUpgradeDrippedByteByByteAfterTLSIsDroppedAfterTheHandshakeTimeout() throws {
        try start { $0.core.handshakeTimeout = .seconds(1) }
        let slow = try connect(fixture)
        let request = RawWebSocket.upgradeRequest(port: fixture.port)
        var dropped = false
        for (index, byte) in request.enumerated() {
            guard (try? slow.writeRaw([byte])) != nil else { dropped = true; break }
            if case .ended = slow.readRaw(timeoutMilliseconds: 100) { dropped = true; break }
            if index % 5 == 4 { try bystander.device.socket.expectNothingElseThenPong("the bystander works during the drip") }
        }
        XCTAssertTrue(dropped, "the server dropped the socket before the upgrade request was complete")
        waitUntil("the socket is gone") { fixture.server.metricsSnapshot().sockets == 2 }
        assertRejections([:])
        try assertBystanderStillServed()
    }

    func testGarbageInsteadOfAClientHelloIsDropped() throws {
        try start()
        let socket = keep(try RawWebSocket(port: fixture.port, tls: false))
        var garbage = randomBytes(512)
        garbage[0] = 0x47  // not a TLS handshake record
        try? socket.writeRaw(garbage)
        XCTAssertTrue(socket.waitUntilDropped(seconds: 10), "the server closes a socket that does not speak TLS")
        let plain = keep(try RawWebSocket(port: fixture.port, tls: false))
        try? plain.writeRaw(RawWebSocket.upgradeRequest(port: fixture.port))
        XCTAssertTrue(plain.waitUntilDropped(seconds: 10), "nor a plain-text WebSocket upgrade")
        waitUntil("the sockets are gone") { fixture.server.metricsSnapshot().sockets == 2 }
        assertRejections([:])
        try assertBystanderStillServed()
    }

    func testPlainHTTPRequestOnTheWebSocketPortIsNotUpgraded() throws {
        try start()
        let socket = try connect(fixture)
        try socket.writeRaw(Array("GET / HTTP/1.1\r\nHost: 127.0.0.1:\(fixture.port)\r\nConnection: keep-alive\r\n\r\n".utf8))
        var response: [UInt8] = []
        while response.firstRange(of: [13, 10]) == nil, case let .bytes(bytes) = socket.readRaw(timeoutMilliseconds: 5000) {
            response += bytes
        }
        let statusLine = String(decoding: response.prefix { $0 != 13 }, as: UTF8.self)
        XCTAssertTrue(statusLine.hasPrefix("HTTP/1.1 "), "an HTTP answer: \(statusLine)")
        XCTAssertFalse(statusLine.contains(" 101 "), "not upgraded: \(statusLine)")
        XCTAssertTrue(statusLine.contains(" 426 "), "426 Upgrade Required: \(statusLine)")
        assertRejections([:])
        try assertBystanderStillServed()
    }

    // MARK: Memory

    /// Resident memory of this process (server and test clients) in bytes.
    static func residentBytes() -> Int {
        guard let file = fopen("/proc/self/status", "r") else { return 0 }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(cString: line)
            if text.hasPrefix("VmRSS:") {
                return (Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
            }
        }
        return 0
    }

    func testRepeatedAttacksKeepMemoryBounded() throws {
        try start()
        let server = fixture.server
        // Warm up allocator pools and lws's per-thread buffers before the baseline.
        for round in 0..<30 { try attackRound(round) }
        waitUntil("the warm-up has left") { server.metricsSnapshot().sockets == 2 }
        let before = Self.residentBytes()
        for round in 0..<300 { try attackRound(round) }
        waitUntil("the attackers have left") { server.metricsSnapshot().sockets == 2 && server.metricsSnapshot().connections == 2 }
        let after = Self.residentBytes()
        XCTAssertGreaterThan(before, 0)
        XCTAssertLessThan(after - before, 64 << 20, "resident memory grew from \(before >> 20) MiB to \(after >> 20) MiB over 300 attacks")
        XCTAssertEqual(server.metricsSnapshot().queuedBytes, 0)
        assertRejections([.messageTooLarge: 110, .malformed: 110])
        try assertBystanderStillServed()
    }

    /// The three attacks `testRepeatedAttacksKeepMemoryBounded` cycles through, built once.
    static let oversizeAcrossFragments: [UInt8] = (0..<9).flatMap { index in
        RawWebSocket.frame(opcode: index == 0 ? 2 : 0, randomBytes(4000), fin: index == 8)
    }
    static let fragmentFlood: [UInt8] = RawWebSocket.frame(opcode: 2, [SignalLimits.version], fin: false)
        + (0..<300).flatMap { index in RawWebSocket.frame(opcode: 0, [0x40], fin: index == 299) }
    static let mostOfALargeMessage = RawWebSocket.frame(opcode: 2, randomBytes(30_000), fin: false)

    /// One round of `testRepeatedAttacksKeepMemoryBounded`.
    func attackRound(_ round: Int) throws {
        // Not kept for tearDown: each attacker's socket is closed when the round ends.
        let socket = try RawWebSocket(port: fixture.port)
        try socket.upgrade(port: fixture.port)
        guard case .challenge = try socket.nextMessage() else { return XCTFail("no challenge") }
        switch round % 3 {
        case 0:
            try? socket.writeRaw(Self.oversizeAcrossFragments)
            try socket.expectRefusal(.messageTooLarge, closeStatus: 4004)
        case 1:
            try? socket.writeRaw(Self.fragmentFlood)
            try socket.expectRefusal(.malformed, closeStatus: 4001)
        default:  // the connection drops with a large message half received
            try socket.writeRaw(Self.mostOfALargeMessage)
        }
        socket.cutConnection()
    }
}
