import ParleySampleKit
import XCTest

/// The agent's pure pieces: WAV reading and writing, resampling, the jitter buffer, JSON
/// lines, base64 and received file names.
final class WAVFileTests: XCTestCase {
    /// A WAV file from its parts: fmt fields, then data bytes, with extra chunks before data.
    static func wav(format: UInt16 = 1, channels: UInt16 = 1, rate: UInt32 = 48_000, bits: UInt16 = 16, blockAlign: UInt16? = nil,
                    data: [UInt8], dataSize: UInt32? = nil, extraChunk: [UInt8]? = nil) -> [UInt8] {
        func le32(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)] }
        func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
        let align = blockAlign ?? channels * bits / 8
        var body = Array("WAVE".utf8)
        body += Array("fmt ".utf8) + le32(16) + le16(format) + le16(channels) + le32(rate) + le32(rate * UInt32(align)) + le16(align) + le16(bits)
        if let extraChunk { body += Array("LIST".utf8) + le32(UInt32(extraChunk.count)) + extraChunk + (extraChunk.count % 2 == 1 ? [0] : []) }
        body += Array("data".utf8) + le32(dataSize ?? UInt32(data.count)) + data
        return Array("RIFF".utf8) + le32(UInt32(body.count)) + body
    }

    static func int16(_ values: [Int16]) -> [UInt8] { values.flatMap { [UInt8(UInt16(bitPattern: $0) & 0xFF), UInt8(UInt16(bitPattern: $0) >> 8)] } }

    func testSixteenBitMonoIsReadAsFloats() throws {
        let audio = try WAVFile.parse(Self.wav(data: Self.int16([0, 16384, -32768, 32767])))
        XCTAssertEqual(audio.sampleRate, 48_000)
        XCTAssertEqual(audio.channels, 1)
        XCTAssertEqual(audio.samples, [0, 0.5, -1, Float(32767) / 32768])
    }

    func testStereoIsDownmixedAndOddExtraChunksAreSkipped() throws {
        let audio = try WAVFile.parse(Self.wav(channels: 2, rate: 44_100, data: Self.int16([16384, 0, -16384, -16384]), extraChunk: [1, 2, 3]))
        XCTAssertEqual(audio.channels, 2)
        XCTAssertEqual(audio.sampleRate, 44_100)
        XCTAssertEqual(audio.samples, [0.25, -0.5])
    }

    func testThirtyTwoBitFloatIsReadAndClamped() throws {
        let floats: [Float] = [0.25, -2, .nan]
        let bytes = floats.flatMap { value -> [UInt8] in
            let bits = value.bitPattern
            return [UInt8(bits & 0xFF), UInt8(bits >> 8 & 0xFF), UInt8(bits >> 16 & 0xFF), UInt8(bits >> 24)]
        }
        XCTAssertEqual(try WAVFile.parse(Self.wav(format: 3, bits: 32, data: bytes)).samples, [0.25, -1, 0])
    }

    func testADataSizeOfZeroRunsToTheEndOfTheFile() throws {
        XCTAssertEqual(try WAVFile.parse(Self.wav(data: Self.int16([100, 200]), dataSize: 0)).samples.count, 2)
        XCTAssertEqual(try WAVFile.parse(Self.wav(data: Self.int16([100, 200]), dataSize: 0xFFFF_FFFF)).samples.count, 2)
    }

    func testMalformedAndTruncatedFilesAreRefusedWithAReason() {
        let good = Self.wav(data: Self.int16([1, 2, 3, 4]))
        let cases: [(String, [UInt8], String)] = [
            ("empty", [], "shorter than a RIFF header"),
            ("truncated RIFF header", Array(good.prefix(10)), "shorter than a RIFF header"),
            ("not RIFF", Array("RIFX".utf8) + good.dropFirst(4), "no RIFF/WAVE header"),
            ("header only", Array(good.prefix(12)), "no fmt chunk"),
            ("truncated fmt", Array(good.prefix(30)), "fmt chunk"),
            ("no data", Array(good.prefix(36)), "no data chunk"),
            ("truncated data", Array(good.dropLast(3)), "truncated"),
            ("24-bit", Self.wav(bits: 24, data: [0, 0, 0]), "only 16-bit PCM"),
            ("8-bit", Self.wav(bits: 8, data: [0, 0]), "only 16-bit PCM"),
            ("16-bit float", Self.wav(format: 3, bits: 16, data: [0, 0]), "only 16-bit PCM"),
            ("96 kHz", Self.wav(rate: 96_000, data: [0, 0]), "sample rate 96000"),
            ("6 kHz", Self.wav(rate: 6_000, data: [0, 0]), "sample rate 6000"),
            ("3 channels", Self.wav(channels: 3, data: [0, 0, 0, 0, 0, 0]), "3 channels"),
            ("block align", Self.wav(blockAlign: 4, data: [0, 0]), "block align"),
        ]
        for (name, bytes, expected) in cases {
            XCTAssertThrowsError(try WAVFile.parse(bytes), name) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(name): \(error)")
            }
        }
    }

    func testTheWriterFixesTheHeaderOnCloseAndTheReaderReadsItBack() throws {
        let scratch = try SampleScratch()
        defer { scratch.remove() }
        let path = scratch.file("out.wav")
        let writer = try WAVWriter(path: path, sampleRate: 48_000)
        try writer.append([0.5, -0.5])
        try writer.append([Float](repeating: 0.25, count: 40_000))
        try writer.close()
        let audio = try WAVFile.load(path: path)
        XCTAssertEqual(audio.samples.count, 40_002)
        XCTAssertEqual(Double(audio.samples[0]), 0.5, accuracy: 1e-4)
        XCTAssertEqual(Double(audio.samples[1]), -0.5, accuracy: 1e-4)
        XCTAssertEqual(Double(audio.samples[40_001]), 0.25, accuracy: 1e-4)
    }

    func testLinearResamplingKeepsDurationAndInterpolates() {
        let out = LinearResampler.resample([0, 1, 0, -1], from: 24_000, to: 48_000)
        XCTAssertEqual(out, [0, 0.5, 1, 0.5, 0, -0.5, -1, -1])
        XCTAssertEqual(LinearResampler.resample([Float](repeating: 0, count: 44_100), from: 44_100, to: 48_000).count, 48_000)
        XCTAssertEqual(LinearResampler.resample([1, 2], from: 48_000, to: 48_000), [1, 2])
        // A resampled 1 kHz tone is still a 1 kHz tone.
        var tone = ToneGenerator(frequency: 1000, sampleRate: 16_000, amplitude: 0.5)
        let up = LinearResampler.resample(tone.next(16_000), from: 16_000, to: 48_000)
        XCTAssertEqual(ToneAnalysis.zeroCrossingsPerSecond(up), 2000, accuracy: 10)
    }
}

/// The measure the tone test relies on, checked on signals whose answer is known.
final class ToneAnalysisTests: XCTestCase {
    func testAShiftedNoisyCopyIsFoundAtItsOffsetAndScoresHigh() {
        let sent = ToneAnalysis.signal(hertz: 1000, seconds: 2)
        var noise: UInt32 = 1
        let recording = (0..<(sent.count - 2000)).map { index -> Float in
            noise = noise &* 1_103_515_245 &+ 12_345
            let source = index - 312
            return (source >= 0 ? sent[source] : 0) + 0.01 * (Float(noise >> 16 & 0x7FFF) / 16_384 - 1)
        }
        let match = ToneAnalysis.bestCorrelation(sent: sent, recording: recording)
        XCTAssertEqual(match.offset, -312)
        XCTAssertGreaterThan(match.correlation, 0.98)
        let late = Array(recording.dropFirst(9_600))  // the first 200 ms lost
        XCTAssertEqual(ToneAnalysis.bestCorrelation(sent: sent, recording: late).offset, 9_600 - 312)
    }

    func testOtherSignalsScoreLow() {
        let recording = ToneAnalysis.signal(hertz: 1000, seconds: 2)
        XCTAssertLessThan(ToneAnalysis.bestCorrelation(sent: ToneAnalysis.signal(hertz: 1500, seconds: 2), recording: recording).correlation, 0.3)
        XCTAssertLessThan(ToneAnalysis.bestCorrelation(sent: ToneAnalysis.signal(hertz: 1000, seconds: 2, seed: 99), recording: recording).correlation, 0.5)
        let silence = [Float](repeating: 0, count: recording.count)
        XCTAssertLessThan(ToneAnalysis.bestCorrelation(sent: recording, recording: silence).correlation, 0.3)
    }
}

final class JitterBufferTests: XCTestCase {
    private func outputs(_ buffer: inout JitterBuffer<Int>) -> [Int?] {
        var out: [Int?] = []
        while let next = buffer.pop() {
            if case let .frame(value) = next { out.append(value) } else { out.append(nil) }
        }
        return out
    }

    func testFramesInOrderPassStraightThrough() {
        var buffer = JitterBuffer<Int>(depth: 3)
        var out: [Int?] = []
        for sequence in 0..<5 {
            buffer.insert(sequence: UInt16(sequence), payload: sequence)
            out += outputs(&buffer)
        }
        XCTAssertEqual(out, [0, 1, 2, 3, 4])
    }

    func testReorderedFramesAreReleasedInSequenceOrder() {
        var buffer = JitterBuffer<Int>(depth: 3)
        var out: [Int?] = []
        for sequence in [10, 12, 11, 14, 13, 15] {
            buffer.insert(sequence: UInt16(sequence), payload: sequence)
            out += outputs(&buffer)
        }
        XCTAssertEqual(out, [10, 11, 12, 13, 14, 15])
        XCTAssertEqual(buffer.stats.missing, 0)
    }

    func testAHoleIsGivenUpOnlyWhenMoreThanDepthFramesWaitBehindIt() {
        var buffer = JitterBuffer<Int>(depth: 2)
        buffer.insert(sequence: 0, payload: 0)
        XCTAssertEqual(outputs(&buffer), [0])
        buffer.insert(sequence: 2, payload: 2)
        buffer.insert(sequence: 3, payload: 3)
        XCTAssertEqual(outputs(&buffer), [], "two frames behind the hole: still waiting for 1")
        buffer.insert(sequence: 4, payload: 4)
        XCTAssertEqual(outputs(&buffer), [nil, 2, 3, 4], "1 is concealed once three wait")
        XCTAssertEqual(buffer.stats.missing, 1)
        XCTAssertFalse(buffer.insert(sequence: 1, payload: 1), "1 arrived too late")
        XCTAssertEqual(buffer.stats.late, 1)
    }

    func testDuplicatesAreDropped() {
        var buffer = JitterBuffer<Int>(depth: 3)
        buffer.insert(sequence: 5, payload: 5)
        buffer.insert(sequence: 7, payload: 7)
        XCTAssertFalse(buffer.insert(sequence: 7, payload: 70))
        XCTAssertEqual(buffer.stats.duplicates, 1)
        XCTAssertEqual(buffer.drain().map { if case let .frame(v) = $0 { return v } else { return nil } }, [5, nil, 7])
    }

    func testSequenceNumbersWrap() {
        var buffer = JitterBuffer<Int>(depth: 3)
        var out: [Int?] = []
        for sequence in [65_534, 0, 65_535, 1] {
            buffer.insert(sequence: UInt16(sequence), payload: sequence)
            out += outputs(&buffer)
        }
        XCTAssertEqual(out, [65_534, 65_535, 0, 1])
    }

    func testALongJumpResynchronisesInsteadOfConcealingItAll() {
        var buffer = JitterBuffer<Int>(depth: 3, maxGap: 50)
        buffer.insert(sequence: 0, payload: 0)
        _ = outputs(&buffer)
        buffer.insert(sequence: 1000, payload: 1000)
        XCTAssertEqual(outputs(&buffer), [1000])
        XCTAssertEqual(buffer.stats.resyncs, 1)
        XCTAssertEqual(buffer.stats.missing, 0)
    }
}

final class EventLineTests: XCTestCase {
    func testJSONStringsEscapeQuotesBackslashesAndControlCharacters() {
        XCTAssertEqual(JSONText.quoted("plain"), #""plain""#)
        XCTAssertEqual(JSONText.quoted("a\"b\\c"), #""a\"b\\c""#)
        XCTAssertEqual(JSONText.quoted("line\nnext\r\ttab"), #""line\nnext\r\ttab""#)
        XCTAssertEqual(JSONText.quoted("\u{0}\u{1F}\u{08}\u{0C}"), #""\u0000\u001f\b\f""#)
        XCTAssertEqual(JSONText.quoted("wörld ✓ 🎧"), "\"wörld ✓ 🎧\"")
    }

    func testObjectsKeepKeyOrderAndStayOnOneLine() throws {
        let value = JSONValue.object([("event", .string("stats")), ("n", .int(-3)), ("ok", .bool(true)), ("none", .null),
                                      ("rate", .double(1.5)), ("bad", .double(.nan)),
                                      ("list", .array([.string("a\nb"), .int(1)]))])
        XCTAssertEqual(value.serialized, #"{"event":"stats","n":-3,"ok":true,"none":null,"rate":1.5,"bad":null,"list":["a\nb",1]}"#)
        XCTAssertFalse(value.serialized.contains("\n"))
        let parsed = try JSONSerialization.jsonObject(with: Data(value.serialized.utf8)) as? [String: Any]
        XCTAssertEqual((parsed?["list"] as? [Any])?.first as? String, "a\nb")
    }

    func testEveryControlCharacterRoundTripsThroughAJSONParser() throws {
        let text = String(decoding: (0..<128).map { UInt8($0) }, as: UTF8.self) + "é\u{2028}"
        let line = JSONValue.object([("text", .string(text))]).serialized
        let parsed = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
        XCTAssertEqual(parsed?["text"], text)
    }

    func testTimesAreISO8601UTCWithMilliseconds() {
        XCTAssertEqual(EventTime.format(seconds: 0, milliseconds: 7), "1970-01-01T00:00:00.007Z")
        XCTAssertEqual(EventTime.format(seconds: 1_700_000_000, milliseconds: 123), "2023-11-14T22:13:20.123Z")
        XCTAssertNotNil(EventTime.now().wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/))
    }

    func testBase64MatchesRFC4648Vectors() {
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
        for (input, output) in vectors { XCTAssertEqual(Base64.encode(Array(input.utf8)), output) }
        XCTAssertEqual(Base64.encode([0xFF, 0xFE, 0x00]), "//4A")
    }

    func testReceivedFileNamesCannotLeaveTheDirectory() {
        XCTAssertEqual(SafeFileName.sanitize("report.pdf"), "report.pdf")
        XCTAssertEqual(SafeFileName.sanitize("../../etc/passwd"), "passwd")
        XCTAssertEqual(SafeFileName.sanitize("..\\..\\boot.ini"), "boot.ini")
        XCTAssertEqual(SafeFileName.sanitize(".bashrc"), "bashrc")
        XCTAssertEqual(SafeFileName.sanitize(".."), SafeFileName.fallback)
        XCTAssertEqual(SafeFileName.sanitize(nil), SafeFileName.fallback)
        XCTAssertEqual(SafeFileName.sanitize("a b;rm -rf$(x).txt"), "a_b_rm_-rf__x_.txt")
        XCTAssertEqual(SafeFileName.sanitize("文件"), SafeFileName.fallback)
        XCTAssertEqual(SafeFileName.sanitize(String(repeating: "x", count: 300) + ".bin").count, SafeFileName.maxLength)
        let taken: Set<String> = ["a.txt", "a-1.txt"]
        XCTAssertEqual(SafeFileName.unique("a.txt") { taken.contains($0) }, "a-2.txt")
        XCTAssertEqual(SafeFileName.unique("b") { _ in false }, "b")
    }
}
