import COpus

/// libopus at the agent's one format: 48 kHz mono, 20 ms frames (960 samples).
enum OpusCodec {
    static let sampleRate = 48_000
    static let frameSamples = 960
    static let framesPerSecond = 50
    /// Largest packet the encoder may produce (RFC 6716 allows 1275 bytes per frame).
    static let maxPacketBytes = 1275
    /// The most samples one packet can decode to (120 ms at 48 kHz).
    static let maxDecodeSamples = 5760
    /// The bitrate sent when the answer sets no limit: plenty for wideband speech and music.
    static let defaultBitrate: Int32 = 32_000
    /// libopus's accepted bitrates (bit/s).
    static let bitrateRange: ClosedRange<Int32> = 6_000...510_000
    /// The loss the encoder's in-band FEC is tuned for (percent).
    static let expectedLossPercent: Int32 = 5

    static func errorText(_ code: Int32) -> String { String(cString: opus_strerror(code)) }
}

/// An Opus encoder for 20 ms mono frames at the negotiated bitrate (the answer's TIAS
/// limit, else `OpusCodec.defaultBitrate`), with in-band FEC so a lost frame can be
/// rebuilt from the next one.
final class OpusEncoder {
    private let state: OpaquePointer
    /// The bitrate the encoder was set to (bit/s).
    let bitrate: Int32

    init(maxBitrate: UInt32?) throws {
        var error: Int32 = 0
        guard let state = opus_encoder_create(Int32(OpusCodec.sampleRate), 1, OPUS_APPLICATION_AUDIO, &error), error == OPUS_OK else {
            throw AgentFailure(.callFailed, "opus encoder: \(OpusCodec.errorText(error))")
        }
        self.state = state
        let wanted = maxBitrate.map { Int32(clamping: $0) } ?? OpusCodec.defaultBitrate
        let clamped = min(max(wanted, OpusCodec.bitrateRange.lowerBound), OpusCodec.bitrateRange.upperBound)
        for (result, what) in [(parley_opus_set_bitrate(state, clamped), "bitrate \(clamped)"),
                               (parley_opus_set_inband_fec(state, 1), "in-band FEC"),
                               (parley_opus_set_packet_loss_percent(state, OpusCodec.expectedLossPercent), "expected loss")]
        where result != OPUS_OK {
            opus_encoder_destroy(state)
            throw AgentFailure(.callFailed, "opus encoder: cannot set \(what): \(OpusCodec.errorText(result))")
        }
        var set: Int32 = 0
        _ = parley_opus_get_bitrate(state, &set)
        bitrate = set
    }

    deinit { opus_encoder_destroy(state) }

    /// One packet from exactly `OpusCodec.frameSamples` samples.
    func encode(_ samples: [Float]) throws -> [UInt8] {
        precondition(samples.count == OpusCodec.frameSamples, "Opus frames are 20 ms")
        var packet = [UInt8](repeating: 0, count: OpusCodec.maxPacketBytes)
        let count = samples.withUnsafeBufferPointer { pcm in
            packet.withUnsafeMutableBufferPointer { out in
                // Both buffers are non-empty (960 samples, 1275 bytes), so their base addresses exist.
                opus_encode_float(state, pcm.baseAddress!, Int32(OpusCodec.frameSamples), out.baseAddress!, Int32(out.count))
            }
        }
        guard count > 0 else { throw AgentFailure(.callFailed, "opus encode: \(OpusCodec.errorText(count))") }
        return Array(packet.prefix(Int(count)))
    }
}

/// An Opus decoder to 48 kHz mono (a stereo stream is downmixed by libopus).
final class OpusDecoder {
    private let state: OpaquePointer
    private var pcm = [Float](repeating: 0, count: OpusCodec.maxDecodeSamples)

    init() throws {
        var error: Int32 = 0
        guard let state = opus_decoder_create(Int32(OpusCodec.sampleRate), 1, &error), error == OPUS_OK else {
            throw AgentFailure(.callFailed, "opus decoder: \(OpusCodec.errorText(error))")
        }
        self.state = state
    }

    deinit { opus_decoder_destroy(state) }

    /// The samples of `packet`; nil when libopus refuses it (corrupt).
    func decode(_ packet: [UInt8]) -> [Float]? {
        let count = packet.withUnsafeBufferPointer { data in
            pcm.withUnsafeMutableBufferPointer { out in
                // `pcm` holds maxDecodeSamples samples, so its base address exists.
                opus_decode_float(state, data.baseAddress, Int32(data.count), out.baseAddress!, Int32(out.count), 0)
            }
        }
        return count > 0 ? Array(pcm.prefix(Int(count))) : nil
    }

    /// Packet loss concealment: 20 ms extrapolated from what came before.
    func conceal() -> [Float] {
        let count = pcm.withUnsafeMutableBufferPointer { out in
            // `pcm` holds maxDecodeSamples samples, so its base address exists.
            opus_decode_float(state, nil, 0, out.baseAddress!, Int32(OpusCodec.frameSamples), 0)
        }
        return count > 0 ? Array(pcm.prefix(Int(count))) : [Float](repeating: 0, count: OpusCodec.frameSamples)
    }
}
