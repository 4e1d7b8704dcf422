import Parley
import ParleyCrypto
import ParleyProtocol
import XCTest

/// The device's view of its realm (PROTOCOL.md, "Presence"): the union of the snapshot
/// chunks after the welcome, then changed by each update. Keeping realms apart is the
/// server's job (Tests/SignallingCoreTests); the client keeps what it is told.
final class ClientPresenceTests: XCTestCase {
    private static func devices(_ count: Int, from start: Int = 0) -> [DeviceID] {
        (start..<start + count).map { index in
            var bytes = [UInt8](repeating: 0, count: DeviceID.byteCount)
            bytes[0] = 0xd0
            bytes[1] = UInt8(index >> 8)
            bytes[2] = UInt8(index & 0xff)
            // 20 bytes cannot fail.
            return try! DeviceID(rawBytes: bytes)
        }
    }

    private func presenceEvents(_ events: [SignallingEvent]) -> [Set<DeviceID>] {
        events.compactMap { if case let .presence(online) = $0 { return online } else { return nil } }
    }

    func testSnapshotChunksAreUnitedAndReportedOnceComplete() throws {
        let harness = ClientCoreHarness()
        try harness.authenticate()
        harness.receive(.welcome(Welcome(deviceID: harness.identity.deviceID, realm: ClientCoreHarness.realm)))
        _ = harness.takeEvents()
        let first = Self.devices(SignalLimits.maxPresenceSnapshotDevices)
        let second = Self.devices(3, from: 5000)
        harness.receive(.presenceSnapshot(first))
        harness.receive(.presenceSnapshot(second))
        XCTAssertEqual(harness.core.onlinePeers, Set(first + second))
        XCTAssertEqual(presenceEvents(harness.takeEvents()), [Set(first + second)],
                       "a full chunk is not the end of the snapshot; the short one after it is")
    }

    func testEmptySnapshotReportsAnEmptyRealm() throws {
        let harness = ClientCoreHarness()
        try harness.goOnline()
        XCTAssertEqual(presenceEvents(harness.events), [[]])
        XCTAssertTrue(harness.core.onlinePeers.isEmpty)
    }

    func testUpdatesAddAndRemovePeers() throws {
        let harness = ClientCoreHarness()
        let a = ClientCoreHarness.device(0xa1)
        let b = ClientCoreHarness.device(0xb2)
        try harness.goOnline(peers: [a])
        _ = harness.takeEvents()
        harness.receive(.presenceUpdate(device: b, online: true))
        harness.receive(.presenceUpdate(device: a, online: false))
        XCTAssertEqual(harness.core.onlinePeers, [b])
        XCTAssertEqual(harness.takeEvents(), [
            .presenceChanged(b, online: true), .presence(online: [a, b]),
            .presenceChanged(a, online: false), .presence(online: [b]),
        ])
    }

    func testReplacedPeerGoesOfflineAndComesBack() throws {
        // The server announces a device that reconnected elsewhere as offline then online.
        let harness = ClientCoreHarness()
        let a = ClientCoreHarness.device(0xa1)
        try harness.goOnline(peers: [a])
        harness.receive(.presenceUpdate(device: a, online: false))
        harness.receive(.presenceUpdate(device: a, online: true))
        XCTAssertEqual(harness.core.onlinePeers, [a])
    }

    func testOwnDeviceIsNeverAPeer() throws {
        let harness = ClientCoreHarness()
        let a = ClientCoreHarness.device(0xa1)
        try harness.goOnline(peers: [a, harness.identity.deviceID])
        harness.receive(.presenceUpdate(device: harness.identity.deviceID, online: true))
        XCTAssertEqual(harness.core.onlinePeers, [a])
        XCTAssertFalse(harness.events.contains(.presenceChanged(harness.identity.deviceID, online: true)))
    }

    func testPresenceIsClearedWhenTheConnectionEnds() throws {
        let harness = ClientCoreHarness()
        let a = ClientCoreHarness.device(0xa1)
        try harness.goOnline(peers: [a])
        _ = harness.takeEvents()
        harness.feed(.transportClosed(code: nil, reason: ""))
        XCTAssertTrue(harness.core.onlinePeers.isEmpty)
        let events = harness.takeEvents()
        XCTAssertEqual(events.first, .presence(online: []))
        XCTAssertTrue(events.last.map { if case .stateChanged(.waitingToReconnect) = $0 { true } else { false } } ?? false)
    }

    func testWithoutTrackingOnlyUpdatesAreReported() throws {
        let harness = ClientCoreHarness { $0.tracksPresence = false }
        let a = ClientCoreHarness.device(0xa1)
        try harness.goOnline(peers: [a])
        harness.receive(.presenceUpdate(device: ClientCoreHarness.device(0xb2), online: true))
        XCTAssertTrue(harness.core.onlinePeers.isEmpty)
        XCTAssertTrue(presenceEvents(harness.events).isEmpty)
        XCTAssertTrue(harness.events.contains(.presenceChanged(ClientCoreHarness.device(0xb2), online: true)))
    }

    func testPresenceBeforeWelcomeIsAProtocolViolation() throws {
        let harness = ClientCoreHarness()
        try harness.authenticate()
        harness.receive(.presenceSnapshot([ClientCoreHarness.device(0xa1)]))
        XCTAssertEqual(harness.core.state.waitingReason?.code, .protocolViolation)
        XCTAssertTrue(harness.core.onlinePeers.isEmpty)
    }
}
