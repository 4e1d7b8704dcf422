import Foundation

/// A report that `--json` prints: sorted keys, so runs can be diffed.
protocol JSONReport: Encodable {}

extension JSONReport {
    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        // JSONEncoder emits UTF-8; decoding it back cannot fail.
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}

/// The table's closing lines quoting what parley-signal logged at warning or worse (the
/// first five); none when it logged nothing.
func serverLogLines(_ logs: [String]) -> [String] {
    guard !logs.isEmpty else { return [] }
    return ["", "parley-signal logged \(logs.count) line\(logs.count == 1 ? "" : "s") at warning or worse; the first:"]
        + logs.prefix(5).map { "  " + $0 }
}
