import CRawTLS
import ParleyCrypto
import ParleyProtocol

/// A WebSocket client that puts exactly the bytes a test asks for on a TLS connection:
/// malformed frames, fragment floods, text frames, dripped handshakes. Blocking; for tests.
final class RawWebSocket {
    enum Event: Equatable {
        case message([UInt8])
        case text([UInt8])
        /// A close frame with its status code.
        case close(UInt16)
        /// The connection ended without a close frame.
        case ended
        case timeout
    }

    struct Failure: Error, CustomStringConvertible { let description: String }

    private let handle: OpaquePointer
    private var buffer: [UInt8] = []
    /// Every WebSocket message payload this client sent and received, for capture tests.
    private(set) var sent: [[UInt8]] = []
    private(set) var receivedMessages: [[UInt8]] = []

    /// TLS connection (or raw TCP with `tls: false`) to 127.0.0.1:port.
    init(port: Int, source: String? = nil, tls: Bool = true, timeoutMilliseconds: Int32 = 5000) throws {
        var error: UnsafePointer<CChar>?
        let connected: OpaquePointer? = source.map { source in
            source.withCString { crawtls_connect("127.0.0.1", Int32(port), $0, tls ? 1 : 0, timeoutMilliseconds, &error) }
        } ?? crawtls_connect("127.0.0.1", Int32(port), nil, tls ? 1 : 0, timeoutMilliseconds, &error)
        guard let connected else { throw Failure(description: error.map { String(cString: $0) } ?? "connect failed") }
        handle = connected
    }

    deinit { crawtls_close(handle) }

    var fileDescriptor: Int32 { crawtls_fd(handle) }

    /// SHA-256 of the server certificate's DER.
    func peerCertificateSHA256() -> [UInt8]? {
        var digest = [UInt8](repeating: 0, count: 32)
        return crawtls_peer_sha256(handle, &digest) == 0 ? digest : nil
    }

    static func upgradeRequest(port: Int) -> [UInt8] {
        Array(("GET / HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
               + "Sec-WebSocket-Protocol: parley-signal\r\n\r\n").utf8)
    }

    /// The HTTP upgrade; returns the status line.
    @discardableResult
    func upgrade(port: Int) throws -> String {
        try writeRaw(Self.upgradeRequest(port: port))
        while true {
            if let end = find([13, 10, 13, 10]) {
                let head = String(decoding: buffer[..<end], as: UTF8.self)
                buffer.removeFirst(end + 4)
                let status = String(head.prefix { $0 != "\r" })
                guard status.contains(" 101 ") else { throw Failure(description: "upgrade refused: \(status)") }
                return status
            }
            guard try fill(timeoutMilliseconds: 5000) else { throw Failure(description: "no upgrade response") }
        }
    }

    func writeRaw(_ bytes: [UInt8]) throws {
        guard crawtls_write(handle, bytes, bytes.count) == 0 else { throw Failure(description: "write failed: connection gone") }
    }

    /// One WebSocket frame, masked as a client must.
    static func frame(opcode: UInt8, _ payload: [UInt8], fin: Bool = true) -> [UInt8] {
        var out: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        if payload.count < 126 {
            out.append(0x80 | UInt8(payload.count))
        } else if payload.count <= 0xffff {
            out += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xff)]
        } else {
            out.append(0x80 | 127)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8((UInt64(payload.count) >> UInt64(shift)) & 0xff)) }
        }
        let mask: [UInt8] = [0x37, 0xfa, 0x21, 0x3d]
        out += mask
        out += payload.enumerated().map { $0.element ^ mask[$0.offset & 3] }
        return out
    }

    /// A whole binary message in one frame.
    func send(_ payload: [UInt8]) throws {
        sent.append(payload)
        try writeRaw(Self.frame(opcode: 2, payload))
    }

    func send(_ message: SignalMessage) throws { try send(try SignalCodec.encode(message)) }

    /// The next data message or close (control frames other than close are skipped).
    func next(timeoutMilliseconds: Int32 = 5000) throws -> Event {
        var fragments: [UInt8] = []
        var messageOpcode: UInt8 = 0
        while true {
            guard let (fin, opcode, payload) = try readFrame(timeoutMilliseconds: timeoutMilliseconds) else {
                return buffer.isEmpty && lastReadTimedOut ? .timeout : .ended
            }
            switch opcode {
            case 8:
                return .close(payload.count >= 2 ? UInt16(payload[0]) << 8 | UInt16(payload[1]) : 1005)
            case 9, 10:
                continue
            default:
                if opcode != 0 { messageOpcode = opcode }
                fragments += payload
                guard fin else { continue }
                if messageOpcode == 1 { return .text(fragments) }
                receivedMessages.append(fragments)
                return .message(fragments)
            }
        }
    }

    /// The next decoded signalling message; fails on anything else.
    func nextMessage(timeoutMilliseconds: Int32 = 5000) throws -> SignalMessage {
        let event = try next(timeoutMilliseconds: timeoutMilliseconds)
        guard case let .message(bytes) = event else { throw Failure(description: "expected a message, got \(event)") }
        return try SignalCodec.decode(bytes)
    }

    /// Reads messages until the connection closes; returns the messages and the close status.
    func drainUntilClosed(timeoutMilliseconds: Int32 = 5000) throws -> (messages: [SignalMessage], close: Event) {
        var messages: [SignalMessage] = []
        while true {
            let event = try next(timeoutMilliseconds: timeoutMilliseconds)
            switch event {
            case let .message(bytes): messages.append(try SignalCodec.decode(bytes))
            case .text: continue
            default: return (messages, event)
            }
        }
    }

    /// What one raw read returned (for exchanges that are not WebSocket frames: HTTP
    /// answers, handshakes the server drops).
    enum RawRead: Equatable {
        case bytes([UInt8])
        case timeout
        /// Orderly close or error: the connection is gone.
        case ended
    }

    /// The next bytes as they arrive (first any bytes already buffered), without framing.
    func readRaw(timeoutMilliseconds: Int32) -> RawRead {
        if !buffer.isEmpty {
            defer { buffer = [] }
            return .bytes(buffer)
        }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = crawtls_read(handle, &chunk, chunk.count, timeoutMilliseconds)
        switch count {
        case -2: return .timeout
        case ...0: return .ended
        default: return .bytes(Array(chunk[..<count]))
        }
    }

    private var lastReadTimedOut = false

    private func readFrame(timeoutMilliseconds: Int32) throws -> (Bool, UInt8, [UInt8])? {
        while true {
            if buffer.count >= 2 {
                let fin = buffer[0] & 0x80 != 0
                let opcode = buffer[0] & 0x0f
                var length = Int(buffer[1] & 0x7f)
                var offset = 2
                if length == 126 {
                    guard buffer.count >= 4 else { guard try fill(timeoutMilliseconds: timeoutMilliseconds) else { return nil }; continue }
                    length = Int(buffer[2]) << 8 | Int(buffer[3])
                    offset = 4
                } else if length == 127 {
                    guard buffer.count >= 10 else { guard try fill(timeoutMilliseconds: timeoutMilliseconds) else { return nil }; continue }
                    length = buffer[2..<10].reduce(0) { $0 << 8 | Int($1) }
                    offset = 10
                }
                if buffer.count >= offset + length {
                    let payload = Array(buffer[offset..<offset + length])
                    buffer.removeFirst(offset + length)
                    return (fin, opcode, payload)
                }
            }
            guard try fill(timeoutMilliseconds: timeoutMilliseconds) else { return nil }
        }
    }

    /// Reads more bytes; false on timeout or end.
    private func fill(timeoutMilliseconds: Int32) throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = crawtls_read(handle, &chunk, chunk.count, timeoutMilliseconds)
        lastReadTimedOut = count == -2
        guard count > 0 else { return false }
        buffer += chunk[..<count]
        return true
    }

    private func find(_ pattern: [UInt8]) -> Int? {
        guard buffer.count >= pattern.count else { return nil }
        for start in 0...(buffer.count - pattern.count) where Array(buffer[start..<start + pattern.count]) == pattern { return start }
        return nil
    }

    // MARK: The parley/1 steps

    /// Upgrade, read the challenge, sign it, send auth. Returns the challenge.
    @discardableResult
    func sendAuth(port: Int, identity: DeviceIdentity, realm: String, certificateSHA256: [UInt8],
                  enrollmentCode: String = "", corruptSignature: Bool = false) throws -> Challenge {
        try upgrade(port: port)
        guard case let .challenge(challenge) = try nextMessage() else { throw Failure(description: "no challenge first") }
        let signed = Auth.signedData(nonce: challenge.nonce, serverCertificateSHA256: certificateSHA256,
                                     realm: realm, enrollmentCode: enrollmentCode)
        var signature = try identity.sign(signed)
        if corruptSignature { signature[0] ^= 1 }
        try send(.auth(Auth(identityKey: identity.publicKey, signature: signature, realm: realm, enrollmentCode: enrollmentCode)))
        return challenge
    }

    /// Authenticates and reads the welcome and the presence snapshot(s).
    @discardableResult
    func logIn(port: Int, identity: DeviceIdentity, realm: String, certificateSHA256: [UInt8],
               enrollmentCode: String = "") throws -> [DeviceID] {
        try sendAuth(port: port, identity: identity, realm: realm, certificateSHA256: certificateSHA256, enrollmentCode: enrollmentCode)
        let welcome = try nextMessage()
        guard case let .welcome(info) = welcome, info.deviceID == identity.deviceID else {
            throw Failure(description: "expected welcome, got \(welcome)")
        }
        guard case let .presenceSnapshot(online) = try nextMessage() else { throw Failure(description: "expected a presence snapshot") }
        return online
    }
}
