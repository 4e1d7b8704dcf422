/// The short authentication string two people read aloud when no security code
/// was set: 6 decimal digits shown as "123 456" (19.9 bits). A relay in the middle
/// of a call without a code gets one try per call: its chance that both sides show
/// the same digits is 1 in 10^6.
public struct ShortAuthenticationString: Equatable, Sendable, CustomStringConvertible {
    public let digits: String

    /// From the 8 derived SAS bytes: big-endian UInt64 modulo 10^6, zero-padded.
    init(derived: SecretBytes) throws {
        let value = try derived.withUnsafeBytes { bytes in
            bytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        }
        var modulus: UInt64 = 1
        for _ in 0..<SpecConstants.sasDigits { modulus *= 10 }
        let text = String(value % modulus)
        digits = String(repeating: "0", count: SpecConstants.sasDigits - text.count) + text
    }

    /// "123 456"
    public var description: String {
        let half = digits.index(digits.startIndex, offsetBy: SpecConstants.sasDigits / 2)
        return digits[..<half] + " " + digits[half...]
    }
}
