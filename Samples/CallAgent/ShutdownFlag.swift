import Dispatch
import Glibc
import Synchronization

/// Set by SIGINT or SIGTERM: the agent hangs up its call, reports it, and exits 0.
final class ShutdownFlag: Sendable {
    private final class Flag: Sendable { let value = Atomic<Bool>(false) }
    private let flag = Flag()
    /// The signal sources, kept alive for the life of the process; written once, by `init`.
    nonisolated(unsafe) private let sources: [any DispatchSourceSignal]

    var isSet: Bool { flag.value.load(ordering: .acquiring) }

    func set() { flag.value.store(true, ordering: .releasing) }

    /// Routes SIGINT and SIGTERM here (instead of killing the process).
    init(events: EventWriter) {
        let flag = flag
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if !flag.value.exchange(true, ordering: .acquiringAndReleasing) {
                    events.log("signal \(number): hanging up and exiting")
                }
            }
            source.resume()
            return source
        }
    }
}
