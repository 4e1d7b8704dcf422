import Foundation
import Glibc

/// The `connections-worker` processes of one measurement: started with pipes on stdin
/// (closed to stop them) and stdout (their status lines), read with `poll`.
final class WorkerPool {
    private let workers: [ChildProcess]
    private var buffers: [[UInt8]]
    private(set) var statuses: [WorkerStatus]
    /// The workers' `note` lines (why connections failed), in arrival order.
    private(set) var notes: [String] = []
    /// Each worker's share of the connections.
    let shares: [Int]

    /// Worker n connects from 127.0.0.(2 + n): each source address has its own ephemeral ports.
    static func sourceAddress(worker: Int) -> String { "127.0.0.\(2 + worker % 250)" }

    /// Starts `shares.count` workers of this executable against `port`.
    init(shares: [Int], port: Int, pin: String, ratePerWorker: Double, pending: Int) throws {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var workers: [ChildProcess] = []
        for (index, share) in shares.enumerated() {
            workers.append(try ChildProcess(
                executable: executable,
                arguments: ["connections-worker", "--port", "\(port)", "--pin", pin, "--count", "\(share)",
                            "--rate", "\(ratePerWorker)", "--pending", "\(pending)", "--index", "\(index)",
                            "--source", WorkerPool.sourceAddress(worker: index)],
                standardInput: .pipe, standardOutput: .pipe, standardError: .inherit))
        }
        self.workers = workers
        self.shares = shares
        buffers = Array(repeating: [], count: shares.count)
        statuses = Array(repeating: WorkerStatus(), count: shares.count)
    }

    deinit { stop(timeout: .seconds(1)) }

    var pids: [pid_t] { workers.map(\.pid) }
    var total: WorkerStatus { statuses.reduce(WorkerStatus(), +) }
    var allOnline: Bool { zip(statuses, shares).allSatisfy { $0.online == $1 } }

    /// Reads whatever the workers wrote within `timeout`, updating `statuses`. Throws if a
    /// worker exited (or closed its stdout) while it should be running.
    func pump(timeout: Duration) throws {
        let deadline = ContinuousClock.now + timeout
        repeat {
            var descriptors = workers.map { pollfd(fd: $0.standardOutput ?? -1, events: Int16(POLLIN), revents: 0) }
            let left = deadline - ContinuousClock.now
            let milliseconds = max(0, Int32(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000))
            guard poll(&descriptors, nfds_t(descriptors.count), milliseconds) > 0 else { continue }
            for (index, descriptor) in descriptors.enumerated() where descriptor.revents != 0 {
                var chunk = [UInt8](repeating: 0, count: 4096)
                let count = chunk.withUnsafeMutableBytes { read(descriptor.fd, $0.baseAddress, $0.count) }
                guard count > 0 else {
                    _ = workers[index].waitForExit(timeout: .seconds(1))
                    throw BenchmarkError(workload: "connections", problem: "worker \(index) (pid \(workers[index].pid)) ended: "
                                         + workers[index].exitDescription)
                }
                buffers[index].append(contentsOf: chunk[..<count])
                while let newline = buffers[index].firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: buffers[index][..<newline], as: UTF8.self)
                    buffers[index].removeSubrange(...newline)
                    if let status = WorkerStatus(line: Substring(line)) {
                        statuses[index] = status
                    } else if line.hasPrefix("note ") {
                        notes.append("worker \(index): " + line.dropFirst("note ".count))
                    }
                }
            }
        } while ContinuousClock.now < deadline
    }

    /// Closes every worker's stdin (they stop their clients and exit), waits up to
    /// `timeout` for them, then ends the rest with signals.
    func stop(timeout: Duration) {
        workers.forEach { $0.closeStandardInput() }
        let deadline = ContinuousClock.now + timeout
        for worker in workers {
            let left = deadline - ContinuousClock.now
            if !worker.waitForExit(timeout: max(.zero, left)) { worker.stop(grace: .seconds(2)) }
            worker.stop(grace: .zero)
        }
    }
}
