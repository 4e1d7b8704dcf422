import XCTest

/// The test support itself: a real parley-signal starts, reports its port and pin, and stops.
final class SampleServerTests: XCTestCase {
    func testParleySignalStartsOnAPortItPicksAndReportsItsPin() throws {
        let scratch = try SampleScratch()
        defer { scratch.remove() }
        let server = try SignalServerProcess(stateDirectory: scratch.file("state"))
        defer { server.stop() }
        XCTAssertGreaterThan(server.port, 0)
        XCTAssertEqual(server.pin.count, 64)
        server.stop()
        XCTAssertFalse(server.process.isRunning)
    }
}
