import Glibc
import Synchronization

/// A lossy userspace UDP relay for loopback tests (the kernel here has no netem): two UDP
/// sockets on 127.0.0.1, side A facing peer A and side B facing peer B. A datagram that
/// arrives on side A is sent from side B to peer B, one that arrives on side B is sent
/// from side A to peer A, after a configurable one-way delay, with seeded random loss and
/// an optional rate limit (a bottleneck link with a bounded queue). Its own thread, no
/// Foundation.
///
/// Routing ICE through it: gather on both peers with `localAddresses: ["127.0.0.1"]`, read
/// each peer's real host candidate port, set `peerA` / `peerB` to them, and hand each peer a
/// rewritten candidate instead of the other's real one: peer B gets A's candidate with the
/// port of side B (`portB`), peer A gets B's candidate with the port of side A (`portA`).
/// Every check and datagram then crosses the relay, and each peer sees the other at the
/// address it was given (no peer-reflexive surprises):
///
///     peer A ──▶ portA ─(delay, loss, rate)─▶ [from portB] ──▶ peer B
///     peer A ◀── [from portA] ◀─(delay, loss, rate)─ portB ◀── peer B
///
/// Without a configured peer address a side forwards to the last address that sent to it
/// (then the first datagram towards a silent peer is counted `unroutable`).
public final class UDPRelay: @unchecked Sendable {
    /// How the link behaves, the same in both directions.
    public struct Link: Sendable, Equatable {
        /// Added to every datagram's trip (order is kept: a constant delay never reorders).
        public var oneWayDelay: Duration
        /// Probability in 0...1 that a datagram is dropped, drawn from a generator seeded by `seed`.
        public var lossRate: Double
        public var seed: UInt64
        /// Bytes per second each direction carries; nil for no limit. Datagrams wait in a
        /// queue of at most `queueLimitBytes` and are dropped (tail drop) beyond it.
        public var rateBytesPerSecond: Int?
        public var queueLimitBytes: Int

        public init(oneWayDelay: Duration = .zero, lossRate: Double = 0, seed: UInt64 = 1,
                    rateBytesPerSecond: Int? = nil, queueLimitBytes: Int = 256 * 1024) {
            self.oneWayDelay = oneWayDelay
            self.lossRate = lossRate
            self.seed = seed
            self.rateBytesPerSecond = rateBytesPerSecond
            self.queueLimitBytes = queueLimitBytes
        }
    }

    /// Counters per direction ("aToB": arrived on side A, meant for peer B).
    public struct Stats: Sendable, Equatable {
        public var received: (aToB: UInt64, bToA: UInt64) = (0, 0)
        public var forwarded: (aToB: UInt64, bToA: UInt64) = (0, 0)
        public var lost: (aToB: UInt64, bToA: UInt64) = (0, 0)
        /// Dropped because the rate limit's queue was full.
        public var queueDropped: (aToB: UInt64, bToA: UInt64) = (0, 0)
        /// Dropped because the far peer's address is not known yet.
        public var unroutable: UInt64 = 0

        public static func == (lhs: Stats, rhs: Stats) -> Bool {
            lhs.received == rhs.received && lhs.forwarded == rhs.forwarded && lhs.lost == rhs.lost
                && lhs.queueDropped == rhs.queueDropped && lhs.unroutable == rhs.unroutable
        }
    }

    public struct RelayError: Error, CustomStringConvertible {
        public let description: String
    }

    /// The port of side A's socket (peer A sends here) and of side B's.
    public let portA: UInt16
    public let portB: UInt16
    public let link: Link

    /// Largest datagram relayed (larger ones are truncated by the receive buffer: tests send less).
    public static let maxDatagramBytes = 65_536
    /// The most datagrams waiting for their delay per direction; more are dropped as queue drops.
    public static let maxDelayedDatagrams = 100_000

    private let socketA: Int32
    private let socketB: Int32
    /// The stop pipe: `stop()` writes a byte to wake `poll`.
    private let wake: Int32
    private let wakeWriter: Int32
    private var thread = pthread_t()
    private let stopping = Atomic<Bool>(false)
    private let joined = Mutex(false)

    private struct Shared {
        var stats = Stats()
        var peerA: sockaddr_in?
        var peerB: sockaddr_in?
    }
    private let shared = Mutex(Shared())

    /// Binds both sockets on 127.0.0.1 (ephemeral ports) and starts the relay thread.
    public init(link: Link = Link()) throws(RelayError) {
        guard (0...1).contains(link.lossRate) else { throw RelayError(description: "lossRate must be in 0...1") }
        self.link = link
        let a = try UDPRelay.bindLoopback()
        let b: (Int32, UInt16)
        do { b = try UDPRelay.bindLoopback() } catch {
            Glibc.close(a.0)
            throw error
        }
        var pipeFDs: [Int32] = [-1, -1]
        guard pipe(&pipeFDs) == 0 else {
            Glibc.close(a.0); Glibc.close(b.0)
            throw RelayError(description: "pipe() failed: errno \(errno)")
        }
        socketA = a.0; portA = a.1
        socketB = b.0; portB = b.1
        wake = pipeFDs[0]
        wakeWriter = pipeFDs[1]
        let box = Unmanaged.passRetained(self).toOpaque()
        let result = pthread_create(&thread, nil, { argument in
            // The +1 reference passed below; the thread owns it until run() returns.
            Unmanaged<UDPRelay>.fromOpaque(argument!).takeRetainedValue().run()
            return nil
        }, box)
        guard result == 0 else {
            // deinit closes the sockets once this last reference goes.
            Unmanaged<UDPRelay>.fromOpaque(box).release()
            joined.withLock { $0 = true }
            throw RelayError(description: "cannot start the relay thread (error \(result))")
        }
    }

    deinit {
        Glibc.close(socketA)
        Glibc.close(socketB)
        Glibc.close(wake)
        Glibc.close(wakeWriter)
    }

    /// Where datagrams for peer A go (those arriving on side B); the last sender to side A
    /// when not set.
    public func setPeerA(port: UInt16) { shared.withLock { $0.peerA = UDPRelay.loopback(port: port) } }
    /// Where datagrams for peer B go (those arriving on side A).
    public func setPeerB(port: UInt16) { shared.withLock { $0.peerB = UDPRelay.loopback(port: port) } }

    public var stats: Stats { shared.withLock { $0.stats } }

    /// Stops the thread and waits for it; datagrams still delayed are dropped. Idempotent.
    public func stop() {
        stopping.store(true, ordering: .releasing)
        var one: UInt8 = 1
        _ = write(wakeWriter, &one, 1)
        joined.withLock { joined in
            guard !joined else { return }
            pthread_join(thread, nil)
            joined = true
        }
    }

    // MARK: The relay thread

    private struct Pending {
        var due: UInt64
        var bytes: [UInt8]
        var toA: Bool
    }

    private func run() {
        var random = Xoshiro256StarStar(seed: link.seed)
        var queueAToB = DelayQueue(), queueBToA = DelayQueue()
        var linkFreeAt: (aToB: UInt64, bToA: UInt64) = (0, 0)
        var lastSenderA: sockaddr_in?, lastSenderB: sockaddr_in?
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: UDPRelay.maxDatagramBytes, alignment: 8)
        defer { buffer.deallocate() }
        var fds = [pollfd(fd: socketA, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: socketB, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
        let delay = UInt64(max(0, link.oneWayDelay.components.seconds)) * 1_000_000_000
            + UInt64(max(0, link.oneWayDelay.components.attoseconds) / 1_000_000_000)

        while !stopping.load(ordering: .acquiring) {
            let now = UDPRelay.monotonicNanoseconds()
            // Forward everything due.
            for toA in [false, true] {
                while let next = (toA ? queueBToA : queueAToB).first, next.due <= now {
                    if toA { queueBToA.removeFirst() } else { queueAToB.removeFirst() }
                    let destination = shared.withLock { toA ? $0.peerA : $0.peerB } ?? (toA ? lastSenderA : lastSenderB)
                    guard var destination else {
                        shared.withLock { $0.stats.unroutable += 1 }
                        continue
                    }
                    let from = toA ? socketA : socketB
                    let sent = next.bytes.withUnsafeBytes { bytes in
                        withUnsafePointer(to: &destination) {
                            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                                sendto(from, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                            }
                        }
                    }
                    if sent >= 0 {
                        shared.withLock { if toA { $0.stats.forwarded.bToA += 1 } else { $0.stats.forwarded.aToB += 1 } }
                    }
                }
            }
            let nextDue = [queueAToB.first?.due, queueBToA.first?.due].compactMap { $0 }.min()
            let timeout: Int32 = nextDue.map { Int32(clamping: ($0 > now ? $0 - now : 0) / 1_000_000 + 1) } ?? 100
            for index in fds.indices { fds[index].revents = 0 }
            guard poll(&fds, nfds_t(fds.count), timeout) >= 0 || errno == EINTR else { break }
            for (index, fromA) in [(0, true), (1, false)] where fds[index].revents & Int16(POLLIN) != 0 {
                // A bounded burst per wake-up keeps the two directions fair.
                for _ in 0..<64 {
                    var source = sockaddr_in()
                    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
                    let count = withUnsafeMutablePointer(to: &source) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                            recvfrom(fds[index].fd, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT), $0, &length)
                        }
                    }
                    guard count >= 0 else { break }
                    if fromA { lastSenderA = source } else { lastSenderB = source }
                    let arrival = UDPRelay.monotonicNanoseconds()
                    shared.withLock { if fromA { $0.stats.received.aToB += 1 } else { $0.stats.received.bToA += 1 } }
                    if link.lossRate > 0 && random.nextUnit() < link.lossRate {
                        shared.withLock { if fromA { $0.stats.lost.aToB += 1 } else { $0.stats.lost.bToA += 1 } }
                        continue
                    }
                    var departure = arrival
                    if let rate = link.rateBytesPerSecond, rate > 0 {
                        let free = fromA ? linkFreeAt.aToB : linkFreeAt.bToA
                        let start = max(arrival, free)
                        let backlogBytes = Double(start - arrival) * Double(rate) / 1e9
                        let queueFull = backlogBytes + Double(count) > Double(link.queueLimitBytes)
                        if queueFull {
                            shared.withLock { if fromA { $0.stats.queueDropped.aToB += 1 } else { $0.stats.queueDropped.bToA += 1 } }
                            continue
                        }
                        departure = start + UInt64(Double(count) * 1e9 / Double(rate))
                        if fromA { linkFreeAt.aToB = departure } else { linkFreeAt.bToA = departure }
                    }
                    let pending = Pending(due: departure + delay, bytes: Array(UnsafeRawBufferPointer(rebasing: buffer[..<count])), toA: !fromA)
                    let queued = fromA ? queueAToB.append(pending) : queueBToA.append(pending)
                    if !queued {
                        shared.withLock { if fromA { $0.stats.queueDropped.aToB += 1 } else { $0.stats.queueDropped.bToA += 1 } }
                    }
                }
            }
        }
    }

    /// A FIFO of delayed datagrams, bounded by `maxDelayedDatagrams` (constant delay keeps
    /// due times in arrival order).
    private struct DelayQueue {
        private var items: [Pending] = []
        private var head = 0

        var first: Pending? { head < items.count ? items[head] : nil }

        mutating func append(_ item: Pending) -> Bool {
            guard items.count - head < UDPRelay.maxDelayedDatagrams else { return false }
            items.append(item)
            return true
        }

        mutating func removeFirst() {
            head += 1
            if head > 1024 && head * 2 > items.count {
                items.removeFirst(head)
                head = 0
            }
        }
    }

    // MARK: Helpers

    private static func bindLoopback() throws(RelayError) -> (Int32, UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw RelayError(description: "socket() failed: errno \(errno)") }
        var size: Int32 = 4 << 20
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else {
            Glibc.close(fd)
            throw RelayError(description: "cannot bind a UDP socket on 127.0.0.1: errno \(errno)")
        }
        return (fd, UInt16(bigEndian: address.sin_port))
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }

    private static func monotonicNanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}
