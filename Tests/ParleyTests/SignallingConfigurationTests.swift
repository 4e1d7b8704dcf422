import Parley
import ParleyCrypto
import ParleyProtocol
import XCTest

/// URL parsing, configuration checks and the stable error codes.
final class SignallingConfigurationTests: XCTestCase {
    func testURLFormsAndDefaults() throws {
        let plain = try SignallingURL("wss://signal.example.com")
        XCTAssertEqual(plain, try SignallingURL("WSS://signal.example.com:443/"))
        XCTAssertEqual(plain.host, "signal.example.com")
        XCTAssertEqual(plain.port, 443)
        XCTAssertEqual(plain.path, "/")
        let full = try SignallingURL("wss://127.0.0.1:8443/parley/signal?x=1")
        XCTAssertEqual(full.host, "127.0.0.1")
        XCTAssertEqual(full.port, 8443)
        XCTAssertEqual(full.path, "/parley/signal?x=1")
        let v6 = try SignallingURL("wss://[::1]:9000")
        XCTAssertEqual(v6.host, "::1")
        XCTAssertEqual(v6.port, 9000)
        XCTAssertTrue(v6.isIPv6)
        XCTAssertEqual(v6.description, "wss://[::1]:9000/")
        XCTAssertEqual(try SignallingURL("wss://host?q").path, "/?q")
    }

    func testURLsThatAreRefused() {
        let refused = [
            "ws://127.0.0.1:8443/", "https://signal.example.com/", "signal.example.com", "wss://", "wss://:8443/",
            "wss://host:0/", "wss://host:65536/", "wss://host:port/", "wss://user@host/", "wss://host/#top",
            "wss://ho st/", "wss://[::1/", "wss://[zz::1]/", "wss://host:8443x/", "wss://héllo/", "wss://.host/",
        ]
        for text in refused {
            XCTAssertThrowsError(try SignallingURL(text), text) { error in
                XCTAssertEqual((error as? SignallingClientError)?.code, .invalidURL, text)
            }
        }
    }

    func testPlainWebSocketIsRefusedWithAClearMessage() {
        XCTAssertThrowsError(try SignallingURL("ws://127.0.0.1/")) { error in
            XCTAssertTrue("\(error)".contains("use wss://"), "\(error)")
        }
    }

    func testPinFromHex() throws {
        let hex = String(repeating: "ab", count: 32)
        XCTAssertEqual(try ServerTrust.pinned(hex: hex), .pinned(sha256: [UInt8](repeating: 0xab, count: 32)))
        let colons = (0..<32).map { _ in "AB" }.joined(separator: ":")
        XCTAssertEqual(try ServerTrust.pinned(hex: colons), .pinned(sha256: [UInt8](repeating: 0xab, count: 32)))
        XCTAssertThrowsError(try ServerTrust.pinned(hex: "abcd"))
        XCTAssertThrowsError(try ServerTrust.pinned(hex: String(repeating: "zz", count: 32)))
    }

    func testConfigurationChecks() {
        let pin = ServerTrust.pinned(sha256: [UInt8](repeating: 1, count: 32))
        func check(_ configure: (inout SignallingClientConfiguration) -> Void) -> SignallingClientError.Code? {
            var configuration = SignallingClientConfiguration(url: "wss://127.0.0.1:8443/", trust: pin, realm: "home")
            configure(&configuration)
            do {
                _ = try configuration.validate()
                return nil
            } catch {
                return error.code
            }
        }
        XCTAssertNil(check { _ in })
        XCTAssertEqual(check { $0.realm = "" }, .invalidConfiguration)
        XCTAssertEqual(check { $0.realm = String(repeating: "r", count: 65) }, .invalidConfiguration)
        XCTAssertNil(check { $0.realm = String(repeating: "r", count: 64) })
        XCTAssertEqual(check { $0.enrollmentCode = String(repeating: "c", count: 65) }, .invalidConfiguration)
        XCTAssertEqual(check { $0.trust = .pinned(sha256: [1, 2, 3]) }, .invalidConfiguration)
        XCTAssertEqual(check { $0.trust = .certificateAuthority(caFilePath: "", serverName: nil) }, .invalidConfiguration)
        XCTAssertEqual(check { $0.maxSendQueueBytes = 1000 }, .invalidConfiguration)
        XCTAssertEqual(check { $0.connectTimeout = .zero }, .invalidConfiguration)
        XCTAssertEqual(check { $0.reconnect.backoff = ReconnectBackoff(baseDelay: .seconds(2), maxDelay: .seconds(1)) }, .invalidConfiguration)
        XCTAssertEqual(check { $0.reconnect.maxAttempts = -1 }, .invalidConfiguration)
        XCTAssertEqual(check { $0.url = "ws://127.0.0.1/" }, .invalidURL)
    }

    func testErrorCodesAreStable() {
        let expected: [SignallingClientError.Code: Int] = [
            .invalidURL: 3001, .invalidConfiguration: 3002, .serverUnreachable: 3003, .tlsPinMismatch: 3004,
            .certificateInvalid: 3005, .timeout: 3006, .connectionLost: 3007, .protocolViolation: 3008,
            .authenticationFailed: 3009, .notEnrolled: 3010, .enrollmentCodeInvalid: 3011, .revoked: 3012,
            .replaced: 3013, .sendQueueFull: 3014, .notConnected: 3015, .invalidMessage: 3016, .transportSetupFailed: 3017,
        ]
        XCTAssertEqual(expected.count, SignallingClientError.Code.allCases.count)
        for (code, value) in expected { XCTAssertEqual(code.rawValue, value, "\(code)") }
    }

    func testOnlyRefusalsThatRetryingCannotFixAreTerminal() {
        let terminal: Set<SignallingClientError.Code> = [
            .authenticationFailed, .notEnrolled, .enrollmentCodeInvalid, .revoked, .replaced,
            .invalidURL, .invalidConfiguration, .transportSetupFailed,
        ]
        for code in SignallingClientError.Code.allCases {
            XCTAssertEqual(SignallingClientError(code, "").isTerminal, terminal.contains(code), "\(code)")
        }
    }
}
