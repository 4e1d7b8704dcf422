@testable import Parley
import ParleyCrypto
import Synchronization
import XCTest

/// The client's engine thread runs a timer that is due at the very moment its owner was
/// asked for it. A reliable channel whose pacer is already open reports "now" (the time it
/// was asked at, a little after the loop read the clock); the loop once treated that as a
/// future deadline, waited for an instant that had passed, asked again, and spun without
/// ever running the timer, so paced packets left only when an ack happened to flush them.
final class EngineThreadTests: XCTestCase {
    func testATimerDueAtTheTimeItIsReportedRunsInsteadOfSpinning() {
        let state = Mutex((due: 3, reported: 0, ran: 0))
        let finished = DispatchSemaphore(value: 0)
        let engine = EngineThread(
            nextDeadline: {
                state.withLock { state -> Timestamp? in
                    guard state.due > 0 else { return nil }
                    state.reported += 1
                    return MonotonicClock.now()  // "due now", read after the loop's clock
                }
            },
            onDeadline: { _ in
                let done = state.withLock { state -> Bool in
                    state.ran += 1
                    state.due -= 1
                    return state.due == 0
                }
                if done { finished.signal() }
            })
        defer { engine.stop() }
        engine.poke()
        XCTAssertEqual(finished.wait(timeout: .now() + 5), .success, "the due timer never ran: \(state.withLock { $0 })")
        let counts = state.withLock { $0 }
        XCTAssertEqual(counts.ran, 3)
        XCTAssertLessThanOrEqual(counts.reported, 10, "each due timer is reported about once, not spun on")
    }
}
