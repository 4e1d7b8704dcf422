import Foundation
import ParleyCrypto
import SignallingCore
import SignallingServer
import Synchronization
import XCTest

/// The state directory: first-start certificate, key permissions, allowlist and
/// enrollment-code files, pid file, bounded reads and atomic writes.
final class StateDirectoryTests: XCTestCase {
    private var scratch: ScratchDirectory!

    override func setUpWithError() throws { scratch = try ScratchDirectory() }
    override func tearDown() { scratch.remove() }

    private func directory(_ name: String = "state", unixNow: @escaping @Sendable () -> Int64 = { Int64(time(nil)) }) -> StateDirectory {
        StateDirectory(path: scratch.file(name), unixNow: unixNow)
    }

    // MARK: Certificate

    func testFirstStartCreatesTheDirectory0700AndTheKey0600EvenUnderAPermissiveUmask() throws {
        let previous = umask(0)
        defer { umask(previous) }
        let store = directory("nested/state")
        let (certificate, created) = try store.loadOrCreateCertificate()
        XCTAssertTrue(created)
        XCTAssertEqual(try scratch.mode("nested/state"), 0o700)
        XCTAssertEqual(try scratch.mode("nested/state/private-key.pem"), 0o600)
        XCTAssertEqual(try scratch.mode("nested/state/certificate.pem"), 0o600)
        XCTAssertEqual(certificate.pin.count, 64)
        XCTAssertEqual(try StateDirectory.certificatePin(path: store.certificatePath), certificate.pin)
        XCTAssertTrue(try scratch.read("nested/state/private-key.pem").hasPrefix("-----BEGIN PRIVATE KEY-----"))
    }

    func testLaterStartsLoadTheSameCertificateAndKey() throws {
        let store = directory()
        let first = try store.loadOrCreateCertificate()
        let second = try store.loadOrCreateCertificate()
        XCTAssertFalse(second.created)
        XCTAssertEqual(second.certificate.sha256, first.certificate.sha256)
        XCTAssertEqual(second.certificate.certificatePEM, first.certificate.certificatePEM)
        XCTAssertTrue(second.certificate.privateKeyPEM.constantTimeEquals(first.certificate.privateKeyPEM))
    }

    func testAKeyReadableByGroupOrOthersIsRefusedWithChmodAdvice() throws {
        let store = directory()
        _ = try store.loadOrCreateCertificate()
        for mode in [0o640, 0o604, 0o660, 0o602] {
            chmod(store.privateKeyPath, mode_t(mode))
            XCTAssertThrowsError(try store.loadOrCreateCertificate(), "mode \(String(mode, radix: 8))") { error in
                let error = error as? StateDirectoryError
                XCTAssertEqual(error?.code, .insecurePermissions)
                XCTAssertEqual(error?.path, store.privateKeyPath)
                XCTAssertTrue(error?.description.contains("chmod 600 \(store.privateKeyPath)") == true, "\(String(describing: error))")
            }
        }
        chmod(store.privateKeyPath, 0o400)
        XCTAssertNoThrow(try store.loadOrCreateCertificate(), "owner-only modes are fine")
    }

    func testAKeyOfAnotherCertificateIsRefused() throws {
        let first = directory("first"), second = directory("second")
        _ = try first.loadOrCreateCertificate()
        _ = try second.loadOrCreateCertificate()
        XCTAssertThrowsError(try first.loadCertificate(certificatePath: first.certificatePath, privateKeyPath: second.privateKeyPath)) { error in
            XCTAssertEqual((error as? StateDirectoryError)?.code, .keyDoesNotMatchCertificate)
        }
    }

    func testExplicitCertificateFilesLoadAndGarbageIsRefused() throws {
        let generated = directory("generated")
        let pin = try generated.loadOrCreateCertificate().certificate.pin
        let store = directory()
        let loaded = try store.loadCertificate(certificatePath: generated.certificatePath, privateKeyPath: generated.privateKeyPath)
        XCTAssertEqual(loaded.pin, pin)
        try scratch.write("garbage.pem", "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
        XCTAssertThrowsError(try store.loadCertificate(certificatePath: scratch.file("garbage.pem"), privateKeyPath: generated.privateKeyPath)) { error in
            XCTAssertEqual((error as? StateDirectoryError)?.code, .malformed)
        }
        XCTAssertThrowsError(try store.loadCertificate(certificatePath: scratch.file("missing.pem"), privateKeyPath: generated.privateKeyPath)) { error in
            XCTAssertEqual((error as? StateDirectoryError)?.code, .unreadable)
            XCTAssertEqual((error as? StateDirectoryError)?.path, self.scratch.file("missing.pem"))
        }
    }

    func testHalfACertificatePairIsRefusedRatherThanReplaced() throws {
        let store = directory()
        _ = try store.loadOrCreateCertificate()
        try FileManager.default.removeItem(atPath: store.privateKeyPath)
        let certificate = try scratch.read("state/certificate.pem")
        XCTAssertThrowsError(try store.loadOrCreateCertificate()) { error in
            XCTAssertEqual((error as? StateDirectoryError)?.code, .incompleteCertificatePair)
        }
        XCTAssertEqual(try scratch.read("state/certificate.pem"), certificate, "the certificate devices pin is never overwritten")
    }

    // MARK: Allowlist

    func testAMissingAllowlistIsEmpty() throws {
        XCTAssertEqual(try directory().loadAllowlist(), [:])
        XCTAssertTrue(try directory().listDevices().isEmpty)
    }

    func testDevicesAddListRemoveThroughTheAllowlistFormat() throws {
        let store = directory()
        let a = DeviceIdentity().deviceID, b = DeviceIdentity().deviceID
        XCTAssertTrue(try store.addDevice(a, name: "  Kitchen speaker "))
        XCTAssertTrue(try store.addDevice(b, name: ""))
        XCTAssertFalse(try store.addDevice(b, name: "Door"), "adding a listed device renames it")
        XCTAssertEqual(try Allowlist.parse(try scratch.read("state/allowlist")), [a: "Kitchen speaker", b: "Door"])
        XCTAssertEqual(try store.listDevices().map(\.0), [a, b].sorted())
        XCTAssertEqual(try scratch.mode("state/allowlist"), 0o600)
        XCTAssertTrue(try store.removeDevice(a))
        XCTAssertFalse(try store.removeDevice(a))
        XCTAssertEqual(try store.loadAllowlist(), [b: "Door"])
    }

    func testDisplayNamesCannotInjectLinesOrExceedTheLimit() throws {
        let store = directory()
        let a = DeviceIdentity().deviceID, intruder = DeviceIdentity().deviceID
        for name in ["x\n\(intruder.printable) evil", "x\r\(intruder.printable)", "tab\u{0}nul", "bidi \u{202E}gnp.exe", "x\u{2028}y"] {
            XCTAssertThrowsError(try store.addDevice(a, name: name), name.debugDescription) { error in
                XCTAssertEqual((error as? StateDirectoryError)?.code, .invalidDisplayName)
            }
        }
        XCTAssertThrowsError(try store.addDevice(a, name: String(repeating: "n", count: Allowlist.maxNameBytes + 1)))
        XCTAssertTrue(try store.addDevice(a, name: "Family 👨‍👩‍👧 tablet"), "emoji sequences with zero-width joiners are names")
        XCTAssertEqual(try store.loadAllowlist().keys.sorted(), [a])
    }

    func testAMalformedAllowlistNamesItsLine() throws {
        let store = directory()
        try store.create()
        try scratch.write("state/allowlist", "# devices\n\(DeviceIdentity().deviceID.printable)\nnot-a-device\n")
        XCTAssertThrowsError(try store.loadAllowlist()) { error in
            let error = error as? StateDirectoryError
            XCTAssertEqual(error?.code, .malformed)
            XCTAssertTrue(error?.description.hasPrefix("\(store.allowlistPath): line 3:") == true, "\(String(describing: error))")
        }
    }

    // MARK: Enrollment codes

    func testEnrollmentCodesKeepDigestAndExpiryAndExpiredLinesArePrunedOnWrite() throws {
        let now = Atomic<Int64>(1_000_000)
        let store = directory(unixNow: { now.load(ordering: .relaxed) })
        let first = EnrollmentCodes.digest("aaaa-bbbb-cccc-dddd"), second = EnrollmentCodes.digest("eeee-ffff-gggg-hhhh")
        try store.addEnrollmentCode(digest: first, expiresAt: 1_000_600)
        try store.addEnrollmentCode(digest: second, expiresAt: 1_003_600)
        XCTAssertEqual(try store.loadEnrollmentCodes(), [EnrollmentCodeRecord(digest: first, expiresAtUnixSeconds: 1_000_600),
                                                         EnrollmentCodeRecord(digest: second, expiresAtUnixSeconds: 1_003_600)])
        let hex = first.map { String(format: "%02x", $0) }.joined()
        XCTAssertTrue(try scratch.read("state/enrollment-codes").contains("\(hex) 1000600\n"))
        XCTAssertEqual(try scratch.mode("state/enrollment-codes"), 0o600)

        now.store(1_000_600, ordering: .relaxed)
        XCTAssertEqual(try store.loadEnrollmentCodes().map(\.digest), [second], "an expired code is not loaded")
        XCTAssertTrue(try scratch.read("state/enrollment-codes").contains(hex), "reading does not rewrite")
        try store.addEnrollmentCode(digest: EnrollmentCodes.digest("iiii-jjjj-kkkk-llll"), expiresAt: 1_001_000)
        XCTAssertFalse(try scratch.read("state/enrollment-codes").contains(hex), "writing prunes expired lines")
        XCTAssertThrowsError(try store.addEnrollmentCode(digest: [1, 2, 3], expiresAt: 2_000_000))
    }

    func testRecordedEnrollmentListsTheDeviceAndForgetsTheCode() throws {
        let store = directory()
        let code = EnrollmentCodes.digest("k7pq-2m9x-a4rt-zz3b"), other = EnrollmentCodes.digest("aaaa-aaaa-aaaa-aaaa")
        let expiry = Int64(time(nil)) + 600
        try store.addEnrollmentCode(digest: code, expiresAt: expiry)
        try store.addEnrollmentCode(digest: other, expiresAt: expiry)
        let device = DeviceIdentity().deviceID
        try store.recordEnrollment(device: device, codeDigest: code)
        XCTAssertEqual(try store.loadAllowlist(), [device: ""])
        XCTAssertEqual(try store.loadEnrollmentCodes().map(\.digest), [other])
    }

    func testAMalformedEnrollmentCodesLineNamesItsLine() throws {
        let store = directory()
        try store.create()
        try scratch.write("state/enrollment-codes", "# codes\n\(String(repeating: "ab", count: 32)) 12\nzz 12\n")
        XCTAssertThrowsError(try store.loadEnrollmentCodes()) { error in
            XCTAssertEqual((error as? StateDirectoryError)?.code, .malformed)
            XCTAssertTrue("\(error)".contains("line 3"), "\(error)")
        }
    }

    // MARK: Files

    func testAFileOverTheSizeLimitIsRefusedWithoutReadingIt() throws {
        let store = directory()
        try store.create()
        let path = store.allowlistPath
        let fd = creat(path, 0o600)
        XCTAssertGreaterThanOrEqual(fd, 0)
        close(fd)
        XCTAssertEqual(truncate(path, off_t(OperatingLimits.maxStateFileBytes + 1)), 0)  // sparse: no disk used
        XCTAssertThrowsError(try store.loadAllowlist()) { error in
            XCTAssertEqual((error as? StateDirectoryError)?.code, .tooLarge)
            XCTAssertEqual((error as? StateDirectoryError)?.path, path)
        }
    }

    func testWritesAreAtomicAndLeaveNoTemporaryFiles() throws {
        let store = directory()
        let devices = (0..<20).map { _ in DeviceIdentity().deviceID }
        DispatchQueue.concurrentPerform(iterations: devices.count) { index in
            do { _ = try store.addDevice(devices[index], name: "device \(index)") } catch { XCTFail("\(error)") }
        }
        XCTAssertEqual(try store.loadAllowlist().count, devices.count, "the lock keeps concurrent read-modify-writes from losing entries")
        let names = try FileManager.default.contentsOfDirectory(atPath: store.path)
        XCTAssertEqual(names.filter { $0.contains(".tmp-") }, [])
        XCTAssertEqual(Set(names), ["allowlist", "state.lock"])
    }

    func testPIDFileRoundTripAndServerProcessIsJudgedByName() throws {
        let store = directory()
        XCTAssertNil(store.readPID())
        XCTAssertEqual(store.serverProcess(), .notRunning)
        try store.writePID()
        XCTAssertEqual(store.readPID(), getpid())
        XCTAssertEqual(store.serverProcess(), .notRunning, "the calling process itself is not another server")

        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["30"]
        try sleeper.run()
        defer { sleeper.terminate() }
        try scratch.write("state/parley-signal.pid", "\(sleeper.processIdentifier)\n")
        XCTAssertEqual(store.serverProcess(), .stale(pid: sleeper.processIdentifier, name: "sleep"))
        store.removePID()
        XCTAssertNotNil(store.readPID(), "a pid file naming another process is left alone")
        try scratch.write("state/parley-signal.pid", "garbage")
        XCTAssertNil(store.readPID())

        try store.writePID()
        store.removePID()
        XCTAssertFalse(FileManager.default.fileExists(atPath: store.pidPath))
    }
}
