import Logging
import ParleyProtocol
import SignallingCore

/// A config file, flag or option value that `parley-signal` cannot use. `code` is stable;
/// `description` is one line naming where the problem is (`file:line`, or the flag).
public struct ConfigFileError: Error, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The file cannot be read, or is over `OperatingLimits.maxConfigFileBytes`.
        case unreadable
        /// A line is not `key = value` (or is too long, or not UTF-8).
        case syntax
        /// The key is not one of `ConfigFile.Key`.
        case unknownKey
        /// The same key appears twice in one file.
        case duplicateKey
        /// The value is not valid for its key (type or range).
        case invalidValue
        /// Values that are valid alone but not together (e.g. ping_interval >= idle_timeout).
        case inconsistent
    }

    public let code: Code
    /// Where: "path:line", a flag such as "--port", or nil for the combined options.
    public let location: String?
    /// The line number within the file, when the error is on one line.
    public let line: Int?
    public let reason: String

    public init(_ code: Code, location: String?, line: Int? = nil, _ reason: String) {
        self.code = code
        self.location = location
        self.line = line
        self.reason = reason
    }

    public var description: String { location.map { "\($0): \(reason)" } ?? reason }
}

/// `parley-signal`'s config file: UTF-8 text, one `key = value` per line.
///
///     # a comment; blank lines are ignored
///     port = 8443                    # a comment may follow a value after a space
///     state_directory = "/srv/parley signal"   # quotes keep spaces and '#'; \" and \\ escape
///     idle_timeout = 75s             # durations: <integer><unit>, unit ms, s, m, h or d
///     byte_burst = 2MiB              # byte counts: an integer, optionally KiB, MiB or GiB
///
/// Keys are the cases of `Key` (every `ServerOptions` and `ServerConfiguration` field, and
/// `log_level`); an unknown or repeated key is an error naming its line. Values are checked
/// when the file is read, so every error names its line; `apply(to:)` then checks the
/// values that depend on each other. The file is bounded (`OperatingLimits.maxConfigFileBytes`,
/// lines up to `OperatingLimits.maxConfigLineBytes`). Command-line flags are applied as the
/// same settings (`overriding(with:)`), so they are checked by the same rules.
/// Signalling/SignallingServer/parley-signal.conf.example lists every key at its default.
public struct ConfigFile: Sendable {
    /// The keys, spelled as in the file.
    public enum Key: String, CaseIterable, Sendable {
        case listen, port
        case stateDirectory = "state_directory"
        case certificate
        case privateKey = "private_key"
        case enrollment, metrics
        case drainTimeout = "drain_timeout"
        case refusalHeadroom = "refusal_headroom"
        case eventLoop = "event_loop"
        case maxConnections = "max_connections"
        case handshakeTimeout = "handshake_timeout"
        case idleTimeout = "idle_timeout"
        case pingInterval = "ping_interval"
        case ringTimeout = "ring_timeout"
        case messagesPerSecond = "messages_per_second"
        case messageBurst = "message_burst"
        case bytesPerSecond = "bytes_per_second"
        case byteBurst = "byte_burst"
        case maxSendQueueBytes = "max_send_queue_bytes"
        case maxCallsPerDevice = "max_calls_per_device"
        case maxMessageBytes = "max_message_bytes"
        case logLevel = "log_level"

        /// The key a mistyped one most likely meant: at most two edits away.
        static func closest(to text: String) -> Key? {
            allCases.map { ($0, editDistance(Array(text.utf8), Array($0.rawValue.utf8))) }
                .filter { $0.1 <= 2 }.min { $0.1 < $1.1 }?.0
        }
    }

    /// One `key = value`, and where it came from ("path:line" or a flag) for errors.
    public struct Setting: Sendable, Equatable {
        public let key: Key
        public let value: String
        public let location: String
        public let line: Int?
    }

    /// In file order, then flags; a later setting of a key wins.
    public private(set) var settings: [Setting]

    /// The log level the settings name, if any (`ServerOptions` has no such field).
    public var logLevel: Logger.Level? {
        settings.last { $0.key == .logLevel }.flatMap { Logger.Level(rawValue: $0.value) }
    }

    /// No settings: applying it leaves the defaults.
    public init() { settings = [] }

    /// Parses and checks `text`; `path` names the file in errors.
    public init(parsing text: String, path: String? = nil) throws {
        let name = path ?? "config"
        var settings: [Setting] = []
        var seen: [Key: Int] = [:]
        // Character.isNewline covers "\n" and "\r\n" (one Character in Swift).
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let number = index + 1
            let location = "\(name):\(number)"
            guard rawLine.utf8.count <= OperatingLimits.maxConfigLineBytes else {
                throw ConfigFileError(.syntax, location: location, line: number, "line longer than \(OperatingLimits.maxConfigLineBytes) bytes")
            }
            guard let (keyText, value) = try Self.split(rawLine, location: location, line: number) else { continue }
            guard let key = Key(rawValue: keyText) else {
                let hint = Key.closest(to: keyText).map { "did you mean '\($0.rawValue)'?" } ?? "parley-signal.conf.example lists the keys"
                throw ConfigFileError(.unknownKey, location: location, line: number, "unknown key '\(keyText)' (\(hint))")
            }
            if let first = seen[key] {
                throw ConfigFileError(.duplicateKey, location: location, line: number, "'\(key.rawValue)' is already set on line \(first)")
            }
            seen[key] = number
            let setting = Setting(key: key, value: value, location: location, line: number)
            try Self.check(setting)
            settings.append(setting)
        }
        self.settings = settings
    }

    /// Reads and parses the file at `path` (at most `OperatingLimits.maxConfigFileBytes`).
    public static func load(path: String) throws -> ConfigFile {
        let bytes: [UInt8]?
        do {
            bytes = try FileSystem.readFile(path, limit: OperatingLimits.maxConfigFileBytes)
        } catch let failure as FileFailure {
            throw ConfigFileError(.unreadable, location: path, failure.description)
        }
        guard let bytes else { throw ConfigFileError(.unreadable, location: path, "no such file") }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigFileError(.syntax, location: path, "not UTF-8 text")
        }
        return try ConfigFile(parsing: text, path: path)
    }

    /// These settings followed by `overrides` (flags: the location is the flag's name),
    /// which are checked like file values and win over them.
    public func overriding(with overrides: [(key: Key, value: String, flag: String)]) throws -> ConfigFile {
        var result = self
        for override in overrides {
            let setting = Setting(key: override.key, value: override.value, location: override.flag, line: nil)
            try Self.check(setting)
            result.settings.append(setting)
        }
        return result
    }

    /// Sets the fields the settings name (log_level excepted: see `logLevel`), then checks
    /// the values that depend on each other (`ServerOptions.validate()`).
    public func apply(to options: inout ServerOptions) throws {
        for setting in settings {
            try Self.apply(setting, to: &options)
        }
        try options.validate()
    }

    // MARK: Parsing

    /// The key and value of a line, nil for a blank or comment line.
    private static func split(_ line: Substring, location: String, line number: Int) throws -> (String, String)? {
        let content = line.drop { $0 == " " || $0 == "\t" }
        guard !content.isEmpty, !content.hasPrefix("#") else { return nil }
        guard let equals = content.firstIndex(of: "=") else {
            throw ConfigFileError(.syntax, location: location, line: number, "expected 'key = value'")
        }
        let key = String(content[..<equals]).trimmingWhitespace
        guard !key.isEmpty, key.utf8.allSatisfy({ ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || $0 == UInt8(ascii: "_") }) else {
            throw ConfigFileError(.syntax, location: location, line: number, "a key is lower-case letters and '_', e.g. 'idle_timeout = 75s'")
        }
        let rest = content[content.index(after: equals)...].drop { $0 == " " || $0 == "\t" }
        let value: String
        if rest.hasPrefix("\"") {
            value = try quoted(rest, location: location, line: number)
        } else {
            value = unquoted(rest)
            if value.contains("\"") {
                throw ConfigFileError(.syntax, location: location, line: number, "a value with '\"' must be quoted as a whole")
            }
        }
        return (key, value)
    }

    /// An unquoted value ends at the end of the line or at a '#' after a space or tab.
    private static func unquoted(_ text: Substring) -> String {
        var end = text.endIndex
        var previous: Character = " "
        for index in text.indices {
            if text[index] == "#" && (previous == " " || previous == "\t") {
                end = index
                break
            }
            previous = text[index]
        }
        return String(text[..<end]).trimmingWhitespace
    }

    /// A "..." value with \" and \\ escapes; only a comment may follow it.
    private static func quoted(_ text: Substring, location: String, line number: Int) throws -> String {
        var value = ""
        var index = text.index(after: text.startIndex)
        while index < text.endIndex {
            let character = text[index]
            if character == "\"" {
                let after = text[text.index(after: index)...].drop { $0 == " " || $0 == "\t" }
                guard after.isEmpty || after.hasPrefix("#") else {
                    throw ConfigFileError(.syntax, location: location, line: number, "unexpected text after the closing quote")
                }
                return value
            }
            if character == "\\" {
                index = text.index(after: index)
                guard index < text.endIndex, text[index] == "\"" || text[index] == "\\" else {
                    throw ConfigFileError(.syntax, location: location, line: number, "only \\\" and \\\\ are escapes in a quoted value")
                }
            }
            value.append(text[index])
            index = text.index(after: index)
        }
        throw ConfigFileError(.syntax, location: location, line: number, "missing closing quote")
    }

    /// Checks a setting's value on its own (type and range), naming its location.
    private static func check(_ setting: Setting) throws {
        guard !setting.value.isEmpty else {
            throw ConfigFileError(.syntax, location: setting.location, line: setting.line, "'\(setting.key.rawValue)' has no value")
        }
        if let bad = setting.value.unicodeScalars.first(where: \.isUnsafeInText) {
            throw ConfigFileError(.syntax, location: setting.location, line: setting.line,
                                  "control character U+\(String(bad.value, radix: 16, uppercase: true)) in the value")
        }
        var scratch = ServerOptions()
        try apply(setting, to: &scratch)
    }

    private static func apply(_ setting: Setting, to options: inout ServerOptions) throws {
        do {
            try set(setting.key, setting.value, in: &options)
        } catch let invalid as InvalidValue {
            throw ConfigFileError(.invalidValue, location: setting.location, line: setting.line,
                                  "\(setting.key.rawValue) = \(setting.value): \(invalid.reason)")
        }
    }

    // MARK: Values

    private struct InvalidValue: Error {
        let reason: String
        init(_ reason: String) { self.reason = reason }
    }

    /// The one place that maps a key to a field, with the field's allowed range.
    private static func set(_ key: Key, _ value: String, in options: inout ServerOptions) throws {
        switch key {
        case .listen:
            guard value.utf8.count <= 253, !value.contains(where: \.isWhitespace) else {
                throw InvalidValue("expected a host name or IP address")
            }
            options.listenHost = value
        case .port:
            options.port = try integer(value, in: 0...65535)
        case .stateDirectory:
            options.stateDirectory = value
        case .certificate:
            options.certificatePath = value
        case .privateKey:
            options.privateKeyPath = value
        case .enrollment:
            switch value {
            case "open": options.enrollment = .open
            case "allowlist": options.enrollment = .allowlist
            default: throw InvalidValue("expected 'open' or 'allowlist'")
            }
        case .metrics:
            if value == "off" {
                options.metricsPort = nil
            } else {
                let (host, port) = try hostAndPort(value)
                options.metricsHost = host
                options.metricsPort = port
            }
        case .drainTimeout:
            options.drainTimeout = try duration(value, in: .zero ... .seconds(3600))
        case .refusalHeadroom:
            options.refusalHeadroom = try integer(value, in: 0...100_000)
        case .eventLoop:
            guard let loop = ServerOptions.EventLoop(rawValue: value) else { throw InvalidValue("expected 'libev' or 'poll'") }
            options.eventLoop = loop
        case .maxConnections:
            options.core.maxConnections = try integer(value, in: 1...1_000_000)
        case .handshakeTimeout:
            options.core.handshakeTimeout = try duration(value, in: .milliseconds(1) ... .seconds(3600))
        case .idleTimeout:
            options.core.idleTimeout = try duration(value, in: .seconds(1) ... .seconds(86_400))
        case .pingInterval:
            let interval = try duration(value, in: .seconds(1) ... .seconds(Int(UInt16.max)))
            guard interval.components.attoseconds == 0 else { throw InvalidValue("expected whole seconds") }
            options.core.pingIntervalSeconds = UInt16(interval.components.seconds)
        case .ringTimeout:
            options.core.ringTimeout = try duration(value, in: .seconds(1) ... .seconds(3600))
        case .messagesPerSecond:
            options.core.messagesPerSecond = try rate(value, minimum: .leastNonzeroMagnitude)
        case .messageBurst:
            options.core.messageBurst = try rate(value, minimum: 1)
        case .bytesPerSecond:
            options.core.bytesPerSecond = Double(try byteCount(value, in: 1...(1 << 40)))
        case .byteBurst:
            options.core.byteBurst = Double(try byteCount(value, in: 1...(1 << 40)))
        case .maxSendQueueBytes:
            // A queue must hold the largest message the server may forward.
            options.core.maxSendQueueBytes = try byteCount(value, in: SignalLimits.maxMessageBytes...(1 << 30))
        case .maxCallsPerDevice:
            options.core.maxCallsPerDevice = try integer(value, in: 1...1000)
        case .maxMessageBytes:
            options.core.maxMessageBytes = try byteCount(value, in: ConfigFile.minimumMaxMessageBytes...SignalLimits.maxMessageBytes)
        case .logLevel:
            guard Logger.Level(rawValue: value) != nil else {
                throw InvalidValue("expected one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }
    }

    /// The smallest `max_message_bytes` allowed: the largest `auth` message (version, type,
    /// key, signature, and the longest realm and enrollment code), so every device can log in.
    public static let minimumMaxMessageBytes = SignalLimits.headerCount + 32 + 64 + 1 + SignalLimits.maxRealmBytes
        + 1 + SignalLimits.maxEnrollmentCodeBytes

    private static func integer(_ text: String, in range: ClosedRange<Int>) throws -> Int {
        guard let value = Int(text) else { throw InvalidValue("expected a whole number") }
        guard range.contains(value) else { throw InvalidValue("must be \(range.lowerBound)...\(range.upperBound)") }
        return value
    }

    private static func rate(_ text: String, minimum: Double) throws -> Double {
        guard let value = Double(text), value.isFinite, !text.hasPrefix("+") else { throw InvalidValue("expected a number") }
        guard value >= minimum, value <= 1e12 else { throw InvalidValue(minimum < 1 ? "must be positive" : "must be at least \(Int(minimum))") }
        return value
    }

    /// An integer with an optional binary unit: 512, 64KiB, 2MiB, 1GiB.
    private static func byteCount(_ text: String, in range: ClosedRange<Int>) throws -> Int {
        let units = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30)]
        var digits = Substring(text), multiplier = 1
        if let (unit, factor) = units.first(where: { text.hasSuffix($0.0) }) {
            digits = text.dropLast(unit.count)
            multiplier = factor
        }
        guard digits.allSatisfy(\.isASCIIDigit), let count = Int(digits) else {
            throw InvalidValue("expected a byte count such as 32813, 64KiB or 2MiB")
        }
        let (value, overflow) = count.multipliedReportingOverflow(by: multiplier)
        guard !overflow, range.contains(value) else { throw InvalidValue("must be \(range.lowerBound)...\(range.upperBound) bytes") }
        return value
    }

    private static func duration(_ text: String, in range: ClosedRange<Duration>) throws -> Duration {
        guard let value = parseDuration(text) else { throw InvalidValue("expected a duration such as 250ms, 10s, 2m or 1h") }
        guard range.contains(value) else {
            throw InvalidValue("must be \(formatDuration(range.lowerBound))...\(formatDuration(range.upperBound))")
        }
        return value
    }

    /// `host:port`, or `[v6 address]:port`.
    private static func hostAndPort(_ text: String) throws -> (String, Int) {
        guard let colon = text.lastIndex(of: ":") else { throw InvalidValue("expected host:port or off") }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !host.contains(where: \.isWhitespace), host.utf8.count <= 253 else {
            throw InvalidValue("expected host:port or off")
        }
        return (host, try integer(String(text[text.index(after: colon)...]), in: 0...65535))
    }

    /// `<integer><unit>` with unit ms, s, m, h or d: `250ms`, `10s`, `2m`, `7d`. Nil if not.
    public static func parseDuration(_ text: String) -> Duration? {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        guard let (unit, milliseconds) = units.first(where: { unit in
            text.hasSuffix(unit.0) && text.dropLast(unit.0.count).allSatisfy(\.isASCIIDigit) && text.count > unit.0.count
        }) else { return nil }
        guard let count = Int64(text.dropLast(unit.count)) else { return nil }
        let (total, overflow) = count.multipliedReportingOverflow(by: milliseconds)
        return overflow ? nil : .milliseconds(total)
    }

    /// The shortest `parseDuration` form of a whole number of milliseconds: 1h, 45s, 250ms.
    public static func formatDuration(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        for (unit, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000)]
            where milliseconds != 0 && milliseconds % size == 0 {
            return "\(milliseconds / size)\(unit)"
        }
        return milliseconds == 0 ? "0s" : "\(milliseconds)ms"
    }
}

extension ServerOptions {
    /// Checks the fields that depend on each other; each field's own range is checked
    /// where it is read (`ConfigFile`).
    public func validate() throws {
        guard (certificatePath == nil) == (privateKeyPath == nil) else {
            throw ConfigFileError(.inconsistent, location: nil,
                                  "certificate and private_key go together: set both, or neither for the state directory's self-signed pair")
        }
        guard Duration.seconds(Int(core.pingIntervalSeconds)) < core.idleTimeout else {
            throw ConfigFileError(.inconsistent, location: nil,
                                  "ping_interval (\(core.pingIntervalSeconds)s) must be shorter than idle_timeout (\(ConfigFile.formatDuration(core.idleTimeout))), or idle devices are cut off")
        }
        guard core.byteBurst >= Double(core.maxMessageBytes) else {
            throw ConfigFileError(.inconsistent, location: nil,
                                  "byte_burst (\(Int(core.byteBurst))) must be at least max_message_bytes (\(core.maxMessageBytes)), or the largest message is never admitted")
        }
    }
}

/// Levenshtein distance: insertions, deletions and substitutions.
private func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
    var previous = Array(0...b.count)
    for (i, x) in a.enumerated() {
        var current = [i + 1]
        for (j, y) in b.enumerated() {
            current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
        }
        previous = current
    }
    return previous[b.count]
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
