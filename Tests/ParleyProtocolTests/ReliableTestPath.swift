import ParleyCrypto
import ParleyProtocol
import ParleyTesting

/// Two reliable channels, `a` and `b`, joined by a `LossyLink` each way on a virtual clock.
/// `run(until:within:)` moves packets and time until a condition holds; every event goes to
/// `onEvent` (and is recorded), every packet about to be handed to a channel can be
/// inspected or changed by `intercept`. Deterministic for a given configuration.
final class ReliableTestPath {
    enum Side { case a, b }

    struct Timeout: Error, CustomStringConvertible {
        let description: String
    }

    let clock = VirtualClock()
    let a: ReliableChannel
    let b: ReliableChannel
    let aToB: LossyLink
    let bToA: LossyLink
    private(set) var eventsA: [ReliableEvent] = []
    private(set) var eventsB: [ReliableEvent] = []
    /// Called for every event, with the side that produced it.
    var onEvent: (Side, ReliableEvent) throws -> Void = { _, _ in }
    /// Sees each packet before `receiver` handles it; may change it. Returning false drops it.
    var intercept: (_ receiver: Side, _ type: FrameType, _ payload: inout [UInt8]) -> Bool = { _, _, _ in true }
    /// False: `b` takes only notices (`pollEvent(takingIncoming: false)`), as an application
    /// that stopped reading; what it received stays in its channel.
    var bTakesIncoming = true
    /// Errors thrown by `handleIncoming` (packets refused), with the refusing side.
    private(set) var refusals: [(Side, ReliableError)] = []
    private var buffer: [UInt8]

    init(link: LossyLink.Configuration, back: LossyLink.Configuration? = nil,
         a aConfiguration: ReliableConfiguration = ReliableConfiguration(),
         b bConfiguration: ReliableConfiguration = ReliableConfiguration()) throws {
        var backConfiguration = back ?? link
        if back == nil { backConfiguration.seed = link.seed &+ 1 }
        aToB = LossyLink(link)
        bToA = LossyLink(backConfiguration)
        a = try ReliableChannel(configuration: aConfiguration, now: clock.now)
        b = try ReliableChannel(configuration: bConfiguration, now: clock.now)
        buffer = [UInt8](repeating: 0, count: max(aConfiguration.maxPacketPayload, bConfiguration.maxPacketPayload))
    }

    func channel(_ side: Side) -> ReliableChannel { side == .a ? a : b }

    /// Runs until `done` holds (checked after every step) or `limit` of virtual time passed.
    func run(within limit: Duration, until done: () throws -> Bool) throws {
        let end = clock.now + limit
        while true {
            try step()
            if try done() { return }
            guard clock.now < end else { throw Timeout(description: "condition not met within \(limit) of virtual time") }
            let next = [a.nextDeadline(now: clock.now), b.nextDeadline(now: clock.now), aToB.nextDeliveryTime, bToA.nextDeliveryTime]
                .compactMap { $0 }.min() ?? end
            clock.advance(to: min(max(next, clock.now + .nanoseconds(1)), end))
            a.handleTimeout(now: clock.now)
            b.handleTimeout(now: clock.now)
        }
    }

    /// Runs for `duration` of virtual time.
    func run(for duration: Duration) throws {
        let end = clock.now + duration
        do {
            try run(within: duration) { clock.now >= end }
        } catch is Timeout {}
    }

    /// Moves every due packet and event once, at the current time.
    func step() throws {
        let now = clock.now
        try deliver(bToA, to: .a, now: now)
        try deliver(aToB, to: .b, now: now)
        try drainEvents()
        transmit(from: a, over: aToB, now: now)
        transmit(from: b, over: bToA, now: now)
    }

    private func drainEvents() throws {
        var any = true
        while any {
            any = false
            while let event = a.pollEvent() {
                eventsA.append(event)
                try onEvent(.a, event)
                any = true
            }
            while let event = b.pollEvent(takingIncoming: bTakesIncoming) {
                eventsB.append(event)
                try onEvent(.b, event)
                any = true
            }
        }
    }

    private func deliver(_ link: LossyLink, to side: Side, now: Timestamp) throws {
        while let datagram = link.receive(now: now) {
            // Cannot be nil: transmit tags every datagram with a FrameType raw value.
            let type = FrameType(rawValue: datagram.tag)!
            var payload = datagram.bytes
            guard intercept(side, type, &payload) else { continue }
            do {
                try channel(side).handleIncoming(type: type, payload: payload, now: now)
            } catch {
                refusals.append((side, error))
            }
        }
    }

    private func transmit(from channel: ReliableChannel, over link: LossyLink, now: Timestamp) {
        while true {
            let transmit = buffer.withUnsafeMutableBytes { channel.pollTransmit(now: now, into: $0) }
            guard let transmit else { return }
            // The link carries the sealed size: payload plus the 24-byte frame overhead.
            link.send(LossyLink.Datagram(tag: transmit.type.rawValue, bytes: Array(buffer[0..<transmit.byteCount])),
                      wireBytes: transmit.byteCount + 24, now: now)
        }
    }
}

extension LossyLink.Configuration {
    /// A clean link: `rate` bits/s, `delay` one way, a queue of one bandwidth-delay product.
    static func path(megabits: UInt64 = 20, delay: Duration = .milliseconds(25), loss: Double = 0,
                     reorder: Double = 0, duplicate: Double = 0, queueBytes: Int? = nil, seed: UInt64 = 1) -> LossyLink.Configuration {
        let rate = megabits * 1_000_000
        let delayMilliseconds = Int(delay.components.seconds) * 1000 + Int(delay.components.attoseconds / 1_000_000_000_000_000)
        let bdp = Int(rate / 8) * 2 * delayMilliseconds / 1000
        return LossyLink.Configuration(rateBitsPerSecond: rate, propagationDelay: delay, queueLimitBytes: queueBytes ?? max(bdp, 64_000),
                                       lossProbability: loss, reorderProbability: reorder, reorderDelay: .milliseconds(5),
                                       duplicateProbability: duplicate, seed: seed)
    }
}
