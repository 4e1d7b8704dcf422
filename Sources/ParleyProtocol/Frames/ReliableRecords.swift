/// The records the ordered byte stream is made of (Signalling/spec-drafts/reliable.md,
/// "Stream records"): kind (1) | body length (u32) | body. Records follow each other with
/// no padding and may span packets.
enum ReliableRecordKind: UInt8 {
    /// One whole message: body = the message.
    case message = 1
    /// body = file ID (u32) | size (u64) | name length (u8) | name (UTF-8).
    case fileStart = 2
    /// body = file ID (u32) | 1...65536 file bytes.
    case fileData = 3
    /// body = file ID (u32) | BLAKE2b-256 digest of the file bytes (32).
    case fileEnd = 4
    /// body = file ID (u32) | reason (u16).
    case fileCancel = 5
}

/// Record encoders used by the sender.
enum ReliableRecordEncoder {
    static func header(kind: ReliableRecordKind, bodyLength: Int) -> [UInt8] {
        [kind.rawValue, UInt8(truncatingIfNeeded: bodyLength >> 24), UInt8(truncatingIfNeeded: bodyLength >> 16),
         UInt8(truncatingIfNeeded: bodyLength >> 8), UInt8(truncatingIfNeeded: bodyLength)]
    }

    static func fileStart(id: UInt32, size: UInt64, name: [UInt8]) -> [UInt8] {
        var record = header(kind: .fileStart, bodyLength: 13 + name.count)
        appendU32(id, to: &record)
        for shift in stride(from: 56, through: 0, by: -8) { record.append(UInt8(truncatingIfNeeded: size >> UInt64(shift))) }
        record.append(UInt8(name.count))
        record += name
        return record
    }

    static func fileEnd(id: UInt32, digest: [UInt8]) -> [UInt8] {
        var record = header(kind: .fileEnd, bodyLength: 4 + digest.count)
        appendU32(id, to: &record)
        return record + digest
    }

    static func fileCancel(id: UInt32, reason: UInt16) -> [UInt8] {
        var record = header(kind: .fileCancel, bodyLength: 6)
        appendU32(id, to: &record)
        return record + [UInt8(reason >> 8), UInt8(reason & 0xff)]
    }

    /// Writes a file data record header (kind, length, file ID: 9 bytes) for `dataCount` bytes.
    static func writeFileDataHeader(id: UInt32, dataCount: Int, into buffer: UnsafeMutableRawBufferPointer) {
        buffer[0] = ReliableRecordKind.fileData.rawValue
        WireBytes.putU32(UInt32(4 + dataCount), into: buffer, at: 1)
        WireBytes.putU32(id, into: buffer, at: 5)
    }

    static let fileDataHeaderBytes = ReliableConstants.recordHeaderBytes + 4

    private static func appendU32(_ value: UInt32, to bytes: inout [UInt8]) {
        bytes += [UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16),
                  UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
    }
}

/// What the parser found in the stream; `end` is the stream offset just past the bytes
/// it covers, released to the window when the app takes the event.
enum ReliableParsedRecord {
    case message([UInt8], end: UInt64)
    case fileStart(id: UInt32, size: UInt64, name: String?, end: UInt64)
    /// A piece of a file data record (records split across packets arrive in pieces).
    case fileData(id: UInt32, bytes: [UInt8], end: UInt64)
    case fileEnd(id: UInt32, digest: [UInt8], end: UInt64)
    case fileCancel(id: UInt32, reason: UInt16, end: UInt64)
}

/// Splits the in-order stream into records, incrementally: bytes arrive in any pieces.
/// Bounded: a message body is at most `maxMessageBytes`, other bodies are small and checked
/// against their kind's exact or largest length before anything is buffered.
struct ReliableRecordParser {
    private enum State {
        case header
        case message
        case fileDataID
        case fileData(id: UInt32)
        case control
    }

    private var state = State.header
    private var header: [UInt8] = []
    private var kind = ReliableRecordKind.message
    /// Body bytes still to come in the current record.
    private var remaining = 0
    /// Message body or small body being assembled.
    private var body: [UInt8] = []

    /// Parses `bytes`, which start at stream offset `offset`, appending what completes to `records`.
    mutating func consume(_ bytes: UnsafeRawBufferPointer, at offset: UInt64,
                          into records: inout [ReliableParsedRecord]) throws(ReliableError) {
        var index = 0
        while index < bytes.count {
            let available = bytes.count - index
            switch state {
            case .header:
                let take = min(ReliableConstants.recordHeaderBytes - header.count, available)
                header += UnsafeRawBufferPointer(rebasing: bytes[index..<index + take])
                index += take
                if header.count == ReliableConstants.recordHeaderBytes {
                    try startRecord()
                    if remaining == 0 { try finishControl(end: offset + UInt64(index), into: &records) }
                }
            case .message:
                let take = min(remaining, available)
                body += UnsafeRawBufferPointer(rebasing: bytes[index..<index + take])
                index += take
                remaining -= take
                if remaining == 0 {
                    records.append(.message(body, end: offset + UInt64(index)))
                    body = []
                    state = .header
                }
            case .fileDataID:
                let take = min(4 - body.count, available)
                body += UnsafeRawBufferPointer(rebasing: bytes[index..<index + take])
                index += take
                remaining -= take
                if body.count == 4 {
                    let id = body.withUnsafeBytes { WireBytes.u32($0, at: 0) }
                    body.removeAll(keepingCapacity: true)
                    state = .fileData(id: id)
                }
            case let .fileData(id):
                let take = min(remaining, available)
                index += take
                remaining -= take
                records.append(.fileData(id: id, bytes: Array(UnsafeRawBufferPointer(rebasing: bytes[index - take..<index])),
                                         end: offset + UInt64(index)))
                if remaining == 0 { state = .header }
            case .control:
                let take = min(remaining, available)
                body += UnsafeRawBufferPointer(rebasing: bytes[index..<index + take])
                index += take
                remaining -= take
                if remaining == 0 { try finishControl(end: offset + UInt64(index), into: &records) }
            }
        }
    }

    /// The 5 header bytes are in: checks the kind and length, picks the body state.
    private mutating func startRecord() throws(ReliableError) {
        guard let parsedKind = ReliableRecordKind(rawValue: header[0]) else {
            throw .protocolViolation("unknown record kind \(header[0])")
        }
        let length = header.withUnsafeBytes { Int(WireBytes.u32($0, at: 1)) }
        header.removeAll(keepingCapacity: true)
        kind = parsedKind
        remaining = length
        body.removeAll(keepingCapacity: true)
        switch parsedKind {
        case .message:
            guard length <= ReliableConstants.maxMessageBytes else {
                throw .protocolViolation("message record of \(length) bytes exceeds \(ReliableConstants.maxMessageBytes)")
            }
            body.reserveCapacity(length)
            state = .message
        case .fileStart:
            guard length >= 13, length <= 13 + ReliableConstants.maxFileNameBytes else {
                throw .protocolViolation("file start record of \(length) bytes (must be 13...\(13 + ReliableConstants.maxFileNameBytes))")
            }
            state = .control
        case .fileData:
            guard length > 4, length <= ReliableConstants.maxFileDataRecordBytes else {
                throw .protocolViolation("file data record of \(length) bytes (must be 5...\(ReliableConstants.maxFileDataRecordBytes))")
            }
            state = .fileDataID
        case .fileEnd:
            guard length == 4 + ReliableConstants.fileDigestBytes else {
                throw .protocolViolation("file end record of \(length) bytes (must be \(4 + ReliableConstants.fileDigestBytes))")
            }
            state = .control
        case .fileCancel:
            guard length == 6 else { throw .protocolViolation("file cancel record of \(length) bytes (must be 6)") }
            state = .control
        }
    }

    /// A small body is complete: decodes it.
    private mutating func finishControl(end: UInt64, into records: inout [ReliableParsedRecord]) throws(ReliableError) {
        state = .header
        let body = self.body
        self.body.removeAll(keepingCapacity: true)
        if kind == .message {
            records.append(.message([], end: end))
            return
        }
        let id = body.withUnsafeBytes { WireBytes.u32($0, at: 0) }
        switch kind {
        case .fileStart:
            let size = body.withUnsafeBytes { WireBytes.u64($0, at: 4) }
            let nameLength = Int(body[12])
            guard body.count == 13 + nameLength else {
                throw .protocolViolation("file start name length \(nameLength) does not match its record of \(body.count) bytes")
            }
            var name: String?
            if nameLength > 0 {
                guard let decoded = String(validating: body[13...], as: UTF8.self) else {
                    throw .protocolViolation("file start name is not valid UTF-8")
                }
                name = decoded
            }
            records.append(.fileStart(id: id, size: size, name: name, end: end))
        case .fileEnd:
            records.append(.fileEnd(id: id, digest: Array(body[4...]), end: end))
        case .fileCancel:
            records.append(.fileCancel(id: id, reason: UInt16(body[4]) << 8 | UInt16(body[5]), end: end))
        case .message, .fileData:
            // Not reachable: message and file data bodies never enter the control state.
            preconditionFailure("record kind \(kind) has no small body")
        }
    }
}
