import ParleyCrypto
import ParleyProtocol
import XCTest

/// Random and mutated inputs: the decoder never traps, refuses only with the three
/// codec codes, and whatever it accepts re-encodes to exactly the input (the encoding
/// is canonical). Deterministic: a fixed-seed generator, a bounded number of inputs.
final class SignalCodecRobustnessTests: XCTestCase {
    /// SplitMix64: small, deterministic, good enough to pick test inputs.
    private struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
    }

    private var accepted = 0

    private func check(_ input: [UInt8], file: StaticString = #filePath, line: UInt = #line) {
        do {
            let message = try SignalCodec.decode(input)
            accepted += 1
            XCTAssertEqual(try SignalCodec.encode(message), input, "accepted non-canonical bytes \(Hex.encode(input.prefix(64)))",
                           file: file, line: line)
        } catch {
            XCTAssertTrue([.malformed, .unsupportedVersion, .messageTooLarge].contains(error.code), "\(error)", file: file, line: line)
        }
    }

    func testRandomBytesNeverTrapAndAcceptOnlyCanonicalEncodings() {
        var random = SplitMix64(state: 0x5041_524c_4559_0001)
        for _ in 0..<20_000 {
            let count = Int.random(in: 0...80, using: &random)
            var input = (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
            // Most inputs get a valid header, so the bodies are exercised too.
            if count >= 2, Bool.random(using: &random) || Bool.random(using: &random) {
                input[0] = SignalLimits.version
                input[1] = SignalType.allCases.randomElement(using: &random)!.rawValue  // allCases is not empty
            }
            check(input)
        }
    }

    func testMutatedValidMessagesNeverTrapAndAcceptOnlyCanonicalEncodings() {
        var random = SplitMix64(state: 0x5041_524c_4559_0002)
        let valid = SignalFixtures.oneOfEachType.map { encoded($0) }
        accepted = 0
        for _ in 0..<20_000 {
            var input = valid.randomElement(using: &random)!  // the fixture is not empty
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let position = Int.random(in: 0...input.count, using: &random)
                switch Int.random(in: 0..<4, using: &random) {
                case 0 where position < input.count: input[position] ^= UInt8.random(in: 1...255, using: &random)
                case 1: input.removeLast(input.count - position)
                case 2: input.insert(UInt8.random(in: 0...255, using: &random), at: position)
                default: if position < input.count { input.remove(at: position) }
                }
            }
            check(input)
        }
        XCTAssertGreaterThan(accepted, 100, "the mutations should keep some messages valid (flips inside payloads, IDs)")
    }
}
