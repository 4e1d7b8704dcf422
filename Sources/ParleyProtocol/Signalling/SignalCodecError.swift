/// Why the codec refused a message: the stable `code` the server sends back in an
/// error frame, and a message a person can act on. The message names fields, lengths
/// and type numbers only, never field contents, so it can be logged and sent as is.
public struct SignalCodecError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `malformed`, `unsupportedVersion` or `messageTooLarge`.
    public let code: SignalErrorCode
    public let message: String

    public init(code: SignalErrorCode, message: String) {
        self.code = code
        self.message = message
    }

    static func malformed(_ message: String) -> SignalCodecError {
        SignalCodecError(code: .malformed, message: message)
    }

    static func tooLarge(_ what: String, limit: Int, actual: Int) -> SignalCodecError {
        SignalCodecError(code: .messageTooLarge, message: "\(what) of \(actual) exceeds the limit of \(limit)")
    }

    public var description: String { "\(code) (\(code.rawValue)): \(message)" }
}
