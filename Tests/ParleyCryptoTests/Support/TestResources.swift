import Foundation
import ParleyCrypto
import XCTest

/// Files under Tests/ParleyCryptoTests/Resources, copied into the test bundle.
/// Sources of each file are cited in Resources/README.md.
enum TestResources {
    static func url(_ relativePath: String) throws -> URL {
        let url = Bundle.module.bundleURL.appendingPathComponent("Resources").appendingPathComponent(relativePath)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw NSError(domain: "TestResources", code: 1, userInfo: [NSLocalizedDescriptionKey: "missing test resource \(relativePath)"])
        }
        return url
    }

    static func data(_ relativePath: String) throws -> Data { try Data(contentsOf: url(relativePath)) }

    static func json(_ relativePath: String) throws -> Any { try JSONSerialization.jsonObject(with: data(relativePath)) }

    /// Hex string to bytes, failing the test on bad hex.
    static func hex(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> [UInt8] {
        try XCTUnwrap(Hex.decode(text), "bad hex in test data: \(text.prefix(40))", file: file, line: line)
    }
}

