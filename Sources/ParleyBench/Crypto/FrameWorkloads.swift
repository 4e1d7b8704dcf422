import ParleyCrypto

/// `FrameSealer.seal(type:payload:into:now:)` of a 1200-byte payload into a preallocated packet.
final class FrameSealWorkload: Workload {
    let name = "frame seal 1200 B, ParleyCrypto"
    let batchSize = FrameBench.batchSize
    let payloadBytes: Int? = FrameBench.payloadCount
    let displayUnit = DisplayUnit.nanoseconds
    private let sealer: FrameSealer
    private let payload: AlignedBuffer
    private let packet = AlignedBuffer(count: FrameBench.packetCount)

    /// - Parameter keys: one side of a completed handshake; its sending frame key is used.
    init(keys: CallKeys, payload: AlignedBuffer) {
        sealer = keys.frameSealer
        self.payload = payload
    }

    deinit { sealer.erase() }

    func measure(_ count: Int) throws -> Duration {
        let input = UnsafeRawBufferPointer(payload.bytes)
        let output = packet.bytes
        let clock = ContinuousClock()
        var written = 0
        let start = clock.now
        for _ in 0..<count {
            written &+= try sealer.seal(type: FrameBench.frameType, payload: input, into: output, now: FrameBench.now)
        }
        let elapsed = start.duration(to: clock.now)
        guard written == count * FrameBench.packetCount else {
            throw BenchmarkError(workload: name, problem: "wrote \(written) bytes for \(count) frames")
        }
        return elapsed
    }
}

/// `FrameOpener.open(_:into:now:)` of 1200-byte frames. The opener rejects replays,
/// so every batch is freshly sealed by the peer's sealer before the clock starts.
final class FrameOpenWorkload: Workload {
    let name = "frame open 1200 B, ParleyCrypto"
    let batchSize = FrameBench.batchSize
    let payloadBytes: Int? = FrameBench.payloadCount
    let displayUnit = DisplayUnit.nanoseconds
    private let sealer: FrameSealer
    private let opener: FrameOpener
    private let payload: AlignedBuffer
    private let packets = PacketSlots(count: FrameBench.batchSize, stride: FrameBench.packetCount)
    private let opened = AlignedBuffer(count: FrameBench.payloadCount)

    /// - Parameter call: both sides of a completed handshake: the caller seals, the callee opens.
    init(call: (caller: CallKeys, callee: CallKeys), payload: AlignedBuffer) {
        sealer = call.caller.frameSealer
        opener = call.callee.frameOpener
        self.payload = payload
    }

    deinit {
        sealer.erase()
        opener.erase()
    }

    func measure(_ count: Int) throws -> Duration {
        let input = UnsafeRawBufferPointer(payload.bytes)
        let slots = packets.slots
        for index in 0..<count {
            _ = try sealer.seal(type: FrameBench.frameType, payload: input, into: slots[index], now: FrameBench.now)
        }
        let output = opened.bytes
        let clock = ContinuousClock()
        var payloadTotal = 0
        let start = clock.now
        for index in 0..<count {
            payloadTotal &+= try opener.open(UnsafeRawBufferPointer(slots[index]), into: output, now: FrameBench.now).count
        }
        let elapsed = start.duration(to: clock.now)
        guard payloadTotal == count * FrameBench.payloadCount else {
            throw BenchmarkError(workload: name, problem: "opened \(payloadTotal) payload bytes from \(count) frames")
        }
        return elapsed
    }
}
