import Logging
import Parley
import ParleyCrypto
import ParleyProtocol
import ParleyTesting
import Synchronization
import XCTest

/// Base class of whole-call tests: a real parley-signal over TLS on 127.0.0.1, real
/// `ParleyClient`s (libnice, UDP sockets, keys) stopped in tearDown, and the waits they
/// share. Every wait has a limit; nothing asserts how long anything took.
class CallTestCase: XCTestCase {
    /// The running server (a test that restarts it replaces this).
    var fixture: ServerFixture!
    private var clients: [ParleyClient] = []

    override func setUpWithError() throws {
        try super.setUpWithError()
        fixture = try ServerFixture()
    }

    override func tearDown() {
        clients.forEach { $0.stop() }
        clients = []
        fixture.stop()
        super.tearDown()
    }

    static var quietLogger: Logger {
        var logger = Logger(label: "test.parley-call")
        logger.logLevel = .warning
        return logger
    }

    /// The configuration of a client of `fixture`: host candidates on 127.0.0.1 only.
    func clientConfiguration() -> ParleyConfiguration {
        let signalling = SignallingClientConfiguration(
            url: "wss://127.0.0.1:\(fixture.port)/", trust: .pinned(sha256: fixture.pin), realm: "home",
            connectTimeout: .seconds(5))
        var ice = IceConfiguration()
        ice.localAddresses = ["127.0.0.1"]
        return ParleyConfiguration(signalling: signalling, ice: ice)
    }

    /// A started client, online; stopped in tearDown.
    func startClient(identity: DeviceIdentity = DeviceIdentity(),
                     configure: (inout ParleyConfiguration) -> Void = { _ in }) async throws -> ParleyClient {
        var configuration = clientConfiguration()
        configure(&configuration)
        let client = try ParleyClient(configuration: configuration, identity: identity, logger: Self.quietLogger)
        clients.append(client)
        try client.start()
        try await waitUntil("\(client.deviceID.fingerprint) online") { client.connectionState.isOnline }
        return client
    }

    /// The first call that rings on `callee` from now on, answered by `answer` (which may
    /// accept, reject or do nothing).
    func nextIncomingCall(on callee: ParleyClient, _ answer: @escaping @Sendable (Call) -> Void) async throws -> Task<Call?, Never> {
        let incoming = Task { () -> Call? in
            for await call in callee.incomingCalls() {
                answer(call)
                return call
            }
            return nil
        }
        try await Task.sleep(for: .milliseconds(20))  // the incoming-call stream is registered
        return incoming
    }

    /// `caller` calls `callee`, who accepts with `calleeCode`; returns both calls once both are connected.
    func connectedCall(_ caller: ParleyClient, _ callee: ParleyClient, callerCode: String?, calleeCode: String?)
        async throws -> (Call, Call) {
        let incoming = try await nextIncomingCall(on: callee) { try? $0.accept(securityCode: calleeCode) }
        let call = try caller.call(callee.deviceID, securityCode: callerCode)
        try await call.connected()
        let incomingCall = await incoming.value
        let answered = try XCTUnwrap(incomingCall)
        try await answered.connected()
        return (call, answered)
    }

    /// Polls `condition` every 5 ms until it holds or `limit` passes; then fails the test
    /// (unless `failing` is false) and throws.
    func waitUntil(_ what: String, within limit: Duration = .seconds(10), failing: Bool = true,
                   file: StaticString = #filePath, line: UInt = #line, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + limit
        while !condition() {
            guard ContinuousClock.now < deadline else {
                if failing { XCTFail("timed out after \(limit) waiting until \(what)", file: file, line: line) }
                throw WaitTimeout(what: what)
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    struct WaitTimeout: Error, CustomStringConvertible {
        let what: String
        var description: String { "timed out waiting until \(what)" }
    }

    // MARK: Traffic

    /// Sends `count` audio frames of 120 bytes at 50 per second on the call's agreed audio
    /// stream. Each payload starts with its index (big-endian u16), so every frame is
    /// distinct and a receiver can tell which arrived.
    func sendAudio(on call: Call, count: Int) async throws -> [MediaFrame] {
        let audio = try XCTUnwrap(call.negotiatedMedia?.audio, "audio is agreed by default")
        let payloadType = try XCTUnwrap(audio.codecs.first?.payloadType)
        var sent: [MediaFrame] = []
        for index in 0..<count {
            let payload = [UInt8(index >> 8), UInt8(index & 0xFF)] + (2..<120).map { UInt8(truncatingIfNeeded: $0 &+ index) }
            let frame = MediaFrame(stream: UInt8(audio.sectionIndex), kind: .audio, payloadType: payloadType,
                                   timestamp: UInt32(index * 960), payload: payload)
            try call.send(media: frame)
            sent.append(frame)
            try await Task.sleep(for: .milliseconds(20))
        }
        return sent
    }

    /// Streams `file` on `call` and waits (up to `limit`) until `received` saw it complete
    /// or fail; returns the bytes that arrived. The writer retries what the send buffer
    /// did not take.
    func streamFile(_ file: [UInt8], on call: Call, to received: DataCollector, name: String,
                    within limit: Duration) async throws -> [UInt8] {
        let fileID = try call.startFile(size: UInt64(file.count), name: name)
        let writer = Task {
            var offset = 0
            while offset < file.count {
                let end = min(offset + 65_536, file.count)
                let written = try call.writeFile(fileID, bytes: Array(file[offset..<end]))
                offset += written
                if written == 0 { try await Task.sleep(for: .milliseconds(2)) }
            }
        }
        do {
            try await waitUntil("the file completed or failed", within: limit) { received.fileEnded }
        } catch {
            writer.cancel()
            XCTFail("\(received.fileBytes.count) of \(file.count) bytes arrived; the call: \(call.state); the sender's channel: \(call.stats.reliable.map { "\($0)" } ?? "-")")
            throw error
        }
        try await writer.value
        XCTAssertFalse(received.all.contains { if case .fileFailed = $0 { return true } else { return false } }, "the file did not fail")
        return received.fileBytes
    }

    /// A file of `count` bytes with no short period (so a misplaced chunk shows).
    static func testFile(count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }
    }
}

/// Reads a call's `received()` stream into memory as it arrives. The counts and
/// `fileEnded` are kept as items arrive, so a test polling them costs nothing: polling
/// `all` (a copy of every item, which the next append then copies again) every few
/// milliseconds burned a core and starved the call's own threads, which showed up as
/// RTT spikes of hundreds of milliseconds and a collapsing bandwidth estimate.
final class DataCollector: @unchecked Sendable {
    private struct State {
        var items: [CallData] = []
        var messageCount = 0
        var mediaFrameCount = 0
        var fileEnded = false
    }
    private let state = Mutex(State())
    private var task: Task<Void, Never>?

    init(_ stream: CallDataStream) {
        task = Task { [weak self] in
            for await data in stream {
                self?.state.withLock { state in
                    state.items.append(data)
                    switch data {
                    case .message: state.messageCount += 1
                    case .media: state.mediaFrameCount += 1
                    case .fileCompleted, .fileFailed: state.fileEnded = true
                    default: break
                    }
                }
            }
        }
    }

    deinit { task?.cancel() }

    /// Cheap to poll.
    var messageCount: Int { state.withLock { $0.messageCount } }
    var mediaFrameCount: Int { state.withLock { $0.mediaFrameCount } }
    var fileEnded: Bool { state.withLock { $0.fileEnded } }

    /// Copies of everything so far: for assertions, not for polling.
    var all: [CallData] { state.withLock { $0.items } }
    var messages: [[UInt8]] { all.compactMap { if case let .message(bytes) = $0 { return bytes } else { return nil } } }
    var mediaFrames: [MediaFrame] { all.compactMap { if case let .media(frame) = $0 { return frame } else { return nil } } }
    var fileBytes: [UInt8] {
        all.reduce(into: [UInt8]()) { bytes, data in
            if case let .fileData(_, chunk, _) = data { bytes += chunk }
        }
    }
}

/// Which side of a `UDPRelay` a client's candidates stand for.
enum RelaySide: Sendable {
    case a, b

    /// A `localCandidateRewrite` that routes this client's calls through `relay`: the
    /// client's UDP host candidate becomes the relay's peer address on this side, and the
    /// peer is handed the candidate with the port of the relay's other side, so every
    /// check and frame crosses the relay (see `UDPRelay`). Other candidates are dropped.
    func candidateRewrite(through relay: UDPRelay) -> @Sendable (String) -> String? {
        { line in
            // "candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> ..."
            var fields = line.split(separator: " ").map(String.init)
            guard fields.count >= 8, fields[2].uppercased() == "UDP", fields[7] == "host", let port = UInt16(fields[5]) else {
                return nil
            }
            switch self {
            case .a:
                relay.setPeerA(port: port)
                fields[5] = String(relay.portB)
            case .b:
                relay.setPeerB(port: port)
                fields[5] = String(relay.portA)
            }
            return fields.joined(separator: " ")
        }
    }
}

/// True when `received` is `sent` with some elements left out: in the same order, none
/// twice, nothing that was not sent.
func isOrderedSubset<Element: Equatable>(_ received: [Element], of sent: [Element]) -> Bool {
    var next = sent.startIndex
    for element in received {
        guard let found = sent[next...].firstIndex(of: element) else { return false }
        next = found + 1
    }
    return true
}
