import Glibc
import Parley
import ParleyProtocol
import Synchronization

/// The unsealed floor of the direct path: two `IceTransport`s, each on its own `IceLoop`
/// as in two clients, with host candidates on 127.0.0.1, exchanged in process. A thread
/// sends 1200-byte datagrams with `send(batch:)` (64 per call) as fast as it can; the
/// receiver's callback counts what arrives. No sealing, no reliable channel, no pacing:
/// what the socket drops is lost and not counted.
enum RawIceBaseline {
    struct Result {
        let seconds: Double
        let sent: UInt64
        let received: UInt64
        let receivedBytes: UInt64
        let cores: Double

        var gigabitsPerSecond: Double { Double(receivedBytes) * 8 / seconds / 1e9 }
        var lossPercent: Double { sent == 0 ? 0 : Double(sent - min(sent, received)) / Double(sent) * 100 }
    }

    static let datagramBytes = 1200
    static let batch = IceConstants.maxBatch
    static let setupTimeout: Duration = .seconds(10)

    /// Gathered candidates and the state of one transport, written on its loop thread.
    private final class Side: Sendable {
        let candidates = Locked<[String]>([])
        let gathered = Atomic<Bool>(false)
        let received = Atomic<UInt64>(0)
        let receivedBytes = Atomic<UInt64>(0)

        func event(_ event: IceTransportEvent) {
            switch event {
            case let .localCandidate(attribute): candidates.withLock { $0.append(attribute) }
            case .gatheringComplete: gathered.store(true, ordering: .relaxed)
            default: break
            }
        }
    }

    /// Two transports on two loops, connected to each other.
    private final class ConnectedPair {
        let loops = [IceLoop(), IceLoop()]
        let sides = [Side(), Side()]
        var transports: [IceTransport] = []

        /// Starts both loops and both transports, gathers, exchanges credentials and
        /// candidates once both finished gathering, and waits until both are connected.
        init(checkPacing: Duration = .milliseconds(20)) async throws {
            do {
                var ice = IceConfiguration()
                ice.localAddresses = ["127.0.0.1"]
                ice.checkPacing = checkPacing
                try loops.forEach { try $0.start() }
                for index in 0..<2 {
                    let side = sides[index]
                    transports.append(try IceTransport(loop: loops[index], configuration: ice, controlling: index == 0,
                                                       events: { side.event($0) },
                                                       receive: { datagram in
                                                           side.received.add(1, ordering: .relaxed)
                                                           side.receivedBytes.add(UInt64(datagram.count), ordering: .relaxed)
                                                       }))
                }
                try transports.forEach { try $0.gather() }
                try await waitUntil("both raw transports gathered", within: setupTimeout) {
                    sides.allSatisfy { $0.gathered.load(ordering: .relaxed) }
                }
                for (index, transport) in transports.enumerated() {
                    let peer = 1 - index
                    try transport.setRemoteCredentials(transports[peer].localCredentials)
                    for candidate in sides[peer].candidates.value { try transport.addRemoteCandidate(candidate) }
                    transport.endOfRemoteCandidates()
                }
                let transports = transports
                try await waitUntil("both raw transports connected", within: setupTimeout) {
                    transports.allSatisfy { $0.state == .connected }
                }
            } catch {
                close()
                throw error
            }
        }

        func close() {
            transports.forEach { $0.close() }
            loops.forEach { $0.stop() }
        }
    }

    /// Milliseconds from `gather()` on both to both connected, for each of `count` new
    /// pairs: what ICE alone costs a call on loopback, without signalling or keys.
    static func connectTimes(checkPacing: Duration, count: Int) async throws -> [Double] {
        var times: [Double] = []
        for _ in 0..<count {
            let start = Monotonic.now()
            let pair = try await ConnectedPair(checkPacing: checkPacing)
            times.append(Double(Monotonic.now() - start) / 1e6)
            pair.close()
        }
        return times
    }

    static func measure(warmUp: Double, seconds: Double) async throws -> Result {
        let pair = try await ConnectedPair()
        defer { pair.close() }
        let transports = pair.transports
        let sides = pair.sides

        let start = Monotonic.now()
        let windowStart = start + Monotonic.nanoseconds(warmUp)
        let windowEnd = windowStart + Monotonic.nanoseconds(seconds)
        let sender = transports[0]
        let sending = JoinableThread<UInt64> {
            let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: datagramBytes * batch, alignment: 16)
            defer { storage.deallocate() }
            storage.initializeMemory(as: UInt8.self, repeating: 0x5A)
            let datagrams = (0..<batch).map { UnsafeRawBufferPointer(rebasing: storage[($0 * datagramBytes)..<(($0 + 1) * datagramBytes)]) }
            var sent: UInt64 = 0
            while Monotonic.now() < windowEnd {
                sent += UInt64(datagrams.withUnsafeBufferPointer { sender.send(batch: $0) })
            }
            return sent
        }
        let receiver = sides[1]
        try await sleep(until: windowStart)
        let first = (time: Monotonic.now(), cpu: ProcFS.ownCPUSeconds(), sent: sender.stats.packetsSent,
                     received: receiver.received.load(ordering: .relaxed), bytes: receiver.receivedBytes.load(ordering: .relaxed))
        try await sleep(until: windowEnd)
        let last = (time: Monotonic.now(), cpu: ProcFS.ownCPUSeconds(), sent: sender.stats.packetsSent,
                    received: receiver.received.load(ordering: .relaxed), bytes: receiver.receivedBytes.load(ordering: .relaxed))
        _ = sending.join()
        let elapsed = Double(last.time - first.time) / 1e9
        return Result(seconds: elapsed, sent: last.sent - first.sent, received: last.received - first.received,
                      receivedBytes: last.bytes - first.bytes, cores: (last.cpu - first.cpu) / elapsed)
    }
}
