/// The payload of a `.control` frame on the direct path (PROTOCOL.md, "Call flow"):
///
///     | offset | size | field                                            |
///     | 0      | 1    | control type: 0x01 goodbye                        |
///     | 1      | 2    | code, u16: 0 = hung up, otherwise a CallError code |
///
/// Other control types are reserved; a receiver ignores them.
public enum ControlFrame: Equatable, Sendable {
    case goodbye(code: UInt16)

    public static let goodbyeType: UInt8 = 0x01
    public static let goodbyeCount = 3

    public var encoded: [UInt8] {
        switch self {
        case let .goodbye(code): return [ControlFrame.goodbyeType, UInt8(code >> 8), UInt8(code & 0xff)]
        }
    }

    /// nil for anything that is not exactly a goodbye (reserved types, wrong length).
    public static func decode(_ payload: [UInt8]) -> ControlFrame? {
        guard payload.count == goodbyeCount, payload[0] == goodbyeType else { return nil }
        return .goodbye(code: UInt16(payload[1]) << 8 | UInt16(payload[2]))
    }
}
