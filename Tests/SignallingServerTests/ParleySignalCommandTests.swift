import Foundation
import ParleyCrypto
import SignallingCore
import SignallingServer
import XCTest

/// The `parley-signal` executable end to end, run as a child process (found as described
/// in `PackageLayout.parleySignal()`; set PARLEY_BUILD_DIR to pick a build directory).
final class ParleySignalCommandTests: XCTestCase {
    private var scratch: ScratchDirectory!
    private var stateDirectory: String { scratch.file("state") }

    override func setUpWithError() throws { scratch = try ScratchDirectory() }
    override func tearDown() { scratch.remove() }

    private struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
        var stderrLines: [Substring] { stderr.split(separator: "\n") }
    }

    /// A started `parley-signal`; output goes to files in the scratch directory.
    private func start(_ arguments: [String], executable: String? = nil) throws -> (Process, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try executable ?? PackageLayout.parleySignal())
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PARLEY_SIGNAL_STATE_DIR"] = scratch.file("default-state")  // never the user's real state directory
        process.environment = environment
        let name = UUID().uuidString
        let stdout = scratch.file("\(name).out"), stderr = scratch.file("\(name).err")
        _ = FileManager.default.createFile(atPath: stdout, contents: nil)
        _ = FileManager.default.createFile(atPath: stderr, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdout))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderr))
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return (process, stdout, stderr)
    }

    private func run(_ arguments: [String]) throws -> Result {
        let (process, stdout, stderr) = try start(arguments)
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: try String(contentsOfFile: stdout, encoding: .utf8),
                      stderr: try String(contentsOfFile: stderr, encoding: .utf8))
    }

    /// Polls `condition` for up to ten seconds.
    private func eventually(_ what: String, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(10)
        while try !condition() {
            guard Date() < deadline else { return XCTFail("timed out waiting for \(what)") }
            usleep(20_000)
        }
    }

    private func assertOneLineError(_ result: Result, status: Int32, contains fragment: String,
                                    file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(result.status, status, result.stderr, file: file, line: line)
        XCTAssertEqual(result.stderrLines.count, 1, result.stderr, file: file, line: line)
        XCTAssertTrue(result.stderr.hasPrefix("parley-signal: error: "), result.stderr, file: file, line: line)
        XCTAssertTrue(result.stderr.contains(fragment), result.stderr, file: file, line: line)
        XCTAssertEqual(result.stdout, "", file: file, line: line)
    }

    // MARK: device

    func testDeviceAddListRemoveRoundTrip() throws {
        let kitchen = DeviceIdentity().deviceID, door = DeviceIdentity().deviceID
        let added = try run(["device", "add", kitchen.printable, "Kitchen", "speaker", "--state-dir", stateDirectory])
        XCTAssertEqual(added.status, 0, added.stderr)
        XCTAssertEqual(added.stdout, "added \(kitchen.printable)\n")
        XCTAssertTrue(added.stderr.contains("no running server; takes effect at next start"), added.stderr)
        XCTAssertEqual(try run(["device", "add", door.printable, "--state-dir", stateDirectory]).status, 0)

        let listed = try run(["device", "list", "--state-dir", stateDirectory])
        XCTAssertEqual(listed.status, 0, listed.stderr)
        let expected = [(kitchen, "Kitchen speaker"), (door, "")].sorted { $0.0 < $1.0 }
            .map { $0.1.isEmpty ? $0.0.printable : "\($0.0.printable) \($0.1)" }
        XCTAssertEqual(listed.stdout, expected.map { $0 + "\n" }.joined())
        XCTAssertEqual(try StateDirectory(path: stateDirectory).loadAllowlist(), [kitchen: "Kitchen speaker", door: ""])

        let removed = try run(["device", "remove", kitchen.printable, "--state-dir", stateDirectory])
        XCTAssertEqual(removed.status, 0, removed.stderr)
        XCTAssertEqual(removed.stdout, "removed \(kitchen.printable)\n")
        XCTAssertEqual(try run(["device", "list", "--state-dir", stateDirectory]).stdout, "\(door.printable)\n")
        assertOneLineError(try run(["device", "remove", kitchen.printable, "--state-dir", stateDirectory]), status: 1,
                           contains: "not in the allowlist")
    }

    func testAnInvalidDeviceIDIsAUsageErrorOnOneLine() throws {
        var typo = Array(DeviceIdentity().deviceID.printable)
        typo[5] = typo[5] == "a" ? "b" : "a"
        assertOneLineError(try run(["device", "add", String(typo), "--state-dir", stateDirectory]), status: 64, contains: "checksum")
        assertOneLineError(try run(["device", "remove", "not-an-id", "--state-dir", stateDirectory]), status: 64, contains: "'not-an-id'")
        assertOneLineError(try run(["device", "add", "--state-dir", stateDirectory]), status: 64, contains: "device-id")
        XCTAssertFalse(FileManager.default.fileExists(atPath: stateDirectory + "/allowlist"))
    }

    func testADisplayNameWithAControlCharacterIsRefused() throws {
        let result = try run(["device", "add", DeviceIdentity().deviceID.printable, "evil\n\(DeviceIdentity().deviceID.printable)",
                              "--state-dir", stateDirectory])
        assertOneLineError(result, status: 64, contains: "control character")
    }

    // MARK: enroll

    func testEnrollPrintsACodeWhoseDigestIsStoredWithTheRequestedExpiry() throws {
        let before = Int64(Date().timeIntervalSince1970)
        let result = try run(["enroll", "--ttl", "2h", "--state-dir", stateDirectory])
        let after = Int64(Date().timeIntervalSince1970)
        XCTAssertEqual(result.status, 0, result.stderr)
        let code = result.stdout.trimmingCharacters(in: .newlines)
        XCTAssertNotNil(code.wholeMatch(of: /[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}/), code)
        XCTAssertTrue(result.stderr.contains("expires "), result.stderr)
        XCTAssertTrue(result.stderr.contains("(in 2h)"), result.stderr)

        let records = try StateDirectory(path: stateDirectory).loadEnrollmentCodes()
        XCTAssertEqual(records.map(\.digest), [EnrollmentCodes.digest(code)])
        XCTAssertTrue((before + 7200...after + 7200).contains(records[0].expiresAtUnixSeconds), "\(records[0].expiresAtUnixSeconds)")
        let file = try scratch.read("state/enrollment-codes")
        XCTAssertFalse(file.contains(EnrollmentCodes.normalized(code)), "only the digest is stored")
        XCTAssertFalse(file.contains(code))
    }

    func testEnrollRefusesLifetimesOverSevenDaysOrWithoutAUnit() throws {
        assertOneLineError(try run(["enroll", "--ttl", "8d", "--state-dir", stateDirectory]), status: 64, contains: "7d")
        assertOneLineError(try run(["enroll", "--ttl", "600", "--state-dir", stateDirectory]), status: 64, contains: "--ttl")
        assertOneLineError(try run(["enroll", "--ttl", "0s", "--state-dir", stateDirectory]), status: 64, contains: "--ttl")
        XCTAssertEqual(try run(["enroll", "--ttl", "7d", "--state-dir", stateDirectory]).status, 0)
        let defaultTTL = try run(["enroll", "--state-dir", stateDirectory])
        XCTAssertTrue(defaultTTL.stderr.contains("(in 10m)"), defaultTTL.stderr)
    }

    // MARK: fingerprint

    func testFingerprintEqualsTheCertificatePin() throws {
        assertOneLineError(try run(["fingerprint", "--state-dir", stateDirectory]), status: 1, contains: "parley-signal serve")
        let store = StateDirectory(path: stateDirectory)
        let pin = try store.loadOrCreateCertificate().certificate.pin
        let result = try run(["fingerprint", "--state-dir", stateDirectory])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, pin + "\n")
        XCTAssertEqual(try run(["fingerprint", "--certificate", store.certificatePath]).stdout, pin + "\n")
    }

    // MARK: config

    func testABadConfigLineIsAConfigurationErrorNamingTheLine() throws {
        try scratch.write("parley-signal.conf", "# parley-signal\nidle_timeout = 75\n")
        let path = scratch.file("parley-signal.conf")
        assertOneLineError(try run(["device", "list", "--config", path]), status: 78, contains: "\(path):2: idle_timeout = 75: expected a duration")
        try scratch.write("parley-signal.conf", "ping_interval = 30s\nidle_timeout = 20s\n")
        assertOneLineError(try run(["enroll", "--config", path]), status: 78, contains: "ping_interval")
        assertOneLineError(try run(["serve", "--config", scratch.file("missing.conf")]), status: 78, contains: "no such file")
        assertOneLineError(try run(["serve", "--port", "70000", "--state-dir", stateDirectory]), status: 64, contains: "--port")
        assertOneLineError(try run(["serve", "--frobnicate"]), status: 64, contains: "--frobnicate")
    }

    func testTheConfigFileNamesTheStateDirectoryAndFlagsOverrideIt() throws {
        try scratch.write("parley-signal.conf", "state_directory = \"\(scratch.file("from config"))\"\nenrollment = allowlist\n")
        let device = DeviceIdentity().deviceID
        let added = try run(["device", "add", device.printable, "--config", scratch.file("parley-signal.conf")])
        XCTAssertEqual(added.status, 0, added.stderr)
        XCTAssertFalse(added.stderr.contains("enrollment is open"), "the config's policy is allowlist")
        XCTAssertEqual(try StateDirectory(path: scratch.file("from config")).loadAllowlist().keys.sorted(), [device])
        XCTAssertEqual(try run(["device", "add", device.printable, "--config", scratch.file("parley-signal.conf"),
                                "--state-dir", stateDirectory]).status, 0)
        XCTAssertEqual(try StateDirectory(path: stateDirectory).loadAllowlist().keys.sorted(), [device])
    }

    // MARK: Signalling a running server

    func testDeviceCommandsSignalOnlyAProcessNamedParleySignal() throws {
        let store = StateDirectory(path: stateDirectory)
        try store.create()

        // A stale pid file naming some other live process: it must not be signalled.
        let stranger = Process()
        stranger.executableURL = URL(fileURLWithPath: "/bin/sleep")
        stranger.arguments = ["30"]
        try stranger.run()
        defer { if stranger.isRunning { stranger.terminate() } }
        try scratch.write("state/parley-signal.pid", "\(stranger.processIdentifier)\n")
        let stale = try run(["device", "add", DeviceIdentity().deviceID.printable, "--state-dir", stateDirectory])
        XCTAssertEqual(stale.status, 0, stale.stderr)
        XCTAssertTrue(stale.stderr.contains("stale pid file"), stale.stderr)
        usleep(100_000)
        XCTAssertTrue(stranger.isRunning, "the stranger got no SIGHUP")

        // A process whose name is parley-signal (sleep behind a symlink of that name) is.
        try FileManager.default.createSymbolicLink(atPath: scratch.file("parley-signal"), withDestinationPath: "/bin/sleep")
        let (server, _, _) = try start(["30"], executable: scratch.file("parley-signal"))
        defer { if server.isRunning { server.terminate() } }
        try scratch.write("state/parley-signal.pid", "\(server.processIdentifier)\n")
        try eventually("the process to be named parley-signal") { store.serverProcess() == .running(pid: server.processIdentifier) }
        let reloaded = try run(["enroll", "--state-dir", stateDirectory])
        XCTAssertTrue(reloaded.stderr.contains("reloaded running server pid \(server.processIdentifier)"), reloaded.stderr)
        server.waitUntilExit()
        XCTAssertEqual(server.terminationReason, .uncaughtSignal)
        XCTAssertEqual(server.terminationStatus, SIGHUP)
    }

    // MARK: serve

    func testServeWritesThePIDPrintsThePinReloadsOnSIGHUPAndExitsZeroOnSIGTERM() throws {
        let (server, _, stderr) = try start(["serve", "--state-dir", stateDirectory, "--port", "0", "--metrics", "off"])
        defer { if server.isRunning { server.terminate() } }
        let store = StateDirectory(path: stateDirectory)
        try eventually("the pid file") { store.readPID() == server.processIdentifier }

        let pin = try StateDirectory.certificatePin(path: store.certificatePath)
        let output = try String(contentsOfFile: stderr, encoding: .utf8)
        XCTAssertTrue(output.contains("certificate pin (SHA-256): \(pin) (new certificate created in \(stateDirectory))"), output)
        XCTAssertTrue(output.contains("level=notice msg=\"certificate pin (SHA-256)\" logger=parley-signal created=true"), output)
        XCTAssertEqual(try scratch.mode("state/private-key.pem"), 0o600)

        assertOneLineError(try run(["serve", "--state-dir", stateDirectory, "--port", "0", "--metrics", "off"]), status: 1,
                           contains: "another parley-signal (pid \(server.processIdentifier))")

        let added = try run(["device", "add", DeviceIdentity().deviceID.printable, "--state-dir", stateDirectory])
        XCTAssertTrue(added.stderr.contains("reloaded running server pid \(server.processIdentifier)"), added.stderr)
        try eventually("the reload to be logged") {
            try String(contentsOfFile: stderr, encoding: .utf8).contains("signal=SIGHUP")
        }
        XCTAssertTrue(server.isRunning, "SIGHUP reloads, it does not stop the server")

        kill(server.processIdentifier, SIGTERM)
        server.waitUntilExit()
        XCTAssertEqual(server.terminationReason, .exit)
        XCTAssertEqual(server.terminationStatus, 0)
        XCTAssertNil(store.readPID(), "the pid file is removed on exit")
        let log = try String(contentsOfFile: stderr, encoding: .utf8)
        XCTAssertTrue(log.contains("signal=SIGTERM"), log)
        XCTAssertTrue(log.contains("msg=\"stopped\""), log)

        let again = try run(["fingerprint", "--state-dir", stateDirectory])
        XCTAssertEqual(again.stdout, pin + "\n", "the next start keeps the certificate")
        let (restarted, _, restartedLog) = try start(["serve", "--state-dir", stateDirectory, "--port", "0", "--metrics", "off"])
        defer { if restarted.isRunning { restarted.terminate() } }
        try eventually("the second start") { store.readPID() == restarted.processIdentifier }
        XCTAssertTrue(try String(contentsOfFile: restartedLog, encoding: .utf8)
            .contains("certificate pin (SHA-256): \(pin) (loaded from \(store.certificatePath))"))
        kill(restarted.processIdentifier, SIGINT)
        restarted.waitUntilExit()
        XCTAssertEqual(restarted.terminationStatus, 0, "SIGINT drains like SIGTERM")
    }

    func testServeRefusesAKeyReadableByOthers() throws {
        let store = StateDirectory(path: stateDirectory)
        _ = try store.loadOrCreateCertificate()
        chmod(store.privateKeyPath, 0o644)
        let result = try run(["serve", "--state-dir", stateDirectory, "--port", "0", "--metrics", "off"])
        XCTAssertEqual(result.status, 78, result.stderr)
        XCTAssertTrue(result.stderr.contains("parley-signal: error: \(store.privateKeyPath): "), result.stderr)
        XCTAssertTrue(result.stderr.contains("chmod 600 \(store.privateKeyPath)"), result.stderr)
        XCTAssertNil(store.readPID())
    }
}
