/// The payload of a `.control` frame on the direct path (PROTOCOL.md, "Call flow"):
///
///     | offset | size | field                                             |
///     | 0      | 1    | control type: 0x01 goodbye, 0x02 keepalive         |
///     | 1      | 2    | goodbye only: code, u16: 0 = hung up, otherwise a CallError code |
///
/// A keepalive is the type byte alone: it proves the sender is still there (consent on
/// the sealed path) and carries nothing else. Other control types are reserved; a
/// receiver ignores them.
public enum ControlFrame: Equatable, Sendable {
    case goodbye(code: UInt16)
    case keepalive

    public static let goodbyeType: UInt8 = 0x01
    public static let goodbyeCount = 3
    public static let keepaliveType: UInt8 = 0x02
    public static let keepaliveCount = 1

    public var encoded: [UInt8] {
        switch self {
        case let .goodbye(code): return [ControlFrame.goodbyeType, UInt8(code >> 8), UInt8(code & 0xff)]
        case .keepalive: return [ControlFrame.keepaliveType]
        }
    }

    /// nil for anything that is not exactly a goodbye or a keepalive (reserved types, wrong length).
    public static func decode(_ payload: [UInt8]) -> ControlFrame? {
        if payload.count == keepaliveCount, payload[0] == keepaliveType { return .keepalive }
        guard payload.count == goodbyeCount, payload[0] == goodbyeType else { return nil }
        return .goodbye(code: UInt16(payload[1]) << 8 | UInt16(payload[2]))
    }
}
