import ParleyCrypto

/// The allowlist file (PROTOCOL.md, "Enrollment"): UTF-8 text, one device per line,
///
///     <printable device ID> <display name>
///
/// The display name is the rest of the line after the first run of spaces or tabs
/// (may be empty, at most 64 bytes). Blank lines and lines starting with '#' are
/// ignored. Parsing is pure: `parley-signal` reads and writes the file.
public enum Allowlist {
    public static let maxNameBytes = 64
    public static let maxEntries = 100_000

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let line: Int
        public let reason: String
        public var description: String { "allowlist line \(line): \(reason)" }
    }

    public static func parse(_ text: String) throws -> [DeviceID: String] {
        var entries: [DeviceID: String] = [:]
        // Character.isNewline covers "\n" and "\r\n" (one Character in Swift).
        for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            guard !trimmed.isEmpty, !trimmed.hasPrefix("#") else { continue }
            let idText = trimmed.prefix { $0 != " " && $0 != "\t" }
            let name = String(trimmed.dropFirst(idText.count).drop { $0 == " " || $0 == "\t" })
            let device: DeviceID
            do {
                device = try DeviceID(printable: String(idText))
            } catch {
                throw ParseError(line: index + 1, reason: "\(error)")
            }
            guard name.utf8.count <= maxNameBytes else {
                throw ParseError(line: index + 1, reason: "display name longer than \(maxNameBytes) bytes")
            }
            guard entries[device] == nil else { throw ParseError(line: index + 1, reason: "device \(device) is listed twice") }
            guard entries.count < maxEntries else { throw ParseError(line: index + 1, reason: "more than \(maxEntries) devices") }
            entries[device] = name
        }
        return entries
    }

    /// The file text for `entries`, sorted by device ID, with a header comment.
    public static func render(_ entries: [DeviceID: String]) -> String {
        var text = "# parley-signal allowlist: <device ID> <display name>\n"
        for (device, name) in entries.sorted(by: { $0.key < $1.key }) {
            text += name.isEmpty ? "\(device.printable)\n" : "\(device.printable) \(name)\n"
        }
        return text
    }
}

extension EnrollmentCodes {
    /// A new one-time code for people to type: 16 base32 characters (80 bits) in groups
    /// of four, e.g. "k7pq-2m9x-a4rt-zz3b". Codes are compared exactly as typed after
    /// lower-casing and removing '-' and spaces (see `normalized`).
    public static func generate() -> String {
        generate(entropy: SystemEntropy.shared)
    }

    package static func generate(entropy: EntropySource) -> String {
        // 10 random bytes are exactly 16 base32 characters.
        let characters = Array(Base32.encode(entropy.bytes(10)))
        return stride(from: 0, to: 16, by: 4).map { String(characters[$0..<$0 + 4]) }.joined(separator: "-")
    }

    /// The form a code is stored and checked in: lower-case, without '-' and spaces.
    public static func normalized(_ code: String) -> String {
        String(code.lowercased().filter { $0 != "-" && $0 != " " })
    }
}
