import Parley
import ParleyProtocol

/// CPU of one audio-only call: this process's CPU time (getrusage, every thread) while
/// both ends send 50 frames/s of 160-byte payloads for `seconds`, minus the same length
/// measured idle first, with both clients online and no call. A thread sends one frame
/// each way every 20 ms on a fixed schedule; tasks count the frames each side receives.
enum AudioCallCPUBench {
    struct Result {
        let seconds: Double
        let idleCPUSeconds: Double
        let callCPUSeconds: Double
        let framesSent: Int
        let framesReceived: (caller: UInt64, callee: UInt64)
        let sendErrors: [String]

        var idleCorePercent: Double { idleCPUSeconds / seconds * 100 }
        var callCorePercent: Double { callCPUSeconds / seconds * 100 }
        var netCorePercent: Double { (callCPUSeconds - idleCPUSeconds) / seconds * 100 }
    }

    static let framesPerSecond = 50
    static let payloadBytes = 160
    /// After connecting: the setup's timers and the first consent checks settle.
    static let settle: Duration = .milliseconds(500)

    static func measure(network: CallBenchNetwork, seconds: Double) async throws -> Result {
        let caller = try await network.client()
        let callee = try await network.client()
        defer {
            network.stop(caller)
            network.stop(callee)
        }
        try await Task.sleep(for: settle)
        let idleStart = (time: Monotonic.now(), cpu: ProcFS.ownCPUSeconds())
        try await sleep(until: idleStart.time + Monotonic.nanoseconds(seconds))
        let idleEnd = (time: Monotonic.now(), cpu: ProcFS.ownCPUSeconds())
        let idleSeconds = Double(idleEnd.time - idleStart.time) / 1e9
        // The same length as the call window, for the subtraction.
        let idleCPU = (idleEnd.cpu - idleStart.cpu) / idleSeconds * seconds

        let answer = AutoAnswer(callee, media: .audioOnly)
        let (call, answered) = try await connectedCall(caller, callee, answer: answer, media: .audioOnly)
        defer { call.hangUp() }
        guard let audio = call.negotiatedMedia?.audio, let payloadType = audio.codecs.first?.payloadType else {
            throw BenchmarkError(workload: "audio call", problem: "the call agreed no audio (negotiated: \(String(describing: call.negotiatedMedia)))")
        }
        let stream = UInt8(audio.sectionIndex)
        let callerData = CallDataCounter(call)
        let calleeData = CallDataCounter(answered)
        defer {
            callerData.stop()
            calleeData.stop()
        }
        try await Task.sleep(for: settle)

        let frames = Int(seconds * Double(framesPerSecond))
        let interval = UInt64(1_000_000_000 / framesPerSecond)
        let payload = (0..<payloadBytes).map { UInt8(truncatingIfNeeded: $0) }
        let start = (time: Monotonic.now(), cpu: ProcFS.ownCPUSeconds())
        let sender = JoinableThread<[String]> {
            var errors: [String] = []
            for index in 0..<frames {
                Monotonic.sleep(until: start.time + UInt64(index) * interval)
                let frame = MediaFrame(stream: stream, kind: .audio, payloadType: payloadType,
                                       timestamp: UInt32(truncatingIfNeeded: index * 960), payload: payload)
                for end in [call, answered] {
                    do {
                        try end.send(media: frame)
                    } catch {
                        if errors.count < 3 { errors.append("\(error)") }
                    }
                }
            }
            return errors
        }
        // The last frame is due one interval before this; on loopback it arrives well within it.
        try await sleep(until: start.time + UInt64(frames) * interval)
        let errors = sender.join()
        let end = (time: Monotonic.now(), cpu: ProcFS.ownCPUSeconds())
        let elapsed = Double(end.time - start.time) / 1e9
        return Result(seconds: seconds, idleCPUSeconds: idleCPU, callCPUSeconds: (end.cpu - start.cpu) / elapsed * seconds,
                      framesSent: frames,
                      framesReceived: (callerData.mediaFrames.load(ordering: .relaxed), calleeData.mediaFrames.load(ordering: .relaxed)),
                      sendErrors: errors)
    }
}
