import ParleyCrypto
import ParleyProtocol
import SignallingServer
import XCTest

final class ServerSmokeTests: XCTestCase {
    func testTwoDevicesAuthenticateAndSeeEachOther() throws {
        let fixture = try ServerFixture()
        defer { fixture.stop() }
        let (alice, aliceID, aliceView) = try fixture.rawClient()
        XCTAssertEqual(aliceView, [])
        let (_, bobID, bobView) = try fixture.rawClient()
        XCTAssertEqual(bobView, [aliceID.deviceID])
        XCTAssertEqual(try alice.nextMessage(), .presenceUpdate(device: bobID.deviceID, online: true))
    }
}
