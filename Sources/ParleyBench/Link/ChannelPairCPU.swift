import ParleyCrypto
import ParleyProtocol

/// The channel's own CPU cost: a sender and a receiver `ReliableChannel` handing packets
/// to each other directly (no link, no sealing; each ack goes back as soon as the receiver
/// schedules it, every 2nd packet), the virtual clock moving 1 us per round,
/// the sender kept full of 64 KiB messages. The baseline, measured in the same run, is the
/// same loop with the channels replaced by a copy of each 1176-byte payload into a
/// receive buffer: what moving the bytes costs at all.
enum ChannelPairCPU {
    struct Figures {
        var dataPackets: UInt64
        var ackPackets: UInt64
        var payloadBytes: UInt64
        var seconds: Double
        var packetsPerSecond: Double { Double(dataPackets) / seconds }
        var nanosecondsPerPacket: Double { seconds * 1e9 / Double(dataPackets) }
        var gigabitsPerSecond: Double { Double(payloadBytes) * 8 / seconds / 1e9 }
    }

    /// Runs until `packets` data packets crossed; returns the wall-clock figures.
    static func measureChannels(packets: UInt64) throws -> Figures {
        var now = Timestamp(nanoseconds: 1_000_000_000)
        let sender = try ReliableChannel(now: now)
        let receiver = try ReliableChannel(now: now)
        let payload = sender.configuration.maxPacketPayload
        var buffer = [UInt8](repeating: 0, count: payload)
        let message = [UInt8](repeating: 0x42, count: 65_536)
        var figures = Figures(dataPackets: 0, ackPackets: 0, payloadBytes: 0, seconds: 0)
        var received: UInt64 = 0
        let clock = ContinuousClock()
        let start = clock.now
        while figures.dataPackets < packets {
            while sender.sendBufferFree > message.count + ReliableConstants.recordHeaderBytes {
                try sender.send(message: message, now: now)
            }
            try buffer.withUnsafeMutableBytes { raw in
                while let transmit = sender.pollTransmit(now: now, into: raw) {
                    figures.dataPackets += 1
                    figures.payloadBytes += UInt64(transmit.byteCount)
                    try receiver.handleIncoming(type: transmit.type, payload: UnsafeRawBufferPointer(rebasing: raw.prefix(transmit.byteCount)), now: now)
                    // Acks go back as soon as the receiver schedules them (every 2nd packet).
                    while let ack = receiver.pollTransmit(now: now, into: raw) {
                        figures.ackPackets += 1
                        try sender.handleIncoming(type: ack.type, payload: UnsafeRawBufferPointer(rebasing: raw.prefix(ack.byteCount)), now: now)
                    }
                }
            }
            while let event = receiver.pollEvent() {
                if case let .message(bytes) = event { received += UInt64(bytes.count) }
            }
            while sender.pollEvent() != nil {}
            now = now + .microseconds(1)
            sender.handleTimeout(now: now)
            receiver.handleTimeout(now: now)
        }
        figures.seconds = seconds(clock.now - start)
        guard received > 0, sender.failure == nil, receiver.failure == nil else {
            throw BenchmarkError(workload: "channel pair", problem: "no message crossed, or a channel failed")
        }
        return figures
    }

    /// The baseline: copy `packets` payloads of the channel's packet size into a receive buffer.
    static func measureCopies(packets: UInt64) -> Figures {
        let payload = ReliableConfiguration().maxPacketPayload
        let source = [UInt8](repeating: 0x42, count: payload)
        var destination = [UInt8](repeating: 0, count: payload)
        var checksum: UInt64 = 0
        let clock = ContinuousClock()
        let start = clock.now
        for index in 0..<packets {
            destination.withUnsafeMutableBytes { out in
                source.withUnsafeBytes { out.copyMemory(from: $0) }
            }
            checksum &+= UInt64(destination[Int(index % UInt64(payload))])
        }
        let elapsed = seconds(clock.now - start)
        precondition(checksum > 0, "the copies were optimised away")
        return Figures(dataPackets: packets, ackPackets: 0, payloadBytes: packets * UInt64(payload), seconds: elapsed)
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
