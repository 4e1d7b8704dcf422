import ParleyCrypto
import XCTest

/// The case table of wireguard-go's replay filter tests (replay/replay_test.go,
/// itself ported from the Linux kernel), run against Parley's ReplayFilter with the
/// same window (8128) and the same reject limit.
final class ReplayFilterTests: XCTestCase {
    private let rejectAfterMessages: UInt64 = UInt64.max - (1 << 4)  // (1 << 64) - (1 << 4) - 1

    func testWireGuardCaseTableInWindowDuplicatesFarJumpsAndTheLimit() {
        var filter = ReplayFilter()
        XCTAssertEqual(filter.windowSize, 8128)
        let limit = filter.windowSize + 1
        let reject = rejectAfterMessages
        let cases: [(UInt64, Bool)] = [
            (0, true), (1, true), (1, false), (9, true), (8, true), (7, true), (7, false),
            (limit, true), (limit - 1, true), (limit - 1, false), (limit - 2, true), (2, true), (2, false),
            (limit + 16, true), (3, false), (limit + 16, false), (limit * 4, true), (limit * 4 - (limit - 1), true),
            (10, false), (limit * 4 - limit, false), (limit * 4 - (limit + 1), false), (limit * 4 - (limit - 2), true),
            (limit * 4 + 1 - limit, false), (0, false), (reject, false), (reject - 1, true), (reject, false),
            (reject - 1, false), (reject - 2, true), (reject + 1, false), (reject + 2, false), (reject - 2, false),
            (reject - 3, true), (0, false),
        ]
        for (number, (counter, expected)) in cases.enumerated() {
            XCTAssertEqual(filter.wouldAccept(counter, limit: reject), expected, "pre-check of case \(number + 1), counter \(counter)")
            XCTAssertEqual(filter.accept(counter, limit: reject), expected, "case \(number + 1), counter \(counter)")
        }
    }

    func testBulkFillsTheWholeWindowInEveryOrder() {
        let window = ReplayFilter().windowSize
        let reject = rejectAfterMessages

        var filter = ReplayFilter()
        for counter in 1...window { XCTAssertTrue(filter.accept(counter, limit: reject), "bulk 1, \(counter)") }
        XCTAssertTrue(filter.accept(0, limit: reject))
        XCTAssertFalse(filter.accept(0, limit: reject))

        filter = ReplayFilter()
        for counter in 2...(window + 1) { XCTAssertTrue(filter.accept(counter, limit: reject), "bulk 2, \(counter)") }
        XCTAssertTrue(filter.accept(1, limit: reject))
        XCTAssertFalse(filter.accept(0, limit: reject))

        filter = ReplayFilter()
        for counter in stride(from: window + 1, to: 0, by: -1) { XCTAssertTrue(filter.accept(counter, limit: reject), "bulk 3, \(counter)") }

        filter = ReplayFilter()
        for counter in stride(from: window + 2, to: 1, by: -1) { XCTAssertTrue(filter.accept(counter, limit: reject), "bulk 4, \(counter)") }
        XCTAssertFalse(filter.accept(0, limit: reject))

        filter = ReplayFilter()
        for counter in stride(from: window, to: 0, by: -1) { XCTAssertTrue(filter.accept(counter, limit: reject), "bulk 5, \(counter)") }
        XCTAssertTrue(filter.accept(window + 1, limit: reject))
        XCTAssertFalse(filter.accept(0, limit: reject))

        filter = ReplayFilter()
        for counter in stride(from: window, to: 0, by: -1) { XCTAssertTrue(filter.accept(counter, limit: reject), "bulk 6, \(counter)") }
        XCTAssertTrue(filter.accept(0, limit: reject))
        XCTAssertTrue(filter.accept(window + 1, limit: reject))
    }

    func testSmallWindowForBlobsRejectsReorderBeyondSixtyFour() {
        var filter = ReplayFilter(window: 64)
        XCTAssertEqual(filter.windowSize, 64)
        XCTAssertTrue(filter.accept(100, limit: .max))
        XCTAssertTrue(filter.accept(36, limit: .max), "exactly 64 behind is inside the window")
        XCTAssertFalse(filter.accept(35, limit: .max), "65 behind is outside")
        XCTAssertFalse(filter.accept(100, limit: .max))
    }
}
