/// Converts mono audio to another sample rate by linear interpolation between the two
/// nearest input samples. Meant for upsampling (8 to 44.1 kHz input to 48 kHz): there is no
/// low-pass filter, so downsampling would alias.
public enum LinearResampler {
    public static func resample(_ samples: [Float], from inputRate: Int, to outputRate: Int) -> [Float] {
        guard inputRate != outputRate, !samples.isEmpty, inputRate > 0, outputRate > 0 else { return samples }
        let count = Int((Int64(samples.count) * Int64(outputRate) + Int64(inputRate) - 1) / Int64(inputRate))
        var out = [Float](repeating: 0, count: count)
        let step = Double(inputRate) / Double(outputRate)
        for index in 0..<count {
            let position = Double(index) * step
            let left = Int(position)
            let fraction = Float(position - Double(left))
            let a = samples[min(left, samples.count - 1)]
            let b = samples[min(left + 1, samples.count - 1)]
            out[index] = a + (b - a) * fraction
        }
        return out
    }
}
