import Logging
import ParleyProtocol
import SignallingCore
import SignallingServer
import XCTest

/// The `key = value` config file: syntax, every key, ranges, cross-key checks, bounds.
final class ConfigFileTests: XCTestCase {
    /// Every field of the options, as text, to compare two `ServerOptions`.
    private func fields(_ options: ServerOptions) -> [String: String] {
        let core = options.core
        return [
            "listen": options.listenHost, "port": "\(options.port)", "state_directory": options.stateDirectory,
            "certificate": options.certificatePath ?? "-", "private_key": options.privateKeyPath ?? "-",
            "enrollment": "\(options.enrollment)", "metrics": "\(options.metricsHost):\(options.metricsPort.map(String.init) ?? "off")",
            "drain_timeout": "\(options.drainTimeout)", "refusal_headroom": "\(options.refusalHeadroom)",
            "event_loop": options.eventLoop.rawValue,
            "max_connections": "\(core.maxConnections)", "handshake_timeout": "\(core.handshakeTimeout)",
            "idle_timeout": "\(core.idleTimeout)", "ping_interval": "\(core.pingIntervalSeconds)", "ring_timeout": "\(core.ringTimeout)",
            "messages_per_second": "\(core.messagesPerSecond)", "message_burst": "\(core.messageBurst)",
            "bytes_per_second": "\(core.bytesPerSecond)", "byte_burst": "\(core.byteBurst)",
            "max_send_queue_bytes": "\(core.maxSendQueueBytes)", "max_calls_per_device": "\(core.maxCallsPerDevice)",
            "max_message_bytes": "\(core.maxMessageBytes)",
        ]
    }

    private func applied(_ text: String) throws -> ServerOptions {
        var options = ServerOptions()
        try ConfigFile(parsing: text, path: "test.conf").apply(to: &options)
        return options
    }

    private func assertError(_ text: String, _ code: ConfigFileError.Code, line: Int?, contains fragment: String = "",
                             file: StaticString = #filePath, sourceLine: UInt = #line) {
        XCTAssertThrowsError(try applied(text), file: file, line: sourceLine) { error in
            guard let error = error as? ConfigFileError else { return XCTFail("\(error)", file: file, line: sourceLine) }
            XCTAssertEqual(error.code, code, "\(error)", file: file, line: sourceLine)
            XCTAssertEqual(error.line, line, "\(error)", file: file, line: sourceLine)
            if let line { XCTAssertTrue(error.description.hasPrefix("test.conf:\(line): "), "\(error)", file: file, line: sourceLine) }
            if !fragment.isEmpty { XCTAssertTrue(error.description.contains(fragment), "\(error)", file: file, line: sourceLine) }
        }
    }

    func testAnEmptyFileAndCommentsChangeNothing() throws {
        XCTAssertEqual(fields(try applied("")), fields(ServerOptions()))
        XCTAssertEqual(fields(try applied("# only a comment\n\n   \n\t# indented comment\r\n")), fields(ServerOptions()))
    }

    func testTheExampleFileHasEveryKeyAtItsDefault() throws {
        let text = try String(contentsOfFile: PackageLayout.file("Signalling/SignallingServer/parley-signal.conf.example"), encoding: .utf8)
        let config = try ConfigFile(parsing: text, path: "parley-signal.conf.example")
        var options = ServerOptions()
        try config.apply(to: &options)
        XCTAssertEqual(fields(options), fields(ServerOptions()), "every active line of the example is the default")
        XCTAssertEqual(config.logLevel, .info)
        for key in ConfigFile.Key.allCases {
            XCTAssertTrue(text.contains("\n\(key.rawValue) = ") || text.contains("\n# \(key.rawValue) = "), "\(key.rawValue) is in the example")
        }
    }

    func testEveryKeySetsItsField() throws {
        let options = try applied("""
            listen = 0.0.0.0
            port = 9443
            state_directory = "/srv/parley signal"   # quoted: keeps the space
            certificate = /etc/parley/cert.pem
            private_key = /etc/parley/key.pem
            enrollment = allowlist
            metrics = [::1]:9100
            drain_timeout = 250ms
            refusal_headroom = 10
            event_loop = poll
            max_connections = 5000
            handshake_timeout = 5s
            idle_timeout = 2m
            ping_interval = 20s
            ring_timeout = 1m
            messages_per_second = 2.5
            message_burst = 10
            bytes_per_second = 64KiB
            byte_burst = 1MiB
            max_send_queue_bytes = 65536
            max_calls_per_device = 2
            max_message_bytes = 16384
            log_level = debug
            """)
        XCTAssertEqual(options.listenHost, "0.0.0.0")
        XCTAssertEqual(options.port, 9443)
        XCTAssertEqual(options.stateDirectory, "/srv/parley signal")
        XCTAssertEqual(options.certificatePath, "/etc/parley/cert.pem")
        XCTAssertEqual(options.privateKeyPath, "/etc/parley/key.pem")
        XCTAssertEqual(options.enrollment, .allowlist)
        XCTAssertEqual(options.metricsHost, "::1")
        XCTAssertEqual(options.metricsPort, 9100)
        XCTAssertEqual(options.drainTimeout, .milliseconds(250))
        XCTAssertEqual(options.refusalHeadroom, 10)
        XCTAssertEqual(options.eventLoop, .poll)
        XCTAssertEqual(options.core.maxConnections, 5000)
        XCTAssertEqual(options.core.handshakeTimeout, .seconds(5))
        XCTAssertEqual(options.core.idleTimeout, .seconds(120))
        XCTAssertEqual(options.core.pingIntervalSeconds, 20)
        XCTAssertEqual(options.core.ringTimeout, .seconds(60))
        XCTAssertEqual(options.core.messagesPerSecond, 2.5)
        XCTAssertEqual(options.core.messageBurst, 10)
        XCTAssertEqual(options.core.bytesPerSecond, 65536)
        XCTAssertEqual(options.core.byteBurst, 1_048_576)
        XCTAssertEqual(options.core.maxSendQueueBytes, 65536)
        XCTAssertEqual(options.core.maxCallsPerDevice, 2)
        XCTAssertEqual(options.core.maxMessageBytes, 16384)
        XCTAssertEqual(try ConfigFile(parsing: "log_level = debug").logLevel, .debug)
        XCTAssertNil(try applied("metrics = off").metricsPort)
    }

    func testDurationsTakeAUnit() {
        XCTAssertEqual(ConfigFile.parseDuration("10s"), .seconds(10))
        XCTAssertEqual(ConfigFile.parseDuration("250ms"), .milliseconds(250))
        XCTAssertEqual(ConfigFile.parseDuration("2m"), .seconds(120))
        XCTAssertEqual(ConfigFile.parseDuration("1h"), .seconds(3600))
        XCTAssertEqual(ConfigFile.parseDuration("7d"), .seconds(7 * 86400))
        for bad in ["10", "s", "1.5s", "-1s", "+1s", "10 s", "1w", "", "99999999999999999999d"] {
            XCTAssertNil(ConfigFile.parseDuration(bad), bad)
        }
        XCTAssertEqual(ConfigFile.formatDuration(.seconds(600)), "10m")
        XCTAssertEqual(ConfigFile.formatDuration(.milliseconds(1500)), "1500ms")
        XCTAssertEqual(ConfigFile.formatDuration(.seconds(7 * 86400)), "7d")
        XCTAssertEqual(ConfigFile.formatDuration(.zero), "0s")
    }

    func testQuotingAndTrailingComments() throws {
        XCTAssertEqual(try applied("state_directory = /a#b # comment").stateDirectory, "/a#b", "'#' starts a comment only after a space")
        XCTAssertEqual(try applied(#"state_directory = "/a \"q\" \\ # x" # comment"#).stateDirectory, #"/a "q" \ # x"#)
        assertError(#"state_directory = "/open"#, .syntax, line: 1, contains: "closing quote")
        assertError(#"state_directory = "/a" junk"#, .syntax, line: 1, contains: "after the closing quote")
        assertError(#"state_directory = "\n""#, .syntax, line: 1, contains: "escapes")
        assertError(#"state_directory = /a"b"#, .syntax, line: 1, contains: "quoted")
        assertError("port =", .syntax, line: 1, contains: "no value")
        assertError("port 8443", .syntax, line: 1, contains: "key = value")
        assertError("Port = 8443", .syntax, line: 1)
    }

    func testUnknownAndRepeatedKeysNameTheirLine() {
        assertError("port = 1\n\nprot = 2", .unknownKey, line: 3, contains: "did you mean 'port'?")
        assertError("# x\nfrobnicate = 2", .unknownKey, line: 2, contains: "'frobnicate'")
        assertError("port = 1\nlisten = ::\nport = 2", .duplicateKey, line: 3, contains: "line 1")
    }

    func testValuesOutOfRangeAreRefused() {
        assertError("port = 65536", .invalidValue, line: 1, contains: "0...65535")
        assertError("port = -1", .invalidValue, line: 1)
        assertError("port = http", .invalidValue, line: 1, contains: "whole number")
        assertError("enrollment = closed", .invalidValue, line: 1, contains: "'open' or 'allowlist'")
        assertError("metrics = localhost", .invalidValue, line: 1, contains: "host:port")
        assertError("metrics = :9000", .invalidValue, line: 1)
        assertError("messages_per_second = 0", .invalidValue, line: 1, contains: "positive")
        assertError("messages_per_second = nan", .invalidValue, line: 1)
        assertError("bytes_per_second = 0", .invalidValue, line: 1)
        assertError("message_burst = 0.5", .invalidValue, line: 1)
        assertError("max_connections = 0", .invalidValue, line: 1)
        assertError("max_calls_per_device = 0", .invalidValue, line: 1)
        assertError("max_message_bytes = \(SignalLimits.maxMessageBytes + 1)", .invalidValue, line: 1, contains: "\(SignalLimits.maxMessageBytes)")
        assertError("max_message_bytes = 100", .invalidValue, line: 1, contains: "\(ConfigFile.minimumMaxMessageBytes)")
        assertError("max_send_queue_bytes = 1KiB", .invalidValue, line: 1)
        assertError("idle_timeout = 0s", .invalidValue, line: 1)
        assertError("idle_timeout = 75", .invalidValue, line: 1, contains: "duration")
        assertError("ping_interval = 1500ms", .invalidValue, line: 1, contains: "whole seconds")
        assertError("ping_interval = 70000s", .invalidValue, line: 1)
        assertError("log_level = loud", .invalidValue, line: 1, contains: "critical")
        assertError("listen = a b", .invalidValue, line: 1)
        assertError("state_directory = a\u{1}b", .syntax, line: 1, contains: "control character")
    }

    func testValuesThatDependOnEachOtherAreChecked() {
        assertError("ping_interval = 30s\nidle_timeout = 30s", .inconsistent, line: nil, contains: "ping_interval")
        assertError("byte_burst = 1KiB", .inconsistent, line: nil, contains: "byte_burst")
        assertError("certificate = /etc/c.pem", .inconsistent, line: nil, contains: "private_key")
        XCTAssertNoThrow(try applied("byte_burst = 1KiB\nmax_message_bytes = 1024"))
    }

    func testFlagsOverrideTheFileAndAreCheckedTheSameWay() throws {
        let file = try ConfigFile(parsing: "port = 1000\nlog_level = warning", path: "test.conf")
        var options = ServerOptions()
        try file.overriding(with: [(key: .port, value: "2000", flag: "--port"), (key: .logLevel, value: "error", flag: "--log-level")])
            .apply(to: &options)
        XCTAssertEqual(options.port, 2000)
        XCTAssertThrowsError(try file.overriding(with: [(key: .port, value: "99999", flag: "--port")])) { error in
            XCTAssertEqual((error as? ConfigFileError)?.location, "--port")
            XCTAssertTrue("\(error)".hasPrefix("--port: "), "\(error)")
        }
        XCTAssertThrowsError(try file.overriding(with: [(key: .stateDirectory, value: "", flag: "--state-dir")]))
    }

    func testOversizedFilesAndLongLinesAreRefused() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        try scratch.write("big.conf", String(repeating: "# padding\n", count: OperatingLimits.maxConfigFileBytes / 10 + 1))
        XCTAssertThrowsError(try ConfigFile.load(path: scratch.file("big.conf"))) { error in
            XCTAssertEqual((error as? ConfigFileError)?.code, .unreadable)
            XCTAssertTrue("\(error)".contains("larger than \(OperatingLimits.maxConfigFileBytes)"), "\(error)")
        }
        assertError("# ok\nstate_directory = /\(String(repeating: "a", count: OperatingLimits.maxConfigLineBytes))", .syntax, line: 2,
                    contains: "longer than")
        XCTAssertThrowsError(try ConfigFile.load(path: scratch.file("missing.conf"))) { error in
            XCTAssertEqual((error as? ConfigFileError)?.code, .unreadable)
        }
        try scratch.write("good.conf", "port = 1234\n")
        XCTAssertEqual(try ConfigFile.load(path: scratch.file("good.conf")).settings.map(\.value), ["1234"])
    }
}
