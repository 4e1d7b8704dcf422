import ParleyProtocol
import ParleySampleKit

/// Records a call's received Opus frames to a WAV file: frames go through a jitter buffer
/// (reordered by sequence number), are decoded, and every frame given up as lost is
/// concealed by Opus PLC, so the recording keeps the sender's timing.
/// One owner: the task that reads the call's data.
final class AudioRecorder {
    /// Frames waiting beyond a hole before it is concealed (60 ms at 20 ms per frame).
    static let jitterDepth = 3
    /// The longest hole concealed; a longer jump restarts the buffer (1 s).
    static let maxConcealed = 50

    let path: String
    private let payloadType: UInt8
    private let writer: WAVWriter
    private let decoder: OpusDecoder
    private var buffer = JitterBuffer<[UInt8]>(depth: jitterDepth, maxGap: maxConcealed)
    private(set) var concealed = 0
    private(set) var undecodable = 0
    private(set) var otherCodec = 0

    init(path: String, payloadType: UInt8) throws {
        self.path = path
        self.payloadType = payloadType
        do { writer = try WAVWriter(path: path, sampleRate: OpusCodec.sampleRate) } catch {
            throw AgentFailure(.outputFile, "--record \(error)")
        }
        decoder = try OpusDecoder()
    }

    var jitterStats: JitterBuffer<[UInt8]>.Stats { buffer.stats }
    var samplesWritten: Int { writer.samplesWritten }

    func receive(_ frame: MediaFrame) throws {
        guard frame.kind == .audio, frame.payloadType == payloadType else {
            otherCodec += 1
            return
        }
        buffer.insert(sequence: frame.sequence, payload: frame.payload)
        while let output = buffer.pop() { try play(output) }
    }

    /// Decodes what is still held and closes the file (its header gets the final sizes).
    func finish() throws {
        for output in buffer.drain() { try play(output) }
        do { try writer.close() } catch { throw AgentFailure(.outputFile, "--record \(error)") }
    }

    private func play(_ output: JitterBuffer<[UInt8]>.Output) throws {
        let samples: [Float]
        switch output {
        case let .frame(packet):
            if let decoded = decoder.decode(packet) {
                samples = decoded
            } else {
                undecodable += 1
                samples = decoder.conceal()
            }
        case .missing:
            concealed += 1
            samples = decoder.conceal()
        }
        do { try writer.append(samples) } catch { throw AgentFailure(.outputFile, "--record \(error)") }
    }
}
