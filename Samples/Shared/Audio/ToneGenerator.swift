import Glibc

/// A sine tone, generated block by block with a continuous phase.
public struct ToneGenerator: Sendable {
    public let frequency: Double
    public let sampleRate: Double
    public let amplitude: Float
    private var phase: Double = 0

    public init(frequency: Double, sampleRate: Int, amplitude: Float = 0.25) {
        self.frequency = frequency
        self.sampleRate = Double(sampleRate)
        self.amplitude = amplitude
    }

    public mutating func next(_ count: Int) -> [Float] {
        let increment = 2 * Double.pi * frequency / sampleRate
        var out = [Float](repeating: 0, count: count)
        for index in 0..<count {
            out[index] = amplitude * Float(sin(phase))
            phase += increment
            if phase > 2 * Double.pi { phase -= 2 * Double.pi }
        }
        return out
    }
}
