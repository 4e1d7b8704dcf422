import ParleyCrypto
import ParleyProtocol
import XCTest

/// The bounded memory of recent call IDs that keeps a replayed invite from ringing twice.
final class RecentCallIDsTests: XCTestCase {
    private func id(_ byte: UInt8) throws -> CallID { try CallID(bytes: [UInt8](repeating: byte, count: 16)) }

    func testASecondInsertWithinTheLifetimeIsRefused() throws {
        var recent = RecentCallIDs(lifetime: .seconds(10), capacity: 8)
        let start = Timestamp(nanoseconds: 1_000_000_000)
        XCTAssertTrue(recent.insert(try id(1), now: start))
        XCTAssertFalse(recent.insert(try id(1), now: start + .seconds(9)))
        XCTAssertTrue(recent.insert(try id(2), now: start + .seconds(9)))
    }

    func testAnIDIsForgottenWhenItsLifetimeEnds() throws {
        var recent = RecentCallIDs(lifetime: .seconds(10), capacity: 8)
        let start = Timestamp(nanoseconds: 1_000_000_000)
        XCTAssertTrue(recent.insert(try id(1), now: start))
        XCTAssertTrue(recent.insert(try id(1), now: start + .seconds(10)), "remembered for exactly the lifetime")
        XCTAssertEqual(recent.count, 1)
    }

    func testWhenFullTheOldestIsForgottenFirstAndMemoryStaysBounded() throws {
        var recent = RecentCallIDs(lifetime: .seconds(600), capacity: 4)
        let now = Timestamp(nanoseconds: 1_000_000_000)
        for byte in UInt8(0)..<200 { XCTAssertTrue(recent.insert(try id(byte), now: now)) }
        XCTAssertEqual(recent.count, 4)
        XCTAssertFalse(recent.insert(try id(199), now: now), "the newest are still remembered")
        XCTAssertTrue(recent.insert(try id(0), now: now), "the oldest was forgotten")
    }
}
