#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import Synchronization

/// Where `LogfmtLogHandler` writes: a function given one whole line (with its "\n") at a
/// time. It may be called from any thread.
public struct LogfmtSink: Sendable {
    public let write: @Sendable (String) -> Void

    public init(_ write: @escaping @Sendable (String) -> Void) { self.write = write }

    /// Standard error, one `write(2)` per line under a process-wide lock, so lines from
    /// several threads never interleave.
    public static let standardError = LogfmtSink(writeToStandardError)
}

private let standardErrorLock = Mutex<Void>(())

private func writeToStandardError(_ line: String) {
    standardErrorLock.withLock { _ in
        var line = line
        line.withUTF8 { buffer in
            var written = 0
            while written < buffer.count {
                let count = write(2, buffer.baseAddress! + written, buffer.count - written)  // count > 0, so the base is non-nil
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { return }  // stderr is gone: nothing better to do than drop the line
                written += count
            }
        }
    }
}

/// A swift-log handler that writes each record as one logfmt line:
///
///     ts=2026-11-22T10:00:00.123Z level=info msg="listening" logger=parley-signal host=127.0.0.1 port=8443
///
/// `ts` is UTC with milliseconds; `msg` is always quoted; `logger` is the label (omitted
/// when empty); then the metadata (handler, provider, then the record's own, later
/// winning), sorted by key, with an `error` key for a record's error. Nested dictionaries
/// are flattened to `key.subkey`. A value is written bare when it is plain ASCII without
/// spaces, quotes, `=` or `\`, and quoted otherwise with `\"`, `\\`, `\n`, `\r`, `\t` and
/// `\uXXXX` / `\UXXXXXXXX` escapes for every other control, format or line-separator
/// character, so that no value can start a line of its own or forge a key (no log
/// injection). Metadata keys are reduced to `[A-Za-z0-9_.:/-]`; a key that would repeat
/// `ts`, `level`, `msg`, `logger` or `error` is written as `meta.<key>`.
///
/// It formats; it does not judge content. Callers log events with metadata such as
/// device fingerprints, connection IDs, counts and error codes, and never pass payloads,
/// keys, enrollment codes or other secrets, in the message or in metadata.
///
/// Thread-safe: a value type whose sink serialises whole lines.
public struct LogfmtLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level

    private let label: String
    private let sink: LogfmtSink
    private let clock: @Sendable () -> WallClockTime

    /// A point in UTC as the system clock gives it: seconds since 1970 and nanoseconds.
    public struct WallClockTime: Sendable {
        public var seconds: Int64
        public var nanoseconds: Int32
        public init(seconds: Int64, nanoseconds: Int32) {
            self.seconds = seconds
            self.nanoseconds = nanoseconds
        }

        /// CLOCK_REALTIME now.
        public static func now() -> WallClockTime {
            var time = timespec()
            clock_gettime(CLOCK_REALTIME, &time)
            return WallClockTime(seconds: Int64(time.tv_sec), nanoseconds: Int32(time.tv_nsec))
        }
    }

    /// A handler writing to `sink` (standard error by default) records at `logLevel` and above.
    public init(label: String, logLevel: Logger.Level = .info, sink: LogfmtSink = .standardError,
                metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider,
                clock: @escaping @Sendable () -> WallClockTime = { WallClockTime.now() }) {
        self.label = label
        self.logLevel = logLevel
        self.sink = sink
        self.metadataProvider = metadataProvider
        self.clock = clock
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        guard event.level >= logLevel else { return }
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let own = event.metadata { merged.merge(own) { $1 } }

        var fields: [(String, String)] = []
        flatten(merged, prefix: "", into: &fields)
        if let error = event.error { fields.append(("error", "\(error)")) }

        var line = "ts=\(Self.timestamp(clock())) level=\(event.level.rawValue) msg=\(Self.quoted(event.message.description))"
        if !label.isEmpty { line += " logger=\(Self.value(label))" }
        for (key, value) in fields.sorted(by: { $0.0 < $1.0 }) {
            line += " \(key)=\(Self.value(value))"
        }
        line += "\n"
        sink.write(line)
    }

    // MARK: Formatting

    private static let reservedKeys: Set<String> = ["ts", "level", "msg", "logger", "error"]

    private func flatten(_ metadata: Logger.Metadata, prefix: String, into fields: inout [(String, String)]) {
        for (key, value) in metadata {
            let name = prefix + Self.key(key)
            if case let .dictionary(nested) = value, !nested.isEmpty {
                flatten(nested, prefix: name + ".", into: &fields)
            } else {
                fields.append((prefix.isEmpty && Self.reservedKeys.contains(name) ? "meta." + name : name, value.description))
            }
        }
    }

    /// A key with every character outside `[A-Za-z0-9_.:/-]` replaced by `_`.
    static func key(_ text: String) -> String {
        let cleaned = String(text.unicodeScalars.map { scalar -> Character in
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", "_", ".", ":", "/", "-": return Character(scalar)
            default: return "_"
            }
        })
        return cleaned.isEmpty ? "_" : cleaned
    }

    /// A value bare when that is unambiguous, quoted otherwise.
    static func value(_ text: String) -> String {
        let bare = !text.isEmpty && text.utf8.allSatisfy { byte in
            byte > 0x20 && byte < 0x7f && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "=") && byte != UInt8(ascii: "\\")
        }
        return bare ? text : quoted(text)
    }

    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.isUnsafeInText || scalar.properties.generalCategory == .format:
                let digits = String(scalar.value, radix: 16)
                result += scalar.value <= 0xFFFF
                    ? "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
                    : "\\U" + String(repeating: "0", count: 8 - digits.count) + digits
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    /// RFC 3339 in UTC with milliseconds: 2026-11-22T10:00:00.123Z.
    static func timestamp(_ time: WallClockTime) -> String {
        var seconds = time_t(time.seconds)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        let milliseconds = Int32(max(0, min(999, time.nanoseconds / 1_000_000)))
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))"
            + "T\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(milliseconds, 3))Z"
    }
}
