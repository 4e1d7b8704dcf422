import Glibc

/// Why a WAV file was refused, as one line a person can act on.
public struct WAVError: Error, Equatable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// Decoded audio: mono samples in -1...1 at the file's own rate (stereo is downmixed by
/// averaging the two channels).
public struct WAVAudio: Equatable, Sendable {
    public var sampleRate: Int
    /// Channels in the file (the samples are already mono).
    public var channels: Int
    public var samples: [Float]

    public init(sampleRate: Int, channels: Int, samples: [Float]) {
        self.sampleRate = sampleRate
        self.channels = channels
        self.samples = samples
    }
}

/// RIFF/WAVE reading: 16-bit integer PCM or 32-bit float, mono or stereo, 8 to 48 kHz.
/// Chunks other than `fmt ` and `data` are skipped; WAVE_FORMAT_EXTENSIBLE is read through
/// its sub-format. A `data` chunk whose size is 0 or 0xFFFFFFFF (written by a recorder that
/// never fixed its header) runs to the end of the file; any other size beyond the file's
/// end is refused as truncated.
public enum WAVFile {
    /// Largest file accepted (about 5.8 minutes of 48 kHz 16-bit stereo).
    public static let maxBytes = 64 * 1024 * 1024
    public static let sampleRates = 8_000...48_000

    static let formatPCM: UInt16 = 1
    static let formatFloat: UInt16 = 3
    static let formatExtensible: UInt16 = 0xFFFE

    public static func load(path: String) throws -> WAVAudio {
        let bytes: [UInt8]
        do { bytes = try readFile(path: path, limit: maxBytes) } catch { throw WAVError("\(error)") }
        do { return try parse(bytes) } catch { throw WAVError("\(path): \(error.reason)") }
    }

    public static func parse(_ bytes: [UInt8]) throws(WAVError) -> WAVAudio {
        guard bytes.count >= 12 else { throw WAVError("not a WAV file: \(bytes.count) bytes, shorter than a RIFF header") }
        guard tag(bytes, 0) == "RIFF", tag(bytes, 8) == "WAVE" else { throw WAVError("not a WAV file: no RIFF/WAVE header") }
        var offset = 12
        var format: (tag: UInt16, channels: Int, rate: Int, blockAlign: Int, bits: Int)?
        while offset + 8 <= bytes.count {
            let id = tag(bytes, offset)
            let size = Int(uint32(bytes, offset + 4))
            let body = offset + 8
            switch id {
            case "fmt ":
                guard size >= 16, body + size <= bytes.count else { throw WAVError("truncated or short fmt chunk (\(size) bytes)") }
                var formatTag = uint16(bytes, body)
                if formatTag == formatExtensible {
                    guard size >= 40 else { throw WAVError("WAVE_FORMAT_EXTENSIBLE fmt chunk shorter than 40 bytes") }
                    formatTag = uint16(bytes, body + 24)
                }
                format = (formatTag, Int(uint16(bytes, body + 2)), Int(uint32(bytes, body + 4)),
                          Int(uint16(bytes, body + 12)), Int(uint16(bytes, body + 14)))
            case "data":
                guard let format else { throw WAVError("data chunk before the fmt chunk") }
                var end = body + size
                if size == 0 || size == 0xFFFF_FFFF {
                    end = bytes.count
                } else if end > bytes.count {
                    throw WAVError("truncated: the data chunk declares \(size) bytes but the file holds \(bytes.count - body)")
                }
                return try decode(bytes[body..<end], format: format)
            default:
                break
            }
            guard size <= bytes.count else { throw WAVError("truncated: chunk \"\(id)\" declares \(size) bytes") }
            offset = body + size + (size & 1)
        }
        throw WAVError(format == nil ? "no fmt chunk" : "no data chunk")
    }

    private static func decode(_ data: ArraySlice<UInt8>, format: (tag: UInt16, channels: Int, rate: Int, blockAlign: Int, bits: Int))
        throws(WAVError) -> WAVAudio {
        guard format.channels == 1 || format.channels == 2 else {
            throw WAVError("\(format.channels) channels: only mono and stereo are supported")
        }
        guard sampleRates.contains(format.rate) else {
            throw WAVError("sample rate \(format.rate) Hz: only 8000 to 48000 Hz are supported")
        }
        let bytesPerSample: Int
        switch (format.tag, format.bits) {
        case (formatPCM, 16): bytesPerSample = 2
        case (formatFloat, 32): bytesPerSample = 4
        default:
            throw WAVError("format \(format.tag) with \(format.bits) bits: only 16-bit PCM (format 1) and 32-bit float (format 3) are supported")
        }
        guard format.blockAlign == bytesPerSample * format.channels else {
            throw WAVError("block align \(format.blockAlign) does not match \(format.channels) channels of \(format.bits) bits")
        }
        let frames = data.count / format.blockAlign
        var samples = [Float](repeating: 0, count: frames)
        let base = data.startIndex
        for frame in 0..<frames {
            var sum: Float = 0
            for channel in 0..<format.channels {
                let at = base + frame * format.blockAlign + channel * bytesPerSample
                if bytesPerSample == 2 {
                    sum += Float(Int16(bitPattern: uint16(data, at))) / 32768
                } else {
                    let value = Float(bitPattern: uint32(data, at))
                    sum += value.isNaN ? 0 : min(1, max(-1, value))
                }
            }
            samples[frame] = sum / Float(format.channels)
        }
        return WAVAudio(sampleRate: format.rate, channels: format.channels, samples: samples)
    }

    /// A 16-bit PCM mono WAV file of `samples` (clamped to -1...1), for tests and tools.
    public static func encode(samples: [Float], sampleRate: Int) -> [UInt8] {
        var out = header(sampleRate: sampleRate, dataBytes: UInt32(samples.count * 2))
        out.reserveCapacity(out.count + samples.count * 2)
        for sample in samples { appendSample(sample, to: &out) }
        return out
    }

    /// The 44-byte header of a 16-bit PCM mono file with `dataBytes` of samples.
    static func header(sampleRate: Int, dataBytes: UInt32) -> [UInt8] {
        var out: [UInt8] = []
        func append32(_ value: UInt32) { out += [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 24)] }
        func append16(_ value: UInt16) { out += [UInt8(value & 0xFF), UInt8(value >> 8)] }
        out += Array("RIFF".utf8)
        append32(dataBytes &+ 36)
        out += Array("WAVEfmt ".utf8)
        append32(16)
        append16(formatPCM)
        append16(1)
        append32(UInt32(sampleRate))
        append32(UInt32(sampleRate * 2))
        append16(2)
        append16(16)
        out += Array("data".utf8)
        append32(dataBytes)
        return out
    }

    static func appendSample(_ sample: Float, to out: inout [UInt8]) {
        let clamped = sample.isNaN ? 0 : min(1, max(-1, sample))
        let value = UInt16(bitPattern: Int16((clamped * 32767).rounded()))
        out.append(UInt8(value & 0xFF))
        out.append(UInt8(value >> 8))
    }

    private static func tag(_ bytes: [UInt8], _ at: Int) -> String { String(decoding: bytes[at..<(at + 4)], as: UTF8.self) }
    private static func uint16<C: RandomAccessCollection>(_ bytes: C, _ at: C.Index) -> UInt16 where C.Element == UInt8, C.Index == Int {
        UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8
    }
    private static func uint32<C: RandomAccessCollection>(_ bytes: C, _ at: C.Index) -> UInt32 where C.Element == UInt8, C.Index == Int {
        UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
    }
}

/// Writes a 16-bit PCM mono WAV file as samples arrive. The header's sizes are written as 0
/// first (a reader treats that as "to the end of the file") and fixed up by `close()`.
/// Stops taking samples before the data would exceed the format's 4 GiB limit.
public final class WAVWriter {
    public let path: String
    public let sampleRate: Int
    public private(set) var samplesWritten = 0
    private var descriptor: Int32
    private var pending: [UInt8] = []
    private static let maxDataBytes = Int(UInt32.max) - 64
    private static let flushBytes = 64 * 1024

    public init(path: String, sampleRate: Int) throws(SampleError) {
        self.path = path
        self.sampleRate = sampleRate
        descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw SampleError.file(path, String(cString: strerror(errno))) }
        pending = WAVFile.header(sampleRate: sampleRate, dataBytes: 0)
    }

    deinit { try? close() }

    public func append(_ samples: [Float]) throws(SampleError) {
        guard descriptor >= 0 else { return }
        let room = (Self.maxDataBytes - samplesWritten * 2) / 2
        for sample in samples.prefix(max(0, room)) { WAVFile.appendSample(sample, to: &pending) }
        samplesWritten += min(samples.count, max(0, room))
        if pending.count >= Self.flushBytes { try flush() }
    }

    /// Writes what is pending and the final sizes. Idempotent.
    public func close() throws(SampleError) {
        guard descriptor >= 0 else { return }
        defer {
            Glibc.close(descriptor)
            descriptor = -1
        }
        try flush()
        let header = WAVFile.header(sampleRate: sampleRate, dataBytes: UInt32(samplesWritten * 2))
        let written = header.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        guard written == header.count else { throw SampleError.file(path, "cannot write the WAV header: \(String(cString: strerror(errno)))") }
    }

    private func flush() throws(SampleError) {
        var offset = 0
        while offset < pending.count {
            let count = pending[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw SampleError.file(path, String(cString: strerror(errno)))
            }
            offset += count
        }
        pending.removeAll(keepingCapacity: true)
    }
}
