import ParleyCrypto
import ParleyProtocol
import ParleyTesting

/// Two `ReliableChannel`s joined by two `LossyLink`s on a virtual clock. The sender side
/// keeps its send buffer full of `messageBytes`-byte messages; the receiver counts the
/// message bytes its app takes. Deterministic: the same scenario gives the same figures.
final class LinkSimulation {
    /// Bytes a packet costs on the wire beyond its reliable payload: the 24-byte frame
    /// overhead (PROTOCOL.md, "Frames") and 28 bytes of IPv4 + UDP headers.
    static let wireOverheadBytes = 24 + 28

    let clock = VirtualClock(start: Timestamp(nanoseconds: 1_000_000_000))
    let sender: ReliableChannel
    let receiver: ReliableChannel
    let forward: LossyLink
    let backward: LossyLink
    private let messageBytes: Int
    private var buffer: [UInt8]
    private(set) var goodputBytes: UInt64 = 0
    private(set) var messagesReceived: UInt64 = 0
    /// Packet hand-offs between the channels (data and acks), for the CPU figure.
    private(set) var packetsMoved: UInt64 = 0

    init(forward: LossyLink.Configuration, backward: LossyLink.Configuration,
         messageBytes: Int = 16_384, configuration: ReliableConfiguration = ReliableConfiguration()) throws {
        self.forward = LossyLink(forward)
        self.backward = LossyLink(backward)
        self.messageBytes = messageBytes
        sender = try ReliableChannel(configuration: configuration, now: clock.now)
        receiver = try ReliableChannel(configuration: configuration, now: clock.now)
        buffer = [UInt8](repeating: 0, count: configuration.maxPacketPayload)
    }

    /// Runs the transfer until the virtual clock has moved `duration` past now.
    func run(for duration: Duration) throws {
        let end = clock.now + duration
        let message = [UInt8](repeating: 0x5a, count: messageBytes)
        while clock.now < end {
            let now = clock.now
            while sender.sendBufferFree >= messageBytes + ReliableConstants.recordHeaderBytes {
                try sender.send(message: message, now: now)
            }
            try deliver(backward, to: sender, now: now)
            try deliver(forward, to: receiver, now: now)
            while let event = receiver.pollEvent() {
                if case let .message(bytes) = event {
                    goodputBytes += UInt64(bytes.count)
                    messagesReceived += 1
                }
            }
            while sender.pollEvent() != nil {}
            transmit(from: sender, over: forward, now: now)
            transmit(from: receiver, over: backward, now: now)
            if let failure = sender.failure ?? receiver.failure { throw failure }

            let next = [sender.nextDeadline(now: now), receiver.nextDeadline(now: now),
                        forward.nextDeliveryTime, backward.nextDeliveryTime].compactMap { $0 }.min() ?? end
            clock.advance(to: min(max(next, now), end))
            if clock.now == now, next <= now {
                // Something is due now but produced nothing: let time move on by the timer granularity.
                clock.advance(by: .microseconds(1))
            }
            sender.handleTimeout(now: clock.now)
            receiver.handleTimeout(now: clock.now)
        }
    }

    private func deliver(_ link: LossyLink, to channel: ReliableChannel, now: Timestamp) throws {
        while let datagram = link.receive(now: now) {
            packetsMoved += 1
            // Cannot be nil: the simulation tags every datagram with a FrameType raw value.
            try channel.handleIncoming(type: FrameType(rawValue: datagram.tag)!, payload: datagram.bytes, now: now)
        }
    }

    private func transmit(from channel: ReliableChannel, over link: LossyLink, now: Timestamp) {
        while true {
            let transmit = buffer.withUnsafeMutableBytes { channel.pollTransmit(now: now, into: $0) }
            guard let transmit else { return }
            link.send(LossyLink.Datagram(tag: transmit.type.rawValue, bytes: Array(buffer[0..<transmit.byteCount])),
                      wireBytes: transmit.byteCount + LinkSimulation.wireOverheadBytes, now: now)
        }
    }
}
