import ParleyCrypto
import ParleyProtocol
import SignallingServer
import XCTest

/// PROTOCOL.md "Signalling core", "Presence", over real TLS WebSockets.
final class PresenceOverTLSTests: ServerTestCase {
    func testLoginGetsASnapshotOfTheRealmsOnlineDevicesSortedByDeviceID() throws {
        let fixture = try startServer()
        let first = try logIn(fixture)
        XCTAssertEqual(first.online, [], "alone: one empty snapshot")
        let second = try logIn(fixture)
        XCTAssertEqual(second.online, [first.id])
        let third = try logIn(fixture)
        XCTAssertEqual(third.online, [first.id, second.id].sorted())
        try third.socket.expectNothingElseThenPong("exactly one snapshot after welcome")
    }

    func testOthersSeeADeviceComeOnlineAndGoOfflineHoweverItLeaves() throws {
        let fixture = try startServer()
        let watcher = try logIn(fixture)

        let cut = try logIn(fixture)
        try watcher.socket.expect(.presenceUpdate(device: cut.id, online: true))
        cut.socket.cutConnection()
        try watcher.socket.expect(.presenceUpdate(device: cut.id, online: false), "a dropped TCP connection goes offline")

        let polite = try logIn(fixture)
        try watcher.socket.expect(.presenceUpdate(device: polite.id, online: true))
        try polite.socket.writeRaw(RawWebSocket.frame(opcode: 8, [0x03, 0xe8]))
        XCTAssertEqual(try polite.socket.next(), .close(1000), "the server answers the close")
        polite.socket.cutConnection()
        try watcher.socket.expect(.presenceUpdate(device: polite.id, online: false), "a WebSocket close goes offline")

        try watcher.socket.expectNothingElseThenPong()
        XCTAssertEqual(fixture.server.metricsSnapshot().devices, 1)
    }

    /// RFC 6455 §7.1.1: once the server has sent and received a close frame the WebSocket
    /// connection is closed, so the device must be offline then, not only when the client
    /// also closes TCP (a device that never does would otherwise stay "online" and callable).
    func testDeviceGoesOfflineAsSoonAsTheServerAnswersItsWebSocketClose() throws {
        let fixture = try startServer()
        let watcher = try logIn(fixture)
        let leaving = try logIn(fixture)
        try watcher.socket.expect(.presenceUpdate(device: leaving.id, online: true))

        try leaving.socket.writeRaw(RawWebSocket.frame(opcode: 8, [0x03, 0xe8]))
        XCTAssertEqual(try leaving.socket.next(), .close(1000), "the server answered the close")
        // The TCP connection stays open from the client's side here.
        let event = try watcher.socket.next(timeoutMilliseconds: 3_000)
        XCTAssertEqual(event, .message(try SignalCodec.encode(.presenceUpdate(device: leaving.id, online: false))),
                       "the realm is told the device went offline once its closing handshake is done")
    }

    func testARealmSeesNothingOfAnotherAndCannotCallIntoIt() throws {
        let fixture = try startServer()
        let alpha1 = try logIn(fixture, realm: "alpha")
        let beta = try logIn(fixture, realm: "beta")
        XCTAssertEqual(beta.online, [], "realm alpha's device is not in beta's snapshot")

        let alpha2 = try logIn(fixture, realm: "alpha")
        XCTAssertEqual(alpha2.online, [alpha1.id])
        try alpha1.socket.expect(.presenceUpdate(device: alpha2.id, online: true))
        alpha2.socket.cutConnection()
        try alpha1.socket.expect(.presenceUpdate(device: alpha2.id, online: false))
        try beta.socket.expectNothingElseThenPong("beta saw nothing of alpha's devices coming and going")

        let callID = CallID.random()
        try beta.socket.send(.invite(callee: alpha1.id, callID: callID, payload: randomBytes(148)))
        try beta.socket.expect(.callEnded(callID: callID, outcome: .unavailable),
                               "an online device in another realm is unavailable, like an offline one")
        let backwards = CallID.random()
        try alpha1.socket.send(.invite(callee: beta.id, callID: backwards, payload: randomBytes(148)))
        try alpha1.socket.expect(.callEnded(callID: backwards, outcome: .unavailable))
        try alpha1.socket.expectNothingElseThenPong("no incoming call crossed the realms")
        try beta.socket.expectNothingElseThenPong()

        beta.socket.cutConnection()
        waitUntil("the server has noticed beta leave") { fixture.server.metricsSnapshot().devices == 1 }
        try alpha1.socket.expectNothingElseThenPong("alpha does not see beta leave")
        XCTAssertEqual(fixture.server.metricsSnapshot().calls, 0)
    }

    func testRealmNamesDifferingOnlyInUnicodeNormalisationAreDifferentRealms() throws {
        let fixture = try startServer()
        let composed = "caf\u{E9}"          // NFC: 63 61 66 c3 a9
        let decomposed = "cafe\u{301}"      // NFD: 63 61 66 65 cc 81
        XCTAssertNotEqual(Array(composed.utf8), Array(decomposed.utf8))

        let nfc = try logIn(fixture, realm: composed)
        let nfd = try logIn(fixture, realm: decomposed)
        XCTAssertEqual(nfd.online, [], "the NFC device is in another realm")
        try nfc.socket.expectNothingElseThenPong("the NFC device was not told of the NFD one")

        let callID = CallID.random()
        try nfd.socket.send(.invite(callee: nfc.id, callID: callID, payload: randomBytes(148)))
        try nfd.socket.expect(.callEnded(callID: callID, outcome: .unavailable))

        // Control: the same bytes are the same realm.
        let nfcAgain = try logIn(fixture, realm: composed)
        XCTAssertEqual(nfcAgain.online, [nfc.id])
        try nfc.socket.expect(.presenceUpdate(device: nfcAgain.id, online: true))
        try nfd.socket.expectNothingElseThenPong()
    }

    func testWelcomeEchoesTheRealmByteForByte() throws {
        let fixture = try startServer()
        for realm in ["caf\u{E9}", "cafe\u{301}"] {
            let socket = try connect(fixture)
            try socket.sendAuth(port: fixture.port, identity: DeviceIdentity(), realm: realm, certificateSHA256: fixture.pin)
            let welcome = try socket.nextMessage()
            guard case let .welcome(info) = welcome else { return XCTFail("expected welcome, got \(welcome)") }
            XCTAssertEqual(Array(info.realm.utf8), Array(realm.utf8))
        }
    }
}
