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

    /// The fallback event loop (lws's own poll loop) serves, runs the core's timers and stops.
    func testPollEventLoopServesTimesOutAndStops() throws {
        let fixture = try ServerFixture { options in
            options.eventLoop = .poll
            options.core.idleTimeout = .seconds(1)
        }
        defer { fixture.stop() }
        let (alice, aliceID, _) = try fixture.rawClient()
        let (_, bobID, bobView) = try fixture.rawClient()
        XCTAssertEqual(bobView, [aliceID.deviceID])
        XCTAssertEqual(try alice.nextMessage(), .presenceUpdate(device: bobID.deviceID, online: true))
        // Neither pings: the idle timeout closes both, driven by the loop's timer.
        let (messages, close) = try alice.drainUntilClosed(timeoutMilliseconds: 5000)
        XCTAssertEqual(close, .close(4014), "idle timeout after \(messages)")
    }
}
