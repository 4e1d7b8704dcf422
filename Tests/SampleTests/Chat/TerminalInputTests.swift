import ParleyCrypto
import ParleyProtocol
import ParleySampleKit
import XCTest

/// Key decoding, text measuring and cleaning, download names, contact lines, error lines.
final class TerminalInputTests: XCTestCase {
    func testKeysFromRawBytes() {
        var decoder = KeyDecoder()
        XCTAssertEqual(decoder.decode(Array("a\r\u{7F}\u{03}\u{1B}[A\u{1B}[3~\u{1B}OH\u{1B}[5~\t".utf8)),
                       [.character("a"), .enter, .backspace, .control("c"), .up, .delete, .home, .pageUp, .tab])
        XCTAssertEqual(decoder.decode([0x1B]), [.escape], "a lone escape at the end of a read is the Escape key")
        XCTAssertEqual(decoder.decode(Array("\u{1B}[99;5Zx".utf8)), [.character("x")], "unknown sequences are dropped whole")
    }

    func testSequencesAndCharactersSplitAcrossReads() {
        var decoder = KeyDecoder()
        XCTAssertEqual(decoder.decode([0x1B, UInt8(ascii: "[")]), [])
        XCTAssertEqual(decoder.decode([UInt8(ascii: "D")]), [.left])
        let euro = Array("€".utf8)
        XCTAssertEqual(decoder.decode(Array(euro.prefix(1))), [])
        XCTAssertEqual(decoder.decode(Array(euro.dropFirst())), [.character("€")])
        XCTAssertEqual(decoder.decode([0xFF, UInt8(ascii: "a")]).last, .character("a"), "invalid UTF-8 does not stop decoding")
    }

    func testSanitizeReplacesEveryControlCharacter() {
        XCTAssertEqual(TerminalText.sanitize("a\u{1B}[2Jb\u{9B}c\u{7F}d\te"), "a\u{FFFD}[2Jb\u{FFFD}c\u{FFFD}d e")
        XCTAssertEqual(TerminalText.sanitize("x\ny"), "x\u{FFFD}y")
        XCTAssertEqual(TerminalText.sanitize("x\ny", keepNewlines: true), "x\ny")
        XCTAssertEqual(TerminalText.sanitize("\u{202E}gnp.exe"), "\u{FFFD}gnp.exe", "no bidirectional override")
        XCTAssertEqual(TerminalText.sanitize("héllo 漢字 🎉"), "héllo 漢字 🎉", "printable text is kept")
    }

    func testWidthWrapAndTruncate() {
        XCTAssertEqual(TerminalText.width("ab漢🎉"), 6)
        XCTAssertEqual(TerminalText.width("e\u{301}"), 1, "a combining accent takes no column")
        XCTAssertEqual(TerminalText.wrap("the quick brown fox", columns: 9), ["the quick", "brown fox"])
        XCTAssertEqual(TerminalText.wrap("abcdefghij", columns: 4), ["abcd", "efgh", "ij"])
        XCTAssertEqual(TerminalText.wrap("漢字漢字", columns: 3), ["漢", "字", "漢", "字"])
        XCTAssertEqual(TerminalText.truncate("abcdef", to: 4), "abc…")
        XCTAssertEqual(TerminalText.truncate("abc", to: 4), "abc")
        XCTAssertEqual(TerminalText.fit("漢字", to: 3), "漢…")
        XCTAssertEqual(TerminalText.fit("a", to: 3), "a  ")
    }

    func testDownloadNamesCannotEscapeTheDirectory() {
        XCTAssertEqual(DownloadName.sanitize("../../etc/passwd"), "passwd")
        XCTAssertEqual(DownloadName.sanitize(".."), "file")
        XCTAssertEqual(DownloadName.sanitize(".bashrc"), "bashrc", "no hidden files")
        XCTAssertEqual(DownloadName.sanitize("a\u{1B}[2J;rm -rf *.txt"), "a__2J_rm -rf _.txt")
        XCTAssertEqual(DownloadName.sanitize("C:\\Users\\x\\photo (1).jpg"), "photo (1).jpg")
        XCTAssertEqual(DownloadName.sanitize(nil), "file")
        XCTAssertEqual(DownloadName.sanitize("résumé.pdf"), "résumé.pdf")
        XCTAssertLessThanOrEqual(DownloadName.sanitize(String(repeating: "é", count: 300)).utf8.count, DownloadName.maxBytes)
        XCTAssertEqual(DownloadName.variant("a.tar.gz", attempt: 2), "a.tar (2).gz")
        XCTAssertEqual(DownloadName.variant("README", attempt: 1), "README (1)")
    }

    func testContactLines() throws {
        let id = DeviceIdentity().deviceID
        XCTAssertEqual(try ChatContact.parse("bob \(id.printable)"), ChatContact(name: "bob", device: id))
        XCTAssertEqual(try ChatContact.parse("bob=\(id.printable)"), ChatContact(name: "bob", device: id))
        XCTAssertThrowsError(try ChatContact.parse("bob")) { XCTAssertTrue("\($0)".contains("expected NAME DEVICE_ID")) }
        XCTAssertThrowsError(try ChatContact.parse("b\u{1B}b \(id.printable)")) { XCTAssertFalse("\($0)".contains("\u{1B}")) }
        XCTAssertThrowsError(try ChatContact.parse("bob \(id.printable.dropLast())x")) { XCTAssertTrue("\($0)".contains("bob")) }
    }

    func testCallErrorsAreShortLinesWithTheirCode() {
        XCTAssertEqual(CallErrorText.describe(.securityCodeMismatch),
                       "security codes differ (or only one side entered one); agree on the code and call again (5001)")
        XCTAssertEqual(CallErrorText.describe(.rejected), "the call was declined (5002)")
        XCTAssertFalse(CallErrorText.describe(.protocolViolation("a\u{1B}b")).contains("\u{1B}"))
    }
}
