import ParleyCrypto
import ParleyProtocol
import ParleyTesting
import XCTest

/// Random and mutated inputs: the decoder never traps, refuses only with the three
/// codec codes, and whatever it accepts re-encodes to exactly the input (the encoding
/// is canonical). Deterministic: ParleyTesting's generator with fixed seeds, a bounded number of inputs.
final class SignalCodecRobustnessTests: XCTestCase {
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
        var random = Xoshiro256StarStar(seed: 0x5041_524c_4559_0001)
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
        var random = Xoshiro256StarStar(seed: 0x5041_524c_4559_0002)
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
