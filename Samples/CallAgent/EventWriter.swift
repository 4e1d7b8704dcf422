import Glibc
import ParleySampleKit
import Synchronization

/// Writes the agent's two outputs: JSON-lines events on stdout (one `write(2)` per line, so
/// a reader never sees half a line; `event` and `time` first) and human log lines on stderr.
/// Thread-safe: a lock keeps lines from interleaving.
final class EventWriter: Sendable {
    private let lock = Mutex(())

    func emit(_ event: String, _ members: [(String, JSONValue)] = []) {
        let object = JSONValue.object([("event", .string(event)), ("time", .string(EventTime.now()))] + members)
        write(object.serialized + "\n", to: STDOUT_FILENO)
    }

    /// One human-readable line on stderr.
    func log(_ text: String) {
        write("parley-agent: " + text + "\n", to: STDERR_FILENO)
    }

    /// Reports an error both ways: the `error` event and one line on stderr.
    func error(_ status: AgentExit, _ message: String) {
        emit("error", [("code", .int(Int(status.rawValue))), ("message", .string(message))])
        log("error: " + message)
    }

    private func write(_ line: String, to descriptor: Int32) {
        let bytes = Array(line.utf8)
        lock.withLock { _ in
            var offset = 0
            while offset < bytes.count {
                let count = bytes[offset...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
                if count < 0 {
                    if errno == EINTR { continue }
                    return  // the reader went away (EPIPE): nothing more can be said
                }
                offset += count
            }
        }
    }
}
