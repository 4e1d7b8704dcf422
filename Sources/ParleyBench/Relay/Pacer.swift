import Foundation
import Synchronization

/// Open-loop sending for a paced scenario, on a thread of its own: message j is due at
/// `start + j / rate` and goes from pair `j mod N`, stamped with its due time, whether or
/// not earlier messages have arrived. A receiver's latency therefore includes any delay
/// of the sender in getting it out (no coordinated omission); lateness is also counted here.
struct Pacer {
    struct Outcome: Codable, Sendable {
        /// Messages whose time came before the end.
        var scheduled = 0
        /// Handed to `send` more than `lateThresholdNanoseconds` after their due time.
        var late = 0
        var maximumLagNanoseconds: UInt64 = 0
    }

    /// A message handed over later than this after its due time counts as late.
    static let lateThresholdNanoseconds: UInt64 = 1_000_000

    let pairs: [RelayPair]
    let rate: Double
    let start: UInt64
    let end: UInt64

    /// Runs until `end` on a new thread; `join` waits for it.
    func launch() -> JoinableThread<Outcome> {
        JoinableThread { [self] in run() }
    }

    private func run() -> Outcome {
        var outcome = Outcome()
        let interval = 1e9 / rate
        var index = 0
        while true {
            let due = start + UInt64(Double(index) * interval)
            guard due < end else { break }
            if Monotonic.now() < due { Monotonic.sleep(until: due) }
            let lag = Monotonic.now() - due
            if lag > Pacer.lateThresholdNanoseconds { outcome.late += 1 }
            outcome.maximumLagNanoseconds = max(outcome.maximumLagNanoseconds, lag)
            pairs[index % pairs.count].send(due: due)
            outcome.scheduled += 1
            index += 1
        }
        return outcome
    }
}

/// A closure run on a thread of its own; `join` waits for its result.
final class JoinableThread<Result: Sendable>: Sendable {
    private let result = Mutex<Result?>(nil)
    private let done = DispatchSemaphore(value: 0)

    init(name: String = "bench-worker", _ body: @escaping @Sendable () -> Result) {
        let thread = Thread { [self] in
            let value = body()
            result.withLock { $0 = value }
            done.signal()
        }
        thread.name = name
        thread.start()
    }

    func join() -> Result {
        done.wait()
        done.signal()  // a second join returns at once
        // Set before the semaphore was signalled.
        return result.withLock { $0! }
    }
}
