@testable import ParleyCrypto
@testable import SignallingCore
import XCTest

final class AllowlistTests: XCTestCase {
    func testAllowlistRoundTripsWithNamesCommentsAndBlankLines() throws {
        let a = DeviceIdentity().deviceID, b = DeviceIdentity().deviceID
        let text = "# devices\n\n\(a.printable)   Kitchen speaker\r\n  \(b.printable)\n"
        let parsed = try Allowlist.parse(text)
        XCTAssertEqual(parsed, [a: "Kitchen speaker", b: ""])
        XCTAssertEqual(try Allowlist.parse(Allowlist.render(parsed)), parsed)
    }

    func testAllowlistErrorsNameTheLine() throws {
        let a = DeviceIdentity().deviceID
        XCTAssertThrowsError(try Allowlist.parse("# ok\nnot-a-device-id name")) { error in
            XCTAssertEqual((error as? Allowlist.ParseError)?.line, 2)
        }
        XCTAssertThrowsError(try Allowlist.parse("\(a.printable) x\n\(a.printable) y")) { error in
            XCTAssertEqual(error as? Allowlist.ParseError, Allowlist.ParseError(line: 2, reason: "device \(a) is listed twice"))
        }
        XCTAssertThrowsError(try Allowlist.parse("\(a.printable) \(String(repeating: "n", count: 65))"))
        var typo = Array(a.printable)
        typo[3] = typo[3] == "a" ? "b" : "a"
        XCTAssertThrowsError(try Allowlist.parse(String(typo)), "a mistyped ID fails its checksum")
    }

    func testEnrollmentCodesAreRandomGroupedAndMatchAsTypedLoosely() {
        let code = EnrollmentCodes.generate()
        XCTAssertEqual(code.count, 19)
        XCTAssertEqual(code.split(separator: "-").count, 4)
        XCTAssertNotEqual(code, EnrollmentCodes.generate())
        XCTAssertEqual(EnrollmentCodes.digest(code), EnrollmentCodes.digest(code.uppercased().replacingOccurrences(of: "-", with: " ")))
        XCTAssertNotEqual(EnrollmentCodes.digest(code), EnrollmentCodes.digest(EnrollmentCodes.generate()))
    }
}
