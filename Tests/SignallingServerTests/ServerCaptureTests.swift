import ParleyCrypto
import ParleyProtocol
import SignallingServer
import Synchronization
import XCTest

/// Every whole message the server handled, in order (`SignallingServer.setCapture`).
private final class CaptureLog: Sendable {
    private let messages = Mutex<[CapturedMessage]>([])
    func record(_ message: CapturedMessage) { messages.withLock { $0.append(message) } }
    var bytes: [[UInt8]] { messages.withLock { $0.map(\.bytes) } }
}

/// THREAT_MODEL.md 2 ("What the server does learn"): a capture of everything the server
/// receives and sends during a real call holds the public handshake and ciphertext, and
/// none of the SDP, candidates, ICE credentials, security code, keys or SAS.
final class ServerCaptureTests: ServerTestCase {
    static let securityCode = "Quartz-Lantern 8841 Meadow"
    static let normalizedSecurityCode = "quartzlantern8841meadow"

    func testCaptureOfACallHoldsThePublicHandshakeAndNoSDPCandidateCodeKeyOrSAS() throws {
        let log = CaptureLog()
        let fixture = try startServer(capture: { log.record($0) })

        // Identities from seeds the test can read, to look for the secret keys.
        let callerSeed = SecretBytes(randomCount: 32), calleeSeed = SecretBytes(randomCount: 32)
        defer {
            callerSeed.erase()
            calleeSeed.erase()
        }
        let caller = try logIn(fixture, try DeviceIdentity(seed: callerSeed), realm: "room")
        let callee = try logIn(fixture, try DeviceIdentity(seed: calleeSeed), realm: "room")
        try caller.socket.expect(.presenceUpdate(device: callee.id, online: true))

        let call = try RelayedCall.run(caller: caller, callee: callee, callerCode: Self.securityCode, calleeCode: Self.securityCode)
        defer { call.erase() }
        XCTAssertEqual(call.callerKeys.sas, call.calleeKeys.sas)

        // The SDP exchange and trickled candidates of a call, sealed.
        let offer = SessionDescription(role: "actpass")
        let answer = SessionDescription(role: "active")
        let callerSealer = call.callerKeys.blobSealer, calleeSealer = call.calleeKeys.blobSealer
        try caller.socket.send(.signal(callID: call.callID, payload: try callerSealer.seal(kind: 1, content: Array(offer.text.utf8))))
        for candidate in offer.candidates {
            try caller.socket.send(.signal(callID: call.callID, payload: try callerSealer.seal(kind: 2, content: Array(candidate.utf8))))
        }
        try callee.socket.send(.signal(callID: call.callID, payload: try calleeSealer.seal(kind: 1, content: Array(answer.text.utf8))))
        for candidate in answer.candidates {
            try callee.socket.send(.signal(callID: call.callID, payload: try calleeSealer.seal(kind: 2, content: Array(candidate.utf8))))
        }
        // Each side opens what it got: this is a working call, not noise.
        for expected in [offer.text] + offer.candidates {
            guard case let .signal(_, wire) = try callee.socket.nextMessage() else { return XCTFail("blob to the callee") }
            XCTAssertEqual(try call.calleeKeys.blobOpener.open(wire).content, Array(expected.utf8))
        }
        for expected in [answer.text] + answer.candidates {
            guard case let .signal(_, wire) = try caller.socket.nextMessage() else { return XCTFail("blob to the caller") }
            XCTAssertEqual(try call.callerKeys.blobOpener.open(wire).content, Array(expected.utf8))
        }
        try caller.socket.send(.hangup(callID: call.callID))
        try callee.socket.expect(.callEnded(callID: call.callID, outcome: .hungUp))
        _ = fixture.server.metricsSnapshot()  // every message above has been handled (and captured)

        let secrets = try Secrets(offer: offer, answer: answer, call: call, seeds: [callerSeed, calleeSeed])
        let capture = log.bytes
        XCTAssertGreaterThan(capture.count, 20)
        XCTAssertGreaterThan(capture.reduce(0) { $0 + $1.count }, 4000)

        // Expected: the public CPace handshake messages travel through the server.
        for (index, message) in call.handshakeMessages.enumerated() {
            XCTAssertTrue(contains(capture, message), "handshake message \(index + 1) is in the capture")
        }

        XCTAssertEqual(secrets.found(in: capture), [], "the server saw none of the call's secrets")

        // Positive control: the same search finds each kind of secret once it is planted at
        // an odd offset in an unsealed payload (an invite's, as a leaky client would send).
        let planted = [0x55, 0x66, 0x77] + Array(offer.text.utf8.dropFirst(41).prefix(8))
            + Array(Self.normalizedSecurityCode.utf8) + Array(secrets.keys[3].bytes[5..<13]) + Array(call.callerKeys.sas.digits.utf8)
            + Array(offer.icePassword.utf8)
        let callID2 = CallID.random()
        try caller.socket.send(.invite(callee: callee.id, callID: callID2, payload: planted))
        try callee.socket.expect(.incomingCall(caller: caller.id, callID: callID2, payload: planted))
        let found = Set(secrets.found(in: log.bytes))
        for label in ["SDP window", "security code (normalized)", "key window", "SAS (ASCII digits)", "ICE password"] {
            XCTAssertTrue(found.contains { $0.hasPrefix(label) }, "the planted \(label) is found (found: \(found.sorted()))")
        }
    }

    func contains(_ capture: [[UInt8]], _ needle: [UInt8]) -> Bool {
        capture.contains { $0.firstRange(of: needle) != nil }
    }
}

/// An SDP offer or answer of a WebRTC audio call with fresh ICE credentials, DTLS
/// fingerprint and host/srflx candidates.
private struct SessionDescription {
    let iceUsernameFragment: String
    let icePassword: String
    let fingerprint: String
    let candidates: [String]
    let text: String

    init(role: String) {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/")
        // The alphabet is not empty, so randomElement() always returns a character.
        func token(_ count: Int) -> String { String((0..<count).map { _ in alphabet.randomElement()! }) }
        iceUsernameFragment = token(8)
        icePassword = token(24)
        fingerprint = randomBytes(32).map { String($0, radix: 16, uppercase: true).leftPadded(2) }.joined(separator: ":")
        let port = { Int.random(in: 20_000...60_000) }
        let priority = { UInt32.random(in: 1_000_000...2_130_706_431) }
        candidates = [
            "candidate:\(UInt32.random(in: 1...UInt32.max)) 1 udp \(priority()) 192.168.\(Int.random(in: 0...255)).\(Int.random(in: 2...254)) \(port()) typ host generation 0 ufrag \(iceUsernameFragment)",
            "candidate:\(UInt32.random(in: 1...UInt32.max)) 1 udp \(priority()) 10.\(Int.random(in: 0...255)).\(Int.random(in: 0...255)).\(Int.random(in: 2...254)) \(port()) typ host generation 0 ufrag \(iceUsernameFragment)",
            "candidate:\(UInt32.random(in: 1...UInt32.max)) 1 udp \(priority()) 203.0.113.\(Int.random(in: 2...254)) \(port()) typ srflx raddr 192.168.1.20 rport \(port()) generation 0",
            "candidate:\(UInt32.random(in: 1...UInt32.max)) 1 tcp \(priority()) 198.51.100.\(Int.random(in: 2...254)) 9 typ host tcptype active generation 0",
        ]
        text = [
            "v=0",
            "o=- \(UInt64.random(in: 1...UInt64.max >> 1)) 2 IN IP4 127.0.0.1",
            "s=-",
            "t=0 0",
            "a=group:BUNDLE 0",
            "a=msid-semantic: WMS parley",
            "m=audio 9 UDP/TLS/RTP/SAVPF 111",
            "c=IN IP4 0.0.0.0",
            "a=ice-ufrag:\(iceUsernameFragment)",
            "a=ice-pwd:\(icePassword)",
            "a=ice-options:trickle",
            "a=fingerprint:sha-256 \(fingerprint)",
            "a=setup:\(role)",
            "a=mid:0",
            "a=rtcp-mux",
            "a=rtpmap:111 opus/48000/2",
            "a=fmtp:111 minptime=10;useinbandfec=1",
        ].joined(separator: "\r\n") + "\r\n" + candidates.map { "a=\($0)\r\n" }.joined()
    }
}

private extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

/// The call's secrets and how to look for them in a capture.
private struct Secrets {
    struct Key {
        let label: String
        let bytes: [UInt8]
    }

    /// Needles searched whole, and needles of which every 8-byte window is searched.
    var whole: [(label: String, bytes: [UInt8])] = []
    var windowed: [(label: String, bytes: [UInt8])] = []
    var keys: [Key] = []

    static let windowCount = 8

    init(offer: SessionDescription, answer: SessionDescription, call: RelayedCall, seeds: [SecretBytes]) throws {
        for (name, sdp) in [("offer", offer), ("answer", answer)] {
            windowed.append(("SDP window (\(name))", Array(sdp.text.utf8)))
            whole.append(("ICE password (\(name))", Array(sdp.icePassword.utf8)))
            whole.append(("ICE ufrag (\(name))", Array(sdp.iceUsernameFragment.utf8)))
            whole.append(("DTLS fingerprint (\(name))", Array(sdp.fingerprint.utf8)))
            for (index, candidate) in sdp.candidates.enumerated() {
                windowed.append(("candidate window (\(name) \(index))", Array(candidate.utf8)))
            }
        }
        whole.append(("security code (raw)", Array(ServerCaptureTests.securityCode.utf8)))
        whole.append(("security code (normalized)", Array(ServerCaptureTests.normalizedSecurityCode.utf8)))
        whole.append(("security code (raw, UTF-16LE)", ServerCaptureTests.securityCode.utf16.flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] }))

        for (side, keys) in [("caller", call.callerKeys), ("callee", call.calleeKeys)] {
            for (name, secret) in [("signal send", keys.signalSend), ("signal receive", keys.signalReceive),
                                   ("frame send", keys.frameSend), ("frame receive", keys.frameReceive)] {
                self.keys.append(Key(label: "\(side) \(name)", bytes: try secret.withUnsafeBytes { Array($0) }))
            }
        }
        for (index, seed) in seeds.enumerated() {
            keys.append(Key(label: "identity secret key \(index)", bytes: try seed.withUnsafeBytes { Array($0) }))
        }
        for key in keys { windowed.append(("key window (\(key.label))", key.bytes)) }

        // The SAS in every encoding that makes sense: text (as shown and typed, ASCII and
        // UTF-16) and the number itself (4 and 8 bytes, both byte orders). A 4-byte form
        // appears in ~100 KB of ciphertext by chance with probability ~2.5e-5 per run.
        let digits = call.callerKeys.sas.digits
        let value = UInt64(digits)!  // six decimal digits by construction
        let half = digits.index(digits.startIndex, offsetBy: 3)
        for text in [digits, call.callerKeys.sas.description, digits[..<half] + "-" + digits[half...]] {
            whole.append(("SAS (ASCII digits) \(text)", Array(text.utf8)))
            whole.append(("SAS (UTF-16LE) \(text)", text.utf16.flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] }))
            whole.append(("SAS (UTF-16BE) \(text)", text.utf16.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }))
        }
        let be64 = (0..<8).map { UInt8((value >> (56 - 8 * UInt64($0))) & 0xff) }
        whole.append(("SAS (u64 big-endian)", be64))
        whole.append(("SAS (u64 little-endian)", be64.reversed()))
        whole.append(("SAS (u32 big-endian)", Array(be64[4...])))
        whole.append(("SAS (u32 little-endian)", be64[4...].reversed()))
    }

    /// Labels of the needles that occur in any captured message.
    func found(in capture: [[UInt8]]) -> [String] {
        var windows = Set<[UInt8]>()
        for message in capture where message.count >= Self.windowCount {
            for start in 0...(message.count - Self.windowCount) { windows.insert(Array(message[start..<start + Self.windowCount])) }
        }
        var labels: [String] = []
        for (label, needle) in windowed {
            for start in 0...(needle.count - Self.windowCount) where windows.contains(Array(needle[start..<start + Self.windowCount])) {
                labels.append("\(label) at \(start): \(String(decoding: needle[start..<start + Self.windowCount], as: UTF8.self).debugDescription)")
                break
            }
        }
        for (label, needle) in whole {
            if capture.contains(where: { $0.firstRange(of: needle) != nil }) { labels.append(label) }
        }
        return labels
    }
}
