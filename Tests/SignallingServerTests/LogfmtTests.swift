import Foundation
import Logging
import SignallingServer
import Synchronization
import XCTest

/// The logfmt log handler: one parseable line per record, whatever the text holds.
final class LogfmtTests: XCTestCase {
    /// Lines written, in order.
    private final class Lines: Sendable {
        private let storage = Mutex<[String]>([])
        var all: [String] { storage.withLock { $0 } }
        var sink: LogfmtSink { LogfmtSink { line in self.storage.withLock { $0.append(line) } } }
    }

    /// 2026-11-22T10:00:00.123Z
    private static let fixedTime = LogfmtLogHandler.WallClockTime(seconds: 1_795_341_600, nanoseconds: 123_456_789)

    private func logger(_ lines: Lines, label: String = "test", level: Logger.Level = .info) -> Logger {
        Logger(label: label) { label in
            LogfmtLogHandler(label: label, logLevel: level, sink: lines.sink, metadataProvider: nil, clock: { Self.fixedTime })
        }
    }

    /// A minimal logfmt reader: key=value pairs, values bare or quoted with escapes.
    private func parse(_ line: String) throws -> [(String, String)] {
        XCTAssertTrue(line.hasSuffix("\n"))
        XCTAssertEqual(line.filter(\.isNewline).count, 1, "exactly one line: \(line.debugDescription)")
        var pairs: [(String, String)] = []
        var scalars = Array(line.dropLast().unicodeScalars)[...]
        while !scalars.isEmpty {
            let key = String(String.UnicodeScalarView(scalars.prefix { $0 != "=" }))
            scalars = scalars.dropFirst(key.unicodeScalars.count + 1)
            var value = ""
            if scalars.first == "\"" {
                scalars = scalars.dropFirst()
                while let scalar = scalars.popFirst(), scalar != "\"" {
                    guard scalar == "\\" else { value.unicodeScalars.append(scalar); continue }
                    switch scalars.popFirst() {
                    case "n": value += "\n"
                    case "r": value += "\r"
                    case "t": value += "\t"
                    case let escape? where escape == "u" || escape == "U":
                        let width = escape == "u" ? 4 : 8
                        let digits = String(String.UnicodeScalarView(scalars.prefix(width)))
                        scalars = scalars.dropFirst(width)
                        value.unicodeScalars.append(try XCTUnwrap(UInt32(digits, radix: 16).flatMap(Unicode.Scalar.init)))
                    case let other?: value.unicodeScalars.append(other)
                    case nil: XCTFail("dangling escape")
                    }
                }
            } else {
                value = String(String.UnicodeScalarView(scalars.prefix { $0 != " " }))
                scalars = scalars.dropFirst(value.unicodeScalars.count)
            }
            XCTAssertFalse(key.isEmpty || key.contains(" ") || key.contains("\""), "key \(key.debugDescription)")
            pairs.append((key, value))
            if scalars.first == " " { scalars = scalars.dropFirst() }
        }
        return pairs
    }

    func testALineHasTimestampLevelMessageLoggerAndSortedMetadata() throws {
        let lines = Lines()
        logger(lines, label: "parley-signal").info("listening", metadata: ["port": "8443", "address": "127.0.0.1", "b": "2"])
        XCTAssertEqual(lines.all, [
            "ts=2026-11-22T10:00:00.123Z level=info msg=\"listening\" logger=parley-signal address=127.0.0.1 b=2 port=8443\n",
        ])
    }

    func testSpacesQuotesBackslashesAndNewlinesAreEscaped() throws {
        let lines = Lines()
        let nasty = "a b \"quoted\" back\\slash\nline two\r\tend"
        logger(lines).warning("\(nasty)", metadata: ["reason": "\(nasty)", "empty": ""])
        let line = try XCTUnwrap(lines.all.first)
        XCTAssertTrue(line.contains(#"reason="a b \"quoted\" back\\slash\nline two\r\tend""#), line)
        let pairs = try parse(line)
        XCTAssertEqual(pairs.first { $0.0 == "msg" }?.1, nasty)
        XCTAssertEqual(pairs.first { $0.0 == "reason" }?.1, nasty)
        XCTAssertEqual(pairs.first { $0.0 == "empty" }?.1, "", "an empty value is written as \"\"")
    }

    func testControlAndSeparatorCharactersCannotForgeALine() throws {
        let lines = Lines()
        let forged = "ok\nts=2026-01-01T00:00:00.000Z level=critical msg=\"forged\""
        for text in [forged, "nul\u{0}esc\u{1B}[31mred", "nel\u{85}ls\u{2028}ps\u{2029}", "bidi\u{202E}txt.exe", "tag\u{E0041}"] {
            logger(lines).info("\(text)", metadata: ["v": "\(text)"])
        }
        XCTAssertEqual(lines.all.count, 5)
        for (line, text) in zip(lines.all, [forged, "nul\u{0}esc\u{1B}[31mred", "nel\u{85}ls\u{2028}ps\u{2029}", "bidi\u{202E}txt.exe", "tag\u{E0041}"]) {
            XCTAssertFalse(line.dropLast().unicodeScalars.contains { $0.properties.generalCategory == .control || $0.value == 0x2028
                || $0.value == 0x2029 || $0.properties.generalCategory == .format }, line.debugDescription)
            let pairs = try parse(line)
            XCTAssertEqual(pairs.map(\.0), ["ts", "level", "msg", "logger", "v"])
            XCTAssertEqual(pairs[2].1, text)
            XCTAssertEqual(pairs[4].1, text)
        }
    }

    func testMetadataKeysCannotImpersonateReservedKeysOrBreakTheSyntax() throws {
        let lines = Lines()
        logger(lines).info("real", metadata: ["msg": "fake", "level": "critical", "a b=c\"d": "x", "": "y",
                                              "peer": ["addr": "10.0.0.1", "port": "5"]])
        let pairs = try parse(try XCTUnwrap(lines.all.first))
        XCTAssertEqual(pairs.filter { $0.0 == "msg" }.map(\.1), ["real"])
        XCTAssertEqual(pairs.filter { $0.0 == "level" }.map(\.1), ["info"])
        let keys = Set(pairs.map(\.0))
        XCTAssertTrue(keys.isSuperset(of: ["meta.msg", "meta.level", "a_b_c_d", "_", "peer.addr", "peer.port"]), "\(keys)")
    }

    func testRecordsBelowTheLogLevelAreDropped() {
        let lines = Lines()
        var log = logger(lines, level: .notice)
        log.info("dropped")
        log.debug("dropped")
        log.notice("kept")
        log.error("kept")
        log.logLevel = .trace
        log.trace("kept")
        XCTAssertEqual(lines.all.map { $0.contains("kept") }, [true, true, true])
        let direct = LogfmtLogHandler(label: "", logLevel: .error, sink: lines.sink, metadataProvider: nil, clock: { Self.fixedTime })
        direct.log(event: LogEvent(level: .warning, message: "below", metadata: nil, source: nil, file: #file, function: #function, line: #line))
        XCTAssertEqual(lines.all.count, 3, "the handler checks the level itself too")
    }

    func testErrorsAndHandlerMetadataAreIncluded() throws {
        struct Failure: Error, CustomStringConvertible { var description: String { "disk full" } }
        let lines = Lines()
        var log = logger(lines)
        log[metadataKey: "instance"] = "a"
        let handler = LogfmtLogHandler(label: "", logLevel: .info, sink: lines.sink, metadataProvider: nil, clock: { Self.fixedTime })
        handler.log(event: LogEvent(level: .error, message: "write failed", error: Failure(), metadata: ["path": "/x"], source: nil,
                                    file: #file, function: #function, line: #line))
        log.info("with handler metadata", metadata: ["instance": "b"])
        XCTAssertEqual(lines.all[0], "ts=2026-11-22T10:00:00.123Z level=error msg=\"write failed\" error=\"disk full\" path=/x\n")
        XCTAssertTrue(lines.all[1].hasSuffix(" instance=b\n"), "the record's metadata wins: \(lines.all[1])")
    }

    func testConcurrentRecordsAreWholeLines() throws {
        let lines = Lines()
        let log = logger(lines)
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            for index in 0..<200 { log.info("record", metadata: ["thread": "\(thread)", "index": "\(index)", "pad": "\(String(repeating: "x", count: 200))"]) }
        }
        XCTAssertEqual(lines.all.count, 1600)
        for line in lines.all { XCTAssertEqual(try parse(line).count, 7) }
    }

    func testStandardErrorSinkWritesWholeLines() throws {
        // Redirect fd 2 into a pipe for the duration of the test.
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        let saved = dup(2)
        dup2(fds[1], 2)
        let handler = LogfmtLogHandler(label: "stderr", logLevel: .info, sink: .standardError, metadataProvider: nil, clock: { Self.fixedTime })
        handler.log(event: LogEvent(level: .info, message: "to stderr", metadata: nil, source: nil, file: #file, function: #function, line: #line))
        dup2(saved, 2)
        close(saved)
        close(fds[1])
        let output = FileHandle(fileDescriptor: fds[0], closeOnDealloc: true).readDataToEndOfFile()
        XCTAssertEqual(String(decoding: output, as: UTF8.self), "ts=2026-11-22T10:00:00.123Z level=info msg=\"to stderr\" logger=stderr\n")
    }
}
