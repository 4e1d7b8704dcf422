import Dispatch
import Glibc
import ParleyCrypto
import ParleyProtocol
import SignallingCore
import SignallingServer
import XCTest

/// A device logged in over a raw TLS WebSocket.
struct LoggedInDevice {
    let socket: RawWebSocket
    let identity: DeviceIdentity
    /// The presence snapshot it got after `welcome`.
    let online: [DeviceID]
    var id: DeviceID { identity.deviceID }
}

/// Base class of the over-TLS tests: starts real servers and keeps every client socket
/// alive until tearDown (Swift may release an object after its last use, which would
/// close a connection a test still relies on), then closes the sockets and stops the servers.
class ServerTestCase: XCTestCase {
    private var fixtures: [ServerFixture] = []
    private var sockets: [RawWebSocket] = []

    override func tearDown() {
        // Closing the clients first lets each server's drain end at once.
        for socket in sockets { _ = Glibc.shutdown(socket.fileDescriptor, Int32(SHUT_RDWR)) }
        sockets = []
        for fixture in fixtures { fixture.stop() }
        fixtures = []
        super.tearDown()
    }

    /// A running server on 127.0.0.1 with a system-chosen port, stopped in tearDown.
    func startServer(enrollment: EnrollmentPolicy = .open, configure: (inout ServerOptions) -> Void = { _ in },
                     capture: (@Sendable (CapturedMessage) -> Void)? = nil) throws -> ServerFixture {
        let fixture = try ServerFixture(enrollment: enrollment, configure: configure, capture: capture)
        fixtures.append(fixture)
        return fixture
    }

    /// Keeps `socket` open until tearDown.
    @discardableResult
    func keep(_ socket: RawWebSocket) -> RawWebSocket {
        sockets.append(socket)
        return socket
    }

    /// A TLS connection (not yet upgraded), kept until tearDown.
    func connect(_ fixture: ServerFixture) throws -> RawWebSocket {
        keep(try RawWebSocket(port: fixture.port))
    }

    /// A TLS WebSocket that has read its challenge and not authenticated.
    func connectAndReadChallenge(_ fixture: ServerFixture, file: StaticString = #filePath, line: UInt = #line) throws -> (RawWebSocket, Challenge) {
        let socket = try connect(fixture)
        try socket.upgrade(port: fixture.port)
        let first = try socket.nextMessage()
        guard case let .challenge(challenge) = first else {
            XCTFail("expected a challenge, got \(first)", file: file, line: line)
            throw RawWebSocket.Failure(description: "no challenge")
        }
        return (socket, challenge)
    }

    /// A device logged in to `realm` (a new identity unless given).
    func logIn(_ fixture: ServerFixture, _ identity: DeviceIdentity = DeviceIdentity(), realm: String = "home",
               enrollmentCode: String = "") throws -> LoggedInDevice {
        let socket = try connect(fixture)
        let online = try socket.logIn(port: fixture.port, identity: identity, realm: realm, certificateSHA256: fixture.pin,
                                      enrollmentCode: enrollmentCode)
        return LoggedInDevice(socket: socket, identity: identity, online: online)
    }

    /// Two new identities ordered by device ID: (lower, higher).
    func orderedIdentities() -> (lower: DeviceIdentity, higher: DeviceIdentity) {
        let first = DeviceIdentity(), second = DeviceIdentity()
        return first.deviceID < second.deviceID ? (first, second) : (second, first)
    }

    /// Polls `condition` until it holds or `seconds` pass (the bound only limits the wait).
    @discardableResult
    func waitUntil(seconds: Double = 10, _ description: String, file: StaticString = #filePath, line: UInt = #line,
                   _ condition: () -> Bool) -> Bool {
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
        while !condition() {
            guard DispatchTime.now().uptimeNanoseconds < deadline else {
                XCTFail("timed out waiting until \(description)", file: file, line: line)
                return false
            }
            usleep(5_000)
        }
        return true
    }
}

// MARK: Expectations on a client

extension RawWebSocket {
    /// Reads the next message and asserts it is `expected`.
    func expect(_ expected: SignalMessage, timeoutMilliseconds: Int32 = 5000, _ what: String = "",
                file: StaticString = #filePath, line: UInt = #line) throws {
        let message = try reportingFailure(file: file, line: line) { try nextMessage(timeoutMilliseconds: timeoutMilliseconds) }
        XCTAssertEqual(message, expected, what, file: file, line: line)
    }

    /// Runs `body`; a thrown error is also recorded at the caller's line before it propagates.
    func reportingFailure<T>(file: StaticString, line: UInt, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            XCTFail("\(error)", file: file, line: line)
            throw error
        }
    }

    /// Reads the next message and asserts it is an error with `code` (any text).
    func expectError(_ code: SignalErrorCode, file: StaticString = #filePath, line: UInt = #line) throws {
        let message = try reportingFailure(file: file, line: line) { try nextMessage() }
        guard case let .error(received, _) = message else {
            return XCTFail("expected error(\(code)), got \(message)", file: file, line: line)
        }
        XCTAssertEqual(received, code, file: file, line: line)
    }

    /// Reads until the connection closes and asserts that the last message was
    /// `error(code)` followed by a close frame with `closeStatus`. Returns the messages
    /// before the error.
    @discardableResult
    func expectRefusal(_ code: SignalErrorCode, closeStatus: UInt16, timeoutMilliseconds: Int32 = 5000,
                       file: StaticString = #filePath, line: UInt = #line) throws -> [SignalMessage] {
        let (messages, close) = try reportingFailure(file: file, line: line) { try drainUntilClosed(timeoutMilliseconds: timeoutMilliseconds) }
        guard case let .error(received, _)? = messages.last else {
            XCTFail("expected error(\(code)) before the close, got \(messages.suffix(3)) then \(close)", file: file, line: line)
            return messages
        }
        XCTAssertEqual(received, code, file: file, line: line)
        XCTAssertEqual(close, .close(closeStatus), "WebSocket close status after error(\(code))", file: file, line: line)
        return Array(messages.dropLast())
    }

    /// A barrier: sends ping(value) and asserts the very next message is pong(value). The
    /// server handles each connection's messages in order on one thread, so anything it
    /// queued for this connection before handling the ping arrives first and fails this.
    func expectNothingElseThenPong(_ what: String = "", value: UInt64 = UInt64.random(in: 0...UInt64.max),
                                   file: StaticString = #filePath, line: UInt = #line) throws {
        let message = try reportingFailure(file: file, line: line) {
            try send(.ping(value))
            return try nextMessage()
        }
        XCTAssertEqual(message, .pong(value), what.isEmpty ? "nothing else was pending before the pong" : what, file: file, line: line)
    }

    /// Closes the TCP connection without a WebSocket or TLS goodbye.
    func cutConnection() { _ = Glibc.shutdown(fileDescriptor, Int32(SHUT_RDWR)) }

    /// Waits until the server closes the connection (any bytes it sends first are read and
    /// ignored). False if it is still open after `seconds`.
    func waitUntilDropped(seconds: Double) -> Bool {
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
        while DispatchTime.now().uptimeNanoseconds < deadline {
            if case .ended = readRaw(timeoutMilliseconds: 100) { return true }
        }
        return false
    }
}

// MARK: Values

extension CallID {
    static func random() -> CallID {
        // 16 bytes is CallID.byteCount, so this cannot throw.
        try! CallID(bytes: (0..<CallID.byteCount).map { _ in UInt8.random(in: 0...255) })
    }
}

extension DeviceID {
    /// A well-formed device ID that belongs to no device.
    static func random() -> DeviceID {
        // 20 bytes is DeviceID.byteCount, so this cannot throw.
        try! DeviceID(rawBytes: (0..<DeviceID.byteCount).map { _ in UInt8.random(in: 0...255) })
    }
}

/// `count` random bytes, eight at a time (a per-byte loop is slow in debug builds).
func randomBytes(_ count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    var words = [UInt64](repeating: 0, count: (count + 7) / 8)
    for index in words.indices { words[index] = generator.next() }
    return words.withUnsafeBytes { Array($0.prefix(count)) }
}

extension ServerFixture {
    /// `server.reload()`, then waits until the service thread has handled it (commands run
    /// in order, and `metricsSnapshot` waits for its own).
    func reloadAndWait() {
        server.reload()
        _ = server.metricsSnapshot()
    }

    /// How many connections the core refused or closed with `code` so far.
    func rejections(_ code: SignalErrorCode) -> Int {
        server.metricsSnapshot().statistics.rejectionsByReason[code] ?? 0
    }
}
