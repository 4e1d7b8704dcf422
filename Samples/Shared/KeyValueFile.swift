import Glibc

/// A sample's configuration file: one `key = value` per line, `#` starts a comment (at the
/// start of a line, or after a space), a value that holds spaces or `#` is written in double
/// quotes. Keys the caller does not know, repeated keys (unless the caller allows them) and
/// lines without `=` are errors naming the file and line. Files are bounded: at most
/// `maxBytes` bytes and `maxLines` lines.
public struct KeyValueFile: Sendable {
    public static let maxBytes = 256 * 1024
    public static let maxLines = 4096

    public struct Entry: Sendable, Equatable {
        public var key: String
        public var value: String
        public var line: Int
    }

    public let path: String
    public private(set) var entries: [Entry] = []

    public init(path: String, entries: [Entry]) {
        self.path = path
        self.entries = entries
    }

    /// Loads and parses `path`. `keys` are the keys allowed; `repeatable` those that may
    /// appear more than once (list-valued keys such as contacts).
    public static func load(path: String, keys: Set<String>, repeatable: Set<String> = []) throws(SampleError) -> KeyValueFile {
        let text = try readTextFile(path: path, limit: maxBytes)
        return try parse(text, path: path, keys: keys, repeatable: repeatable)
    }

    public static func parse(_ text: String, path: String, keys: Set<String>, repeatable: Set<String> = []) throws(SampleError) -> KeyValueFile {
        var entries: [Entry] = []
        var seen: Set<String> = []
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count <= maxLines else { throw SampleError.configuration("\(path): more than \(maxLines) lines") }
        for (index, rawLine) in lines.enumerated() {
            let number = index + 1
            let line = stripComment(String(rawLine)).trimmingSpaces()
            if line.isEmpty { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw SampleError.configuration("\(path):\(number): expected \"key = value\", got \"\(line.prefix(60))\"")
            }
            let key = String(line[..<equals]).trimmingSpaces()
            var value = String(line[line.index(after: equals)...]).trimmingSpaces()
            guard keys.contains(key) else {
                let known = keys.sorted().joined(separator: ", ")
                throw SampleError.configuration("\(path):\(number): unknown key \"\(key.prefix(60))\" (known keys: \(known))")
            }
            if seen.contains(key), !repeatable.contains(key) {
                throw SampleError.configuration("\(path):\(number): \"\(key)\" is set twice")
            }
            seen.insert(key)
            if value.hasPrefix("\"") {
                guard value.count >= 2, value.hasSuffix("\"") else {
                    throw SampleError.configuration("\(path):\(number): unterminated quoted value for \"\(key)\"")
                }
                value = String(value.dropFirst().dropLast())
            }
            entries.append(Entry(key: key, value: value, line: number))
        }
        return KeyValueFile(path: path, entries: entries)
    }

    /// The value of `key`, or nil when the file does not set it.
    public subscript(key: String) -> String? { entries.last { $0.key == key }?.value }

    /// Every value of a repeatable key, in file order.
    public func values(_ key: String) -> [Entry] { entries.filter { $0.key == key } }

    /// Removes a comment: `#` at the start or after whitespace, outside double quotes.
    private static func stripComment(_ line: String) -> String {
        var inQuotes = false
        var previous: Character = " "
        for index in line.indices {
            let character = line[index]
            if character == "\"" { inQuotes.toggle() }
            if character == "#", !inQuotes, previous == " " || previous == "\t" { return String(line[..<index]) }
            previous = character
        }
        return line
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and carriage returns.
    public func trimmingSpaces() -> String {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let start = firstIndex(where: { !blank($0) }), let end = lastIndex(where: { !blank($0) }) else { return "" }
        return String(self[start...end])
    }
}

/// Reads a whole text file of at most `limit` bytes, with a clear error otherwise.
public func readTextFile(path: String, limit: Int) throws(SampleError) -> String {
    let bytes = try readFile(path: path, limit: limit)
    return String(decoding: bytes, as: UTF8.self)
}

/// Reads a whole file of at most `limit` bytes.
public func readFile(path: String, limit: Int) throws(SampleError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw SampleError.file(path, String(cString: strerror(errno))) }
    defer { close(fd) }
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count < 0 {
            if errno == EINTR { continue }
            throw SampleError.file(path, String(cString: strerror(errno)))
        }
        if count == 0 { break }
        result.append(contentsOf: chunk[0..<count])
        guard result.count <= limit else { throw SampleError.file(path, "larger than \(limit) bytes") }
    }
    return result
}
