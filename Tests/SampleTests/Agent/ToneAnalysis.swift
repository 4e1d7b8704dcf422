import Foundation

/// Measures how well a received recording reproduces the sent signal: align the two
/// (coarsely on their 10 ms loudness envelopes, then sample-exactly), then the normalized
/// correlation of the overlap; and the frequency content by Goertzel.
enum ToneAnalysis {
    static let sampleRate = 48_000
    static let block = 480

    /// A test signal: a sine at `hertz` whose level moves between segments of 100 ms
    /// (pseudo-random levels of either sign, 0.1 to 0.45, from a fixed seed; linear between
    /// segments), so only one alignment of a recording against it fits, and the same tone
    /// with other levels does not correlate.
    static func signal(hertz: Double, seconds: Double, seed: UInt32 = 7) -> [Float] {
        let count = Int(seconds * Double(sampleRate))
        let segment = sampleRate / 10
        var state = seed
        let levels: [Float] = (0...(count / segment + 1)).map { _ in
            state = state &* 1_664_525 &+ 1_013_904_223
            let magnitude = 0.1 + 0.35 * Float(state >> 8 & 0xFFFF) / Float(1 << 16)
            return state >> 31 == 0 ? magnitude : -magnitude
        }
        return (0..<count).map { index in
            let position = Float(index % segment) / Float(segment)
            let level = levels[index / segment] * (1 - position) + levels[index / segment + 1] * position
            return level * Float(sin(2 * Double.pi * hertz * Double(index) / Double(sampleRate)))
        }
    }

    /// The best alignment of `recording` to `sent`: the offset d with recording[i] ~ sent[i + d],
    /// and the normalized correlation of the overlap at d (first and last 100 ms left out).
    static func bestCorrelation(sent: [Float], recording: [Float]) -> (offset: Int, correlation: Double) {
        let sentEnvelope = envelope(sent), recordedEnvelope = envelope(recording)
        // Coarse: envelopes, offsets from -0.2 s to +1 s.
        var coarse = 0
        var best = -Double.infinity
        for lag in -20...100 {
            let score = pearson(recordedEnvelope, sentEnvelope, offset: lag)
            if score > best { (best, coarse) = (score, lag) }
        }
        // Fine: samples, within one block either side, over one second of the overlap: every
        // 8th lag first, then each lag around the best of those.
        var offset = coarse * block
        for (range, step) in [((coarse * block - block)...(coarse * block + block), 8), (-8...8, 1)] {
            let base = step == 1 ? offset : 0
            best = -Double.infinity
            for lag in stride(from: base + range.lowerBound, through: base + range.upperBound, by: step) {
                let score = pearson(recording, sent, offset: lag, trim: sampleRate / 10, limit: sampleRate)
                if score > best { (best, offset) = (score, lag) }
            }
        }
        return (offset, pearson(recording, sent, offset: offset, trim: sampleRate / 10))
    }

    /// Power of `samples` at `hertz` (Goertzel), per sample squared.
    static func goertzel(_ samples: [Float], hertz: Double) -> Double {
        let coefficient = 2 * cos(2 * Double.pi * hertz / Double(sampleRate))
        var (s1, s2) = (0.0, 0.0)
        for sample in samples {
            let s0 = Double(sample) + coefficient * s1 - s2
            (s2, s1) = (s1, s0)
        }
        let power = s1 * s1 + s2 * s2 - coefficient * s1 * s2
        return power / Double(samples.count * samples.count)
    }

    /// Sign changes per second.
    static func zeroCrossingsPerSecond(_ samples: [Float]) -> Double {
        var crossings = 0
        for index in 1..<samples.count where (samples[index - 1] < 0) != (samples[index] < 0) { crossings += 1 }
        return Double(crossings) * Double(sampleRate) / Double(samples.count)
    }

    private static func envelope(_ samples: [Float]) -> [Float] {
        stride(from: 0, to: samples.count - block + 1, by: block).map { start in
            var sum: Float = 0
            for index in start..<(start + block) { sum += samples[index] * samples[index] }
            return (sum / Float(block)).squareRoot()
        }
    }

    /// Pearson correlation of a[i] and b[i + offset] over the overlap, `trim` left out at each
    /// end, at most `limit` samples.
    private static func pearson(_ a: [Float], _ b: [Float], offset: Int, trim: Int = 0, limit: Int = .max) -> Double {
        let start = max(0, -offset) + trim
        let end = min(min(a.count, b.count - offset) - trim, start + min(limit, a.count))
        guard end - start > 10 else { return -1 }
        let (sumA, sumB, sumAA, sumBB, sumAB) = a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                var (sumA, sumB, sumAA, sumBB, sumAB) = (0.0, 0.0, 0.0, 0.0, 0.0)
                for index in start..<end {
                    let x = Double(a[index]), y = Double(b[index + offset])
                    sumA += x; sumB += y; sumAA += x * x; sumBB += y * y; sumAB += x * y
                }
                return (sumA, sumB, sumAA, sumBB, sumAB)
            }
        }
        let n = Double(end - start)
        let covariance = sumAB - sumA * sumB / n
        let variance = (sumAA - sumA * sumA / n) * (sumBB - sumB * sumB / n)
        return variance > 0 ? covariance / variance.squareRoot() : 0
    }
}
