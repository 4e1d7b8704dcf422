import XCTest

/// `make demo` end to end: parley-demo starts parley-signal and two parley-agents, and its
/// report must show what the README promises (it checks the agents' events itself and
/// exits 1 with the reason when anything is off).
final class DemoTests: XCTestCase {
    func testTheDemoCallShowsMatchingSASTheFileAudioAndKeysErasedOnBothSides() throws {
        let demo = try ChildProcess(try SampleLayout.executable("parley-demo"), [])
        let status = demo.waitForExit(within: .seconds(120))
        XCTAssertEqual(status, 0, demo.transcript)
        let report = demo.stdout
        let sas = try XCTUnwrap(report.first { $0.hasPrefix("  SAS") }, demo.transcript)
        let fields = sas.split(separator: " ", omittingEmptySubsequences: true)
        // "SAS 145 510 145 510 match": the caller's and the callee's six digits are equal.
        XCTAssertEqual(fields.count, 6, sas)
        if fields.count == 6 {
            XCTAssertEqual(fields[1...2], fields[3...4], sas)
            XCTAssertEqual(fields[5], "match")
        }
        XCTAssertTrue(report.contains { $0.hasPrefix("  keys erased") && $0.contains("yes                     yes") }, demo.transcript)
        XCTAssertTrue(report.contains { $0.hasPrefix("  file") && $0.contains("digest ok, identical") }, demo.transcript)
        XCTAssertTrue(report.contains { $0.hasPrefix("  path") && $0.contains("direct") }, demo.transcript)
        XCTAssertTrue(report.last?.hasPrefix("OK: same SAS on both sides") == true, demo.transcript)
    }

    func testTheMismatchDemoShowsTheErrorOnBothSidesAndNoSAS() throws {
        let demo = try ChildProcess(try SampleLayout.executable("parley-demo"), ["--code-mismatch"])
        let status = demo.waitForExit(within: .seconds(120))
        XCTAssertEqual(status, 0, demo.transcript)
        let report = demo.stdout
        XCTAssertTrue(report.contains { $0.hasPrefix("  ended") && $0.contains("code mismatch           code mismatch") }, demo.transcript)
        XCTAssertTrue(report.contains { $0.hasPrefix("  error code") && $0.contains("5001") }, demo.transcript)
        XCTAssertTrue(report.contains { $0.hasPrefix("  SAS shown") && $0.contains("none                    none") }, demo.transcript)
        XCTAssertFalse(report.joined().contains("482-915"), "the report never shows a security code")
        XCTAssertTrue(report.last?.hasPrefix("OK: the codes differed") == true, demo.transcript)
    }

    func testAnUnknownArgumentIsAUsageErrorOnOneLine() throws {
        let demo = try ChildProcess(try SampleLayout.executable("parley-demo"), ["--fast"])
        XCTAssertEqual(demo.waitForExit(within: .seconds(10)), 64)
        XCTAssertEqual(demo.stderr, ["parley-demo: error: unknown argument '--fast' (usage: parley-demo [--code-mismatch])"])
    }
}
