import Parley
import ParleyProtocol
import ParleySampleKit
import Synchronization

/// Plays an `AudioSource` into a call: 20 ms blocks, Opus-encoded, sent as media frames
/// 50 times a second on a monotonic schedule (frame n leaves at start + n x 20 ms; after a
/// stall of more than `maxLag` the schedule restarts instead of sending a burst).
final class AudioSender: Sendable {
    static let maxLag: Duration = .milliseconds(200)

    private let counters = Mutex((frames: 0, bytes: 0, errors: 0))
    var framesSent: Int { counters.withLock { $0.frames } }
    var bytesSent: Int { counters.withLock { $0.bytes } }

    /// Runs until the source is exhausted (a played file: returns true) or the task is
    /// cancelled or the call stops taking frames (returns false).
    func run(call: Call, source: AudioSource, audio: NegotiatedAudio, payloadType: UInt8, events: EventWriter) async -> Bool {
        let encoder: OpusEncoder
        do { encoder = try OpusEncoder(maxBitrate: audio.maxBitrate) } catch {
            events.error(.callFailed, "\(error)")
            return false
        }
        if let limit = audio.maxBitrate, UInt32(clamping: encoder.bitrate) > limit {
            events.log("the peer asks for at most \(limit) bit/s of audio; Opus cannot go below \(encoder.bitrate) bit/s")
        }
        var blocks = BlockSource(source)
        let clock = ContinuousClock()
        var start = clock.now
        var index = 0
        var scheduled = 0
        while !Task.isCancelled {
            guard let block = blocks.next() else { return true }
            let packet: [UInt8]
            do { packet = try encoder.encode(block) } catch {
                events.error(.callFailed, "\(error)")
                return false
            }
            let frame = MediaFrame(stream: UInt8(audio.sectionIndex), kind: .audio, payloadType: payloadType,
                                   timestamp: UInt32(truncatingIfNeeded: index * OpusCodec.frameSamples),
                                   flags: index == 0 ? .marker : [], payload: packet)
            do {
                try call.send(media: frame)
                counters.withLock {
                    $0.frames += 1
                    $0.bytes += packet.count
                }
            } catch .notConnected {
                return false
            } catch {
                counters.withLock { $0.errors += 1 }
            }
            index += 1
            scheduled += 1
            let due = start + .milliseconds(20 * scheduled)
            if clock.now - due > Self.maxLag {
                start = clock.now
                scheduled = 0
                continue
            }
            do { try await clock.sleep(until: due) } catch { return false }
        }
        return false
    }
}

/// 20 ms blocks of 48 kHz mono samples from a source (the last block of a file padded with silence).
struct BlockSource {
    private let source: AudioSource
    private var tone: ToneGenerator?
    private var offset = 0

    init(_ source: AudioSource) {
        self.source = source
        if case let .tone(hertz) = source { tone = ToneGenerator(frequency: hertz, sampleRate: OpusCodec.sampleRate) }
    }

    mutating func next() -> [Float]? {
        switch source {
        case .none:
            return nil
        case .tone:
            return tone?.next(OpusCodec.frameSamples)
        case let .play(_, samples):
            guard offset < samples.count else { return nil }
            let end = min(offset + OpusCodec.frameSamples, samples.count)
            var block = Array(samples[offset..<end])
            offset = end
            block += [Float](repeating: 0, count: OpusCodec.frameSamples - block.count)
            return block
        }
    }
}
