/// Every failure of the reliable channel, with a stable numeric code (6051-6099,
/// Signalling/spec-drafts/reliable.md, "Errors") and a message a person can act on.
/// Messages name sizes, offsets and numbers only, never payload bytes.
public enum ReliableError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A message is larger than `ReliableConstants.maxMessageBytes`.
    case messageTooLarge(limit: Int, actual: Int)
    /// The send buffer cannot take this now; retry after the `.writable` event.
    case sendBufferFull(needed: Int, free: Int)
    /// A packet does not follow the wire format; nothing was changed.
    case malformedPacket(String)
    /// The peer sent stream bytes beyond the window this side advertised; nothing was changed.
    case flowControlViolation(end: UInt64, limit: UInt64)
    /// An ack names a packet number that was never sent; nothing was changed.
    case ackOfUnsentPacket(packetNumber: UInt64, largestSent: UInt64?)
    /// A frame of a type the channel does not handle was passed to it; nothing was changed.
    case unexpectedFrameType(UInt8)
    /// The peer acknowledged nothing for the silence limit while data was outstanding.
    case peerUnresponsive(seconds: Int)
    /// The peer's byte stream broke a record rule; the channel cannot continue.
    case protocolViolation(String)
    /// The channel failed earlier (the code of that failure); it accepts nothing more.
    case channelFailed(code: Int)
    /// No outgoing file with this ID is open.
    case unknownFile(UInt32)
    /// Too many files are open in this direction; finish or cancel one first.
    case tooManyOpenFiles(limit: Int)
    /// More file bytes were offered than the size given to `startFile`.
    case fileOverrun(size: UInt64, offered: UInt64)
    /// A file name is longer than `ReliableConstants.maxFileNameBytes` in UTF-8.
    case fileNameTooLong(limit: Int, actual: Int)
    /// A received file's digest does not match the sender's: the file is corrupt.
    case fileIntegrity
    /// A received file ended with another byte count than announced.
    case fileSizeMismatch(announced: UInt64, received: UInt64)
    /// The sender cancelled the file (its reason code attached).
    case fileCancelled(reason: UInt16)
    /// A configuration value is out of range.
    case invalidConfiguration(String)

    /// Stable numeric code for logs and the C API.
    public var code: Int {
        switch self {
        case .messageTooLarge: return 6051
        case .sendBufferFull: return 6052
        case .malformedPacket: return 6053
        case .flowControlViolation: return 6054
        case .ackOfUnsentPacket: return 6055
        case .unexpectedFrameType: return 6056
        case .peerUnresponsive: return 6057
        case .protocolViolation: return 6058
        case .channelFailed: return 6059
        case .unknownFile: return 6060
        case .tooManyOpenFiles: return 6061
        case .fileOverrun: return 6062
        case .fileNameTooLong: return 6063
        case .fileIntegrity: return 6064
        case .fileSizeMismatch: return 6065
        case .fileCancelled: return 6066
        case .invalidConfiguration: return 6067
        }
    }

    public var description: String {
        switch self {
        case let .messageTooLarge(limit, actual):
            return "message of \(actual) bytes exceeds the limit of \(limit) bytes: stream it as a file (startFile) instead"
        case let .sendBufferFull(needed, free):
            return "send buffer full (\(needed) bytes needed, \(free) free): retry after the writable event"
        case let .malformedPacket(reason):
            return "malformed reliable packet: \(reason)"
        case let .flowControlViolation(end, limit):
            return "peer sent stream bytes up to offset \(end), beyond the advertised window limit \(limit)"
        case let .ackOfUnsentPacket(packetNumber, largestSent):
            let sent = largestSent.map { "the largest sent is \($0)" } ?? "none was sent yet"
            return "ack names packet \(packetNumber), which was never sent (\(sent))"
        case let .unexpectedFrameType(type):
            return "frame type \(type) is not reliable-channel traffic (expected messageData 3 or messageAck 4)"
        case let .peerUnresponsive(seconds):
            return "peer acknowledged nothing for \(seconds) s while data was outstanding: the path or the peer is gone"
        case let .protocolViolation(reason):
            return "peer broke the reliable stream format: \(reason)"
        case let .channelFailed(code):
            return "the reliable channel failed earlier (error \(code)) and accepts nothing more: open a new one"
        case let .unknownFile(id):
            return "no outgoing file \(id) is open (finished, cancelled or never started)"
        case let .tooManyOpenFiles(limit):
            return "\(limit) files are already open in this direction: wait for one to finish or cancel one"
        case let .fileOverrun(size, offered):
            return "file bytes offered up to \(offered), beyond the size \(size) given to startFile"
        case let .fileNameTooLong(limit, actual):
            return "file name of \(actual) UTF-8 bytes exceeds the limit of \(limit)"
        case .fileIntegrity:
            return "file integrity failure: the received bytes do not match the sender's digest; discard the file"
        case let .fileSizeMismatch(announced, received):
            return "file ended after \(received) bytes, but \(announced) were announced; discard the file"
        case let .fileCancelled(reason):
            return "the sender cancelled the file (reason \(reason)); discard what was received"
        case let .invalidConfiguration(reason):
            return "invalid reliable channel configuration: \(reason)"
        }
    }
}
