import Foundation
import XCTest

/// Where the package's files and the built `parley-signal` are, for tests that read the
/// example config or run the executable.
///
/// The binary is looked for, in order: in `$PARLEY_BUILD_DIR` (a build directory such as
/// `.build-ops/debug`, or a scratch path such as `.build-ops`, whose `debug/` is then
/// used); beside the running test bundle (SwiftPM puts executables and
/// `ParleyPackageTests.xctest` in the same directory, so this finds the binary of the
/// build being tested, whatever `--scratch-path` was); then in `<package>/.build/debug`.
/// `swift build --build-tests` builds it; a test that needs it fails with this list if
/// it is in none of them.
enum PackageLayout {
    /// The package root: the first directory above this source file holding Package.swift.
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
            url.deleteLastPathComponent()
        }
        return FileManager.default.currentDirectoryPath
    }()

    static func file(_ relativePath: String) -> String { root + "/" + relativePath }

    /// The `parley-signal` executable to test.
    static func parleySignal() throws -> String {
        var candidates: [String] = []
        if let build = ProcessInfo.processInfo.environment["PARLEY_BUILD_DIR"], !build.isEmpty {
            let absolute = build.hasPrefix("/") ? build : root + "/" + build
            candidates += [absolute + "/parley-signal", absolute + "/debug/parley-signal"]
        }
        if let executable = Bundle.main.executablePath ?? CommandLine.arguments.first {
            var directory = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
            // On Darwin the test binary sits inside ParleyPackageTests.xctest/Contents/MacOS.
            while directory.pathExtension == "xctest" || directory.path.contains(".xctest/") {
                directory.deleteLastPathComponent()
            }
            candidates.append(directory.appendingPathComponent("parley-signal").path)
        }
        candidates.append(root + "/.build/debug/parley-signal")
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            XCTFail("parley-signal is not built; run `swift build --build-tests` first (looked in: \(candidates.joined(separator: ", ")))")
            throw CocoaError(.fileNoSuchFile)
        }
        return found
    }
}
