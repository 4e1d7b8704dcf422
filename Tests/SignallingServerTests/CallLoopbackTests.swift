import Parley
import ParleyCrypto
import ParleyProtocol
import SignallingServer
import XCTest

/// Whole calls between two `ParleyClient`s on loopback: the real parley-signal over TLS,
/// real libnice, real UDP sockets, real keys. Timeouts here bound waits; nothing
/// asserts how long anything took.
final class CallLoopbackTests: CallTestCase {
    func testTwoClientsCallWithACodeExchangeMessagesAudioAndAFileAndHangUpErasesEveryKey() async throws {
        let alice = try await startClient()
        let bob = try await startClient()
        let baseline = SecretBytes.liveCount
        let (call, answered) = try await connectedCall(alice, bob, callerCode: "482-915", calleeCode: "482915")

        XCTAssertEqual(call.sas, answered.sas)
        XCTAssertNotNil(call.sas)
        XCTAssertEqual(call.path?.isRelayed, false, "loopback host candidates give a direct path")
        XCTAssertEqual(call.negotiatedMedia, answered.negotiatedMedia)
        XCTAssertNotNil(call.negotiatedMedia?.audio, "audio is agreed by default")
        XCTAssertGreaterThan(SecretBytes.liveCount, baseline)

        let received = DataCollector(answered.received())

        // 1000 messages, each delivered once, in order.
        let messages = (0..<1000).map { Array("message \($0)".utf8) }
        for message in messages { try call.send(message: message) }
        try await waitUntil("1000 messages arrived") { received.messageCount >= messages.count }
        XCTAssertEqual(received.messages, messages)

        // Audio: 50 frames per second for 5 s.
        let sentFrames = try await sendAudio(on: call, count: 250)
        try? await waitUntil("250 audio frames arrived", within: .seconds(2), failing: false) {
            received.mediaFrameCount >= sentFrames.count
        }
        let gotFrames = received.mediaFrames
        XCTAssertEqual(gotFrames.map(\.payload), sentFrames.map(\.payload), "no loss on loopback")
        XCTAssertEqual(gotFrames.map(\.timestamp), sentFrames.map(\.timestamp))

        // A 5 MB file, streamed, checked byte for byte (the channel checks its digest too).
        let file = Self.testFile(count: 5_000_000)
        let fileBytes = try await streamFile(file, on: call, to: received, name: "five.bin", within: .seconds(120))
        XCTAssertEqual(fileBytes.count, file.count)
        XCTAssertTrue(fileBytes == file, "the file arrived byte for byte")

        // Hang up: both sides end, every key of the call is gone.
        call.hangUp()
        XCTAssertEqual(call.end, .hungUpLocally)
        try await waitUntil("the callee sees the hang-up") { answered.end != nil }
        XCTAssertEqual(answered.end, .hungUpByPeer)
        XCTAssertEqual(SecretBytes.liveCount, baseline, "every secret of the call is erased on both sides")
    }

    /// A callee that does not read `received()` for a while loses no message: the data
    /// path stops taking received data from the reliable channel once 1 MiB waits for the
    /// reader, the channel's window holds the caller back (its sends end in
    /// `sendBufferFull`), and once the callee reads, every message arrives in order, once.
    /// Before flow control reached the application, the stream dropped what passed its
    /// 65 536-item bound and the caller never waited.
    func testACalleeThatReadsLateLosesNoMessageAndHoldsTheCallerBack() async throws {
        let alice = try await startClient()
        let bob = try await startClient()
        let (call, answered) = try await connectedCall(alice, bob, callerCode: nil, calleeCode: nil)
        let unread = answered.received()
        let total = 100_000
        func message(_ index: Int) -> [UInt8] {
            (0..<200).map { $0 < 4 ? UInt8(truncatingIfNeeded: index >> (8 * $0)) : UInt8(truncatingIfNeeded: index &+ $0) }
        }
        // Send until the caller has been refused for a whole second: nothing moves any more.
        var next = 0
        var refusedSince: ContinuousClock.Instant?
        while next < total {
            do throws(CallSendError) {
                try call.send(message: message(next))
                next += 1
                refusedSince = nil
            } catch {
                guard case .reliable(.sendBufferFull) = error else { throw error }
                let now = ContinuousClock.now
                if let since = refusedSince, now - since > .seconds(1) { break }
                if refusedSince == nil { refusedSince = now }
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        XCTAssertLessThan(next, total, "the caller was never held back")
        XCTAssertGreaterThan(next, 20_000, "the callee's window and buffer were used")
        XCTAssertEqual(answered.stats.droppedDeliveries, 0)

        let received = DataCollector(unread)
        while next < total {
            do throws(CallSendError) {
                try call.send(message: message(next))
                next += 1
            } catch {
                guard case .reliable(.sendBufferFull) = error else { throw error }
                try await Task.sleep(for: .milliseconds(1))
            }
        }
        try await waitUntil("every message arrived", within: .seconds(120)) { received.messageCount >= total }
        let messages = received.messages
        XCTAssertEqual(messages.count, total)
        XCTAssertTrue(messages == (0..<total).map(message), "every message once, in order")
        XCTAssertEqual(answered.stats.droppedDeliveries, 0)
        call.hangUp()
    }

    /// Consent on the sealed path keeps an idle call alive: with a 3 s consent timeout and
    /// nothing sent by the application for 6 s, each side's keepalives (one per second of
    /// silence) keep the other's consent fresh, and the call still carries a message after.
    func testAnIdleCallStaysUpOnKeepalivesLongerThanTheConsentTimeout() async throws {
        let shortConsent: (inout ParleyConfiguration) -> Void = { $0.callTimeouts.pathConsent = .seconds(3) }
        let alice = try await startClient(configure: shortConsent)
        let bob = try await startClient(configure: shortConsent)
        let (call, answered) = try await connectedCall(alice, bob, callerCode: nil, calleeCode: nil)
        let received = DataCollector(answered.received())
        let framesBefore = answered.stats.framesReceived

        try await Task.sleep(for: .seconds(6))
        XCTAssertEqual(call.state, .connected, "\(call.end.map { "\($0)" } ?? "")")
        XCTAssertEqual(answered.state, .connected, "\(answered.end.map { "\($0)" } ?? "")")
        XCTAssertGreaterThanOrEqual(answered.stats.framesReceived - framesBefore, 3,
                                    "the idle caller sent keepalives (about one per second)")
        XCTAssertEqual(answered.stats.refusedFrames, 0)
        XCTAssertTrue(received.messages.isEmpty, "keepalives are not delivered to the application")

        try call.send(message: Array("still here".utf8))
        try await waitUntil("the message after the idle period arrived") { received.messageCount > 0 }
        XCTAssertEqual(received.messages, [Array("still here".utf8)])
        call.hangUp()
    }

    func testAWrongCodeFailsBothClientsWithSecurityCodeMismatch() async throws {
        let alice = try await startClient()
        let bob = try await startClient()
        let baseline = SecretBytes.liveCount
        let incoming = try await nextIncomingCall(on: bob) { try? $0.accept(securityCode: "111111") }
        let call = try alice.call(bob.deviceID, securityCode: "222222")
        do {
            try await call.connected()
            XCTFail("a wrong code must not connect")
        } catch {
            XCTAssertEqual(error, .securityCodeMismatch)
        }
        let incomingCall = await incoming.value
        let answered = try XCTUnwrap(incomingCall)
        try await waitUntil("the callee fails too") { answered.end != nil }
        XCTAssertEqual(answered.end, .failed(.securityCodeMismatch))
        XCTAssertNil(call.sas)
        XCTAssertEqual(SecretBytes.liveCount, baseline)
    }
}
