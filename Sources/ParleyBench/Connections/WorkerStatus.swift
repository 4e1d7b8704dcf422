import Glibc
import Synchronization

/// What a `connections-worker` reports on its stdout, one line at a time:
/// `status <started> <online> <retries> <failed> <lost>`, and `note <text>` for the first
/// few reasons a connection failed (`WorkerTally.keptNotes`).
struct WorkerStatus: Codable, Equatable, Sendable {
    /// Clients started so far.
    var started = 0
    /// Clients online now.
    var online = 0
    /// Connection attempts that failed and were retried (the client's backoff).
    var retries = 0
    /// Clients that gave up (a terminal error, or their reconnection attempts ran out).
    var failed = 0
    /// Connections that were online and dropped.
    var lost = 0

    var line: String { "status \(started) \(online) \(retries) \(failed) \(lost)" }

    init(started: Int = 0, online: Int = 0, retries: Int = 0, failed: Int = 0, lost: Int = 0) {
        (self.started, self.online, self.retries, self.failed, self.lost) = (started, online, retries, failed, lost)
    }

    init?(line: Substring) {
        let fields = line.split(separator: " ")
        guard fields.count == 6, fields[0] == "status" else { return nil }
        let numbers = fields.dropFirst().compactMap { Int($0) }
        guard numbers.count == 5 else { return nil }
        (started, online, retries, failed, lost) = (numbers[0], numbers[1], numbers[2], numbers[3], numbers[4])
    }

    static func + (left: WorkerStatus, right: WorkerStatus) -> WorkerStatus {
        WorkerStatus(started: left.started + right.started, online: left.online + right.online, retries: left.retries + right.retries,
                     failed: left.failed + right.failed, lost: left.lost + right.lost)
    }
}

/// A worker's counters, updated by its clients' handlers on the loop thread and read by
/// its main thread.
final class WorkerTally: Sendable {
    let online = Atomic<Int>(0)
    let retries = Atomic<Int>(0)
    let failed = Atomic<Int>(0)
    let lost = Atomic<Int>(0)
    /// The first reasons a connection failed or dropped, as the client reported them.
    let notes = Mutex<[String]>([])

    static let keptNotes = 3

    func note(_ text: String) {
        notes.withLock { if $0.count < WorkerTally.keptNotes { $0.append(text) } }
    }

    func status(started: Int) -> WorkerStatus {
        WorkerStatus(started: started, online: online.load(ordering: .relaxed), retries: retries.load(ordering: .relaxed),
                     failed: failed.load(ordering: .relaxed), lost: lost.load(ordering: .relaxed))
    }
}

/// The soft RLIMIT_NOFILE raised to the hard limit; returns the soft limit in force (nil: unlimited).
enum OpenFileLimit {
    static var hard: Int? {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        return limit.rlim_max == rlim_t.max ? nil : Int(limit.rlim_max)
    }

    @discardableResult
    static func raiseToHard() -> Int? {
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return nil }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(resource, &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur == rlim_t.max ? nil : Int(limit.rlim_cur)
    }
}
