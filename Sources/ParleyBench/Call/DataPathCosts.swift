import ParleyCrypto
import ParleyProtocol

/// Where a sealed message's CPU goes, without sockets or threads: the same steps
/// `DataPath` takes for each packet, run in one thread on the real monotonic clock and
/// timed stage by stage, in rounds of up to 64 data packets (one `send(batch:)`'s worth).
/// A sender channel is kept full of messages; a receiver channel takes its packets and
/// returns acks, sealed and opened with the keys of a real handshake.
enum DataPathCosts {
    enum Stage: Int, CaseIterable {
        case send, pollData, sealData, openData, receive, acks

        var label: String {
            switch self {
            case .send: return "send(message:) into the channel"
            case .pollData: return "sender pollTransmit (data)"
            case .sealData: return "seal 1200-byte frame"
            case .openData: return "open 1200-byte frame"
            case .receive: return "receiver handleIncoming + pollEvent"
            case .acks: return "acks: poll, seal, open, handle; timers"
            }
        }
    }

    struct Result {
        let messageBytes: Int
        let dataPackets: UInt64
        let ackPackets: UInt64
        let deliveredBytes: UInt64
        /// Nanoseconds per data packet, by stage.
        let nanosecondsPerPacket: [Stage: Double]

        var totalNanoseconds: Double { nanosecondsPerPacket.values.reduce(0, +) }
        var bytesPerPacket: Double { Double(deliveredBytes) / Double(dataPackets) }
        /// Message payload one core could move through all stages together.
        var oneCoreGigabitsPerSecond: Double { bytesPerPacket * 8 / totalNanoseconds }
    }

    static let batch = 64

    static func measure(messageBytes: Int, packets: UInt64) throws -> Result {
        let keys = try CallFixture().establish()
        let dataSealer = keys.caller.frameSealer, dataOpener = keys.callee.frameOpener
        let ackSealer = keys.callee.frameSealer, ackOpener = keys.caller.frameOpener
        defer {
            dataSealer.erase()
            dataOpener.erase()
            ackSealer.erase()
            ackOpener.erase()
            keys.caller.erase()
            keys.callee.erase()
        }
        let start = Timestamp(nanoseconds: Monotonic.now())
        let sender = try ReliableChannel(now: start)
        let receiver = try ReliableChannel(now: start)
        let payload = sender.configuration.maxPacketPayload
        let slot = payload + SpecConstants.frameOverhead
        let plain = UnsafeMutableRawBufferPointer.allocate(byteCount: batch * payload, alignment: 16)
        let sealed = UnsafeMutableRawBufferPointer.allocate(byteCount: batch * slot, alignment: 16)
        let opened = UnsafeMutableRawBufferPointer.allocate(byteCount: batch * payload, alignment: 16)
        defer {
            plain.deallocate()
            sealed.deallocate()
            opened.deallocate()
        }
        func plainSlot(_ index: Int) -> UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(rebasing: plain[(index * payload)..<((index + 1) * payload)]) }
        func sealedSlot(_ index: Int) -> UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(rebasing: sealed[(index * slot)..<((index + 1) * slot)]) }
        func openedSlot(_ index: Int) -> UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(rebasing: opened[(index * payload)..<((index + 1) * payload)]) }

        let message = [UInt8](repeating: 0x5A, count: messageBytes)
        var spent = [UInt64](repeating: 0, count: Stage.allCases.count)
        var dataPackets: UInt64 = 0, ackPackets: UInt64 = 0, delivered: UInt64 = 0
        var counts = [Int](repeating: 0, count: batch)
        var sealedCounts = [Int](repeating: 0, count: batch)
        var types = [FrameType](repeating: .messageData, count: batch)

        /// Seals `count` packets from the plain slots, opens them, and hands them to `channel`.
        func cross(_ count: Int, sealer: FrameSealer, opener: FrameOpener, into channel: ReliableChannel,
                   now: Timestamp) throws -> (seal: UInt64, open: UInt64, handle: UInt64) {
            let t0 = Monotonic.now()
            for index in 0..<count {
                sealedCounts[index] = try sealer.seal(type: types[index].rawValue, payload: UnsafeRawBufferPointer(rebasing: plainSlot(index)[0..<counts[index]]),
                                                      into: sealedSlot(index), now: now)
            }
            let t1 = Monotonic.now()
            for index in 0..<count {
                counts[index] = try opener.open(UnsafeRawBufferPointer(rebasing: sealedSlot(index)[0..<sealedCounts[index]]), into: openedSlot(index), now: now).count
            }
            let t2 = Monotonic.now()
            for index in 0..<count {
                try channel.handleIncoming(type: types[index], payload: UnsafeRawBufferPointer(rebasing: openedSlot(index)[0..<counts[index]]), now: now)
            }
            return (t1 - t0, t2 - t1, Monotonic.now() - t2)
        }

        while dataPackets < packets {
            let t0 = Monotonic.now()
            let now = Timestamp(nanoseconds: t0)
            while sender.sendBufferFree >= messageBytes + ReliableConstants.recordHeaderBytes {
                try sender.send(message: message, now: now)
            }
            let t1 = Monotonic.now()
            var count = 0
            while count < batch, let transmit = sender.pollTransmit(now: now, into: plainSlot(count)) {
                types[count] = transmit.type
                counts[count] = transmit.byteCount
                count += 1
            }
            let t2 = Monotonic.now()
            spent[Stage.send.rawValue] += t1 - t0
            spent[Stage.pollData.rawValue] += t2 - t1
            dataPackets += UInt64(types[0..<count].filter { $0 == .messageData }.count)

            let data = try cross(count, sealer: dataSealer, opener: dataOpener, into: receiver, now: now)
            let t3 = Monotonic.now()
            while let event = receiver.pollEvent() {
                if case let .message(bytes) = event { delivered += UInt64(bytes.count) }
            }
            let t4 = Monotonic.now()
            spent[Stage.sealData.rawValue] += data.seal
            spent[Stage.openData.rawValue] += data.open
            spent[Stage.receive.rawValue] += data.handle + (t4 - t3)

            var acks = 0
            while acks < batch, let transmit = receiver.pollTransmit(now: now, into: plainSlot(acks)) {
                types[acks] = transmit.type
                counts[acks] = transmit.byteCount
                acks += 1
            }
            ackPackets += UInt64(acks)
            _ = try cross(acks, sealer: ackSealer, opener: ackOpener, into: sender, now: now)
            while sender.pollEvent() != nil {}
            let later = Timestamp(nanoseconds: Monotonic.now())
            sender.handleTimeout(now: later)
            receiver.handleTimeout(now: later)
            spent[Stage.acks.rawValue] += Monotonic.now() - t4
            if let failure = sender.failure ?? receiver.failure {
                throw BenchmarkError(workload: "data path costs", problem: "a channel failed: \(failure)")
            }
        }
        guard delivered > 0 else { throw BenchmarkError(workload: "data path costs", problem: "no message was delivered") }
        var perPacket: [Stage: Double] = [:]
        for stage in Stage.allCases { perPacket[stage] = Double(spent[stage.rawValue]) / Double(dataPackets) }
        return Result(messageBytes: messageBytes, dataPackets: dataPackets, ackPackets: ackPackets, deliveredBytes: delivered,
                      nanosecondsPerPacket: perPacket)
    }
}
