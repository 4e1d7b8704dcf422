import Dispatch
import Glibc
import Parley
import ParleyProtocol
import Synchronization

/// Reads one call's `received()` stream for the whole call (it has one consumer): counts
/// message bytes and media frames, and wakes a blocked sender on `.writable`.
final class CallDataCounter: Sendable {
    let messageBytes = Atomic<UInt64>(0)
    let messages = Atomic<UInt64>(0)
    let mediaFrames = Atomic<UInt64>(0)
    let delivered = Atomic<UInt64>(0)
    /// Signalled once per `.writable` event.
    let writable = DispatchSemaphore(value: 0)
    private let task = Locked<Task<Void, Never>?>(nil)

    init(_ call: Call) {
        let stream = call.received()
        task.withLock {
            $0 = Task { [self] in
                for await data in stream {
                    switch data {
                    case let .message(bytes):
                        messageBytes.add(UInt64(bytes.count), ordering: .relaxed)
                        messages.add(1, ordering: .relaxed)
                    case .media:
                        mediaFrames.add(1, ordering: .relaxed)
                    case .delivered:
                        delivered.add(1, ordering: .relaxed)
                    case .writable:
                        writable.signal()
                    default:
                        break
                    }
                }
            }
        }
    }

    func stop() { task.withLock { $0?.cancel() } }
}

/// Sealed messages on the direct path of one call on loopback, as fast as the reliable
/// channel takes them: a thread calls `send(message:)` until the send buffer is full,
/// waits for `.writable`, and goes on; the callee's `received()` is read by a task.
/// Payload bytes the callee's application received in the window count.
enum CallThroughputBench {
    struct Result {
        let messageBytes: Int
        let seconds: Double
        let deliveredBytes: UInt64
        let deliveredMessages: UInt64
        /// Sealed datagram bytes the callee's transport received in the window (both frame types).
        let wireBytes: UInt64
        let framesSent: Int
        let retransmitted: UInt64
        let lost: UInt64
        let droppedDeliveries: Int
        let refusedFrames: Int
        /// This process's CPU in the window, in cores (1.0 = one core busy).
        let cores: Double
        let smoothedRTTMicroseconds: Double?
        /// The caller's congestion state at the end of the window.
        let minRTTMicroseconds: Double?
        let congestionWindowBytes: UInt64
        let pacingGigabitsPerSecond: Double
        let sendErrors: [String]

        var gigabitsPerSecond: Double { Double(deliveredBytes) * 8 / seconds / 1e9 }
        var wireGigabitsPerSecond: Double { Double(wireBytes) * 8 / seconds / 1e9 }
    }

    /// Bytes the check before the measurement waits to see delivered, and for how long.
    static let checkBytes: UInt64 = 1 << 20
    static let checkTimeout: Duration = .seconds(2)

    /// Sends 1100-byte messages until `checkBytes` arrived; returns nil when they did, or
    /// what the caller's channel counted when they did not within `checkTimeout` (the
    /// channel stopped sending: a library fault the report names, not a slow path).
    static func checkFlowing(caller: Call, callerData: CallDataCounter, calleeData: CallDataCounter) async throws -> String? {
        let message = [UInt8](repeating: 0x5A, count: 1100)
        let target = calleeData.messageBytes.load(ordering: .relaxed) + checkBytes
        let deadline = ContinuousClock.now + checkTimeout
        while calleeData.messageBytes.load(ordering: .relaxed) < target {
            guard ContinuousClock.now < deadline else {
                let stats = caller.stats
                let reliable = stats.reliable
                return "call \(caller.id): \(calleeData.messageBytes.load(ordering: .relaxed)) bytes delivered in \(checkTimeout); "
                    + "the caller's channel sent \(reliable?.packetsSent ?? 0) packets, \(reliable?.bytesInFlight ?? 0) bytes in flight, "
                    + "\(reliable?.bytesAcknowledged ?? 0) acknowledged, phase \(reliable?.phase ?? "?"), "
                    + "\(callerData.delivered.load(ordering: .relaxed)) messages acknowledged"
            }
            do throws(CallSendError) {
                while true { try caller.send(message: message) }
            } catch {
                guard case .reliable(.sendBufferFull) = error else { throw BenchmarkError(workload: "sealed throughput", problem: "\(error)") }
            }
            try await Task.sleep(for: .milliseconds(1))
        }
        return nil
    }

    /// How long a blocked sender waits for `.writable` before trying again.
    static let writableWait: DispatchTimeInterval = .milliseconds(5)

    static func measure(caller: Call, callee: Call, callerData: CallDataCounter, calleeData: CallDataCounter,
                        messageBytes: Int, warmUp: Double, seconds: Double) async throws -> Result {
        let message = [UInt8](repeating: 0x5A, count: messageBytes)
        let start = Monotonic.now()
        let windowStart = start + Monotonic.nanoseconds(warmUp)
        let windowEnd = windowStart + Monotonic.nanoseconds(seconds)
        let sender = JoinableThread<[String]>(name: "bench-sender") { () -> [String] in
            while Monotonic.now() < windowEnd {
                do throws(CallSendError) {
                    try caller.send(message: message)
                } catch {
                    guard case .reliable(.sendBufferFull) = error else { return ["\(error)"] }
                    _ = callerData.writable.wait(timeout: .now() + CallThroughputBench.writableWait)
                }
            }
            return []
        }
        try await sleep(until: windowStart)
        let first = Snapshot(caller: caller, callee: callee, counter: calleeData)
        try await sleep(until: windowEnd)
        let last = Snapshot(caller: caller, callee: callee, counter: calleeData)
        let errors = sender.join()
        let elapsed = Double(last.time - first.time) / 1e9
        let stats = caller.stats
        let calleeStats = callee.stats
        return Result(messageBytes: messageBytes, seconds: elapsed, deliveredBytes: last.deliveredBytes - first.deliveredBytes,
                      deliveredMessages: last.messages - first.messages, wireBytes: last.wireBytes - first.wireBytes,
                      framesSent: last.framesSent - first.framesSent, retransmitted: last.retransmitted - first.retransmitted,
                      lost: last.lost - first.lost, droppedDeliveries: calleeStats.droppedDeliveries + stats.droppedDeliveries,
                      refusedFrames: calleeStats.refusedFrames + stats.refusedFrames, cores: (last.cpu - first.cpu) / elapsed,
                      smoothedRTTMicroseconds: stats.reliable?.smoothedRTTNanoseconds.map { Double($0) / 1e3 },
                      minRTTMicroseconds: stats.reliable?.minRTTNanoseconds.map { Double($0) / 1e3 },
                      congestionWindowBytes: stats.reliable?.congestionWindowBytes ?? 0,
                      pacingGigabitsPerSecond: (stats.reliable?.pacingRateBytesPerSecond ?? 0) * 8 / 1e9,
                      sendErrors: errors)
    }

    private struct Snapshot {
        let time: UInt64
        let deliveredBytes: UInt64
        let messages: UInt64
        let wireBytes: UInt64
        let framesSent: Int
        let retransmitted: UInt64
        let lost: UInt64
        let cpu: Double

        init(caller: Call, callee: Call, counter: CallDataCounter) {
            time = Monotonic.now()
            cpu = ProcFS.ownCPUSeconds()
            deliveredBytes = counter.messageBytes.load(ordering: .relaxed)
            messages = counter.messages.load(ordering: .relaxed)
            let callerStats = caller.stats
            wireBytes = callee.stats.ice?.bytesReceived ?? 0
            framesSent = callerStats.framesSent
            retransmitted = callerStats.reliable?.retransmittedPackets ?? 0
            lost = callerStats.reliable?.lostPackets ?? 0
        }
    }
}
