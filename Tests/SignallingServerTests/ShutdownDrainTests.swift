import Dispatch
import ParleyCrypto
import ParleyProtocol
import SignallingServer
import XCTest

/// PROTOCOL.md "Signalling core", "Shutdown": on shutdown the server tells every connection
/// `error(shuttingDown)`, closes it (4018), refuses new ones the same way, and stops.
final class ShutdownDrainTests: ServerTestCase {
    /// Calls `waitUntilStopped` on another thread; fails if it has not returned within the bound.
    func assertStops(_ fixture: ServerFixture, file: StaticString = #filePath, line: UInt = #line) {
        let stopped = expectation(description: "waitUntilStopped returned")
        let server = fixture.server
        DispatchQueue.global().async {
            server.waitUntilStopped()
            stopped.fulfill()
        }
        wait(for: [stopped], timeout: 15)
    }

    func testShutdownTellsEveryConnectionShuttingDownClosesWith4018AndStops() throws {
        let fixture = try startServer()
        let first = try logIn(fixture, realm: "one")
        let second = try logIn(fixture, realm: "one")
        let elsewhere = try logIn(fixture, realm: "two")
        try first.socket.expect(.presenceUpdate(device: second.id, online: true))
        let callID = CallID.random()
        try first.socket.send(.invite(callee: second.id, callID: callID, payload: randomBytes(148)))
        try first.socket.expect(.ringing(callID: callID))
        guard case .incomingCall = try second.socket.nextMessage() else { return XCTFail("no incoming call") }
        let (unauthenticated, _) = try connectAndReadChallenge(fixture)

        fixture.server.shutdown()

        for (name, socket) in [("first", first.socket), ("second", second.socket), ("elsewhere", elsewhere.socket),
                               ("unauthenticated", unauthenticated)] {
            let before = try socket.expectRefusal(.shuttingDown, closeStatus: 4018)
            XCTAssertEqual(before, [], "\(name): only the shutdown notice (no presence or callEnded noise)")
            socket.cutConnection()  // as a client does after the close frame
        }
        assertStops(fixture)
        XCTAssertThrowsError(try RawWebSocket(port: fixture.port, timeoutMilliseconds: 1000), "the listener is gone")
    }

    func testConnectionArrivingDuringTheDrainIsRefusedWithShuttingDown() throws {
        // A socket that has not finished its handshake keeps the drain open (until drainTimeout).
        let fixture = try startServer { $0.drainTimeout = .seconds(30) }
        let device = try logIn(fixture)
        let holder = keep(try RawWebSocket(port: fixture.port, tls: false))
        waitUntil("the holder is counted") { fixture.server.metricsSnapshot().sockets == 2 }

        fixture.server.shutdown()
        try device.socket.expectRefusal(.shuttingDown, closeStatus: 4018)
        device.socket.cutConnection()

        let late = try connect(fixture)
        try late.upgrade(port: fixture.port)
        XCTAssertEqual(try late.expectRefusal(.shuttingDown, closeStatus: 4018), [], "no challenge while draining")
        late.cutConnection()

        holder.cutConnection()
        assertStops(fixture)
    }

    func testMessagesRelayedBeforeTheShutdownArriveBeforeItsNotice() throws {
        let fixture = try startServer()
        let caller = try logIn(fixture)
        let callee = try logIn(fixture)
        try caller.socket.expect(.presenceUpdate(device: callee.id, online: true))
        let callID = CallID.random()
        try caller.socket.send(.invite(callee: callee.id, callID: callID, payload: randomBytes(148)))
        // ringing goes out after incomingCall (two connections have no order between them).
        try caller.socket.expect(.ringing(callID: callID))
        guard case .incomingCall = try callee.socket.nextMessage() else { return XCTFail("no incoming call") }
        try callee.socket.send(.accept(callID: callID, payload: randomBytes(148)))
        guard case .accept = try caller.socket.nextMessage() else { return XCTFail("no accept") }

        // Signals the callee has not read yet are queued ahead of the notice.
        let payloads = (0..<20).map { _ in randomBytes(2000) }
        for payload in payloads { try caller.socket.send(.signal(callID: callID, payload: payload)) }
        try caller.socket.expectNothingElseThenPong()  // all twenty were handled
        fixture.server.shutdown()
        let before = try callee.socket.expectRefusal(.shuttingDown, closeStatus: 4018)
        XCTAssertEqual(before, payloads.map { .signal(callID: callID, payload: $0) })
        callee.socket.cutConnection()
        try caller.socket.expectRefusal(.shuttingDown, closeStatus: 4018)
        caller.socket.cutConnection()
        assertStops(fixture)
    }
}
