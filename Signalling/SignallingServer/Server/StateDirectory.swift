#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CParleyShims
import ParleyCrypto
import SignallingCore

/// A state directory operation that failed, with the file concerned and what to do.
/// `code` is stable (scripts and tests may match on it); `description` is one line for people.
public struct StateDirectoryError: Error, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// A file or directory could not be opened or read.
        case unreadable
        /// A file or directory could not be created, written, flushed or renamed.
        case unwritable
        /// A file is over its size limit (`OperatingLimits`).
        case tooLarge
        /// A file's content is not in its format (allowlist, enrollment codes, PEM).
        case malformed
        /// The private key file can be read or written by group or others.
        case insecurePermissions
        /// The private key does not belong to the certificate.
        case keyDoesNotMatchCertificate
        /// One of certificate.pem and private-key.pem exists without the other.
        case incompleteCertificatePair
        /// OpenSSL could not generate the first-start certificate.
        case certificateGenerationFailed
        /// A device display name that the allowlist cannot hold.
        case invalidDisplayName
        /// An enrollment code digest that is not 32 bytes.
        case invalidArgument
        /// The allowlist or the enrollment codes hold their maximum (`Allowlist.maxEntries`,
        /// `OperatingLimits.maxEnrollmentCodes`).
        case full
    }

    public let code: Code
    /// The file or directory concerned.
    public let path: String
    /// What went wrong and, where there is one, the fix.
    public let reason: String

    public init(_ code: Code, path: String, _ reason: String) {
        self.code = code
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }

    init(_ failure: FileFailure) {
        let code: Code
        switch failure.operation {
        case .open, .read, .stat: code = failure.tooLarge ? .tooLarge : .unreadable
        case .write, .sync, .rename, .remove, .lock, .createDirectory: code = .unwritable
        }
        self.init(code, path: failure.path, failure.description)
    }
}

/// `parley-signal`'s state directory (created 0700 if missing):
///
/// | file | content |
/// |---|---|
/// | `certificate.pem`, `private-key.pem` | the self-signed TLS pair made on first start (key 0600) |
/// | `allowlist` | admitted devices, in the `Allowlist` format; missing means empty |
/// | `enrollment-codes` | one-time codes as `<hex BLAKE2b-256 digest> <expiry, unix seconds>` lines |
/// | `parley-signal.pid` | the pid of the running server |
/// | `state.lock` | an empty file whose `flock` serialises read-modify-write of the files above |
///
/// Every write replaces its file atomically (temporary file, fsync, rename) with mode 0600,
/// under the lock, so the server (recording an enrollment) and `parley-signal device` or
/// `enroll` (run by an administrator) never lose each other's changes. Reads are bounded
/// (`OperatingLimits.maxStateFileBytes`). Thread-safe: no state is kept in memory.
public final class StateDirectory: ServerStateStore {
    public static let certificateFileName = "certificate.pem"
    public static let privateKeyFileName = "private-key.pem"
    public static let allowlistFileName = "allowlist"
    public static let enrollmentCodesFileName = "enrollment-codes"
    public static let pidFileName = "parley-signal.pid"
    public static let lockFileName = "state.lock"

    public let path: String
    private let unixNow: @Sendable () -> Int64

    /// The directory at `path`; nothing is created until something is written.
    public convenience init(path: String) {
        self.init(path: path, unixNow: { Int64(time(nil)) })
    }

    /// Tests: a wall clock (unix seconds) that decides which enrollment codes have expired.
    public init(path: String, unixNow: @escaping @Sendable () -> Int64) {
        self.path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        self.unixNow = unixNow
    }

    public var certificatePath: String { file(Self.certificateFileName) }
    public var privateKeyPath: String { file(Self.privateKeyFileName) }
    public var allowlistPath: String { file(Self.allowlistFileName) }
    public var enrollmentCodesPath: String { file(Self.enrollmentCodesFileName) }
    public var pidPath: String { file(Self.pidFileName) }

    /// Creates the directory (and missing parents) with mode 0700 if it does not exist.
    public func create() throws {
        try mapFailures { try FileSystem.createDirectory(path, mode: OperatingLimits.stateDirectoryMode) }
    }

    // MARK: Certificate

    /// The certificate and key of the state directory: loaded if both files exist,
    /// generated (self-signed P-256, `OperatingLimits.certificateValidityDays`) and written
    /// if neither does. `created` tells which, so the caller can announce a new pin.
    public func loadOrCreateCertificate(commonName: String = OperatingLimits.certificateCommonName) throws
        -> (certificate: ServerCertificate, created: Bool) {
        try locked {
            switch (FileSystem.exists(certificatePath), FileSystem.exists(privateKeyPath)) {
            case (true, true):
                return (try loadCertificate(certificatePath: certificatePath, privateKeyPath: privateKeyPath), false)
            case (false, false):
                return (try generateCertificate(commonName: commonName), true)
            case (true, false):
                throw StateDirectoryError(.incompleteCertificatePair, path: privateKeyPath,
                                          "missing while \(Self.certificateFileName) exists; restore it, or move both away to generate a new pair (devices will need the new pin)")
            case (false, true):
                throw StateDirectoryError(.incompleteCertificatePair, path: certificatePath,
                                          "missing while \(Self.privateKeyFileName) exists; restore it, or move both away to generate a new pair (devices will need the new pin)")
            }
        }
    }

    /// A certificate (the first PEM certificate of the file is the one pinned) and its
    /// PKCS#8 or traditional PEM key from explicit files. The key is read straight into
    /// protected memory and refused if group or others may access it or if it does not
    /// belong to the certificate.
    public func loadCertificate(certificatePath: String, privateKeyPath: String) throws -> ServerCertificate {
        let (certificate, sha256) = try Self.readCertificate(certificatePath)
        guard let (key, mode) = try mapFailures({ try FileSystem.readSecretFile(privateKeyPath, limit: OperatingLimits.maxPrivateKeyBytes) }) else {
            throw StateDirectoryError(.unreadable, path: privateKeyPath, "private key file does not exist")
        }
        guard mode & 0o077 == 0 else {
            key.erase()
            throw StateDirectoryError(.insecurePermissions, path: privateKeyPath,
                                      "private key is accessible by group or others (mode \(octal(mode))); run: chmod 600 \(privateKeyPath)")
        }
        let matches = try key.withUnsafeBytes { raw in
            CParleyShims_key_matches_certificate(certificate, certificate.count,
                                                 raw.baseAddress?.assumingMemoryBound(to: UInt8.self), raw.count)
        }
        guard matches == 1 else {
            key.erase()
            throw StateDirectoryError(.keyDoesNotMatchCertificate, path: privateKeyPath,
                                      "not a PEM private key of certificate \(certificatePath)")
        }
        return ServerCertificate(certificatePEM: certificate, privateKeyPEM: key, sha256: sha256)
    }

    /// The pin (SHA-256 of the DER, 64 lower-case hex digits) of the first certificate in
    /// a PEM file; no key needed.
    public static func certificatePin(path: String) throws -> String {
        hex(try readCertificate(path).sha256)
    }

    /// A PEM certificate file and the SHA-256 of its first certificate's DER.
    private static func readCertificate(_ path: String) throws -> (pem: [UInt8], sha256: [UInt8]) {
        let bytes: [UInt8]?
        do {
            bytes = try FileSystem.readFile(path, limit: OperatingLimits.maxStateFileBytes)
        } catch let failure as FileFailure {
            throw StateDirectoryError(failure)
        }
        guard let bytes else {
            throw StateDirectoryError(.unreadable, path: path, "certificate file does not exist")
        }
        var sha256 = [UInt8](repeating: 0, count: 32)
        guard CParleyShims_certificate_sha256(bytes, bytes.count, &sha256) == CPARLEY_CERT_OK else {
            throw StateDirectoryError(.malformed, path: path, "not a PEM certificate (expected -----BEGIN CERTIFICATE-----)")
        }
        return (bytes, sha256)
    }

    private func generateCertificate(commonName: String) throws -> ServerCertificate {
        let generated: ServerCertificate
        do {
            generated = try ServerCertificate.generateSelfSigned(commonName: commonName, days: OperatingLimits.certificateValidityDays)
        } catch {
            throw StateDirectoryError(.certificateGenerationFailed, path: certificatePath, "\(error)")
        }
        try mapFailures {
            try FileSystem.writeAtomically(privateKeyPath, mode: OperatingLimits.stateFileMode) { fd in
                try generated.privateKeyPEM.withUnsafeBytes { try FileSystem.writeAll(fd, $0, path: privateKeyPath) }
            }
            try FileSystem.writeAtomically(certificatePath, bytes: generated.certificatePEM, mode: OperatingLimits.stateFileMode)
        }
        return generated
    }

    // MARK: Allowlist

    /// The allowlist file's devices; a missing file is an empty list.
    public func loadAllowlist() throws -> [DeviceID: String] {
        guard let text = try readText(allowlistPath) else { return [:] }
        do {
            return try Allowlist.parse(text)
        } catch let error as Allowlist.ParseError {
            throw StateDirectoryError(.malformed, path: allowlistPath, "line \(error.line): \(error.reason)")
        }
    }

    /// Lists `device` with display `name` (surrounding spaces trimmed; at most
    /// `Allowlist.maxNameBytes` bytes, no control characters). Returns false when the
    /// device was already listed (its name is then replaced).
    @discardableResult
    public func addDevice(_ device: DeviceID, name: String) throws -> Bool {
        let name = try validatedName(name)
        return try locked {
            var entries = try loadAllowlist()
            let added = entries.updateValue(name, forKey: device) == nil
            guard entries.count <= Allowlist.maxEntries else {
                throw StateDirectoryError(.full, path: allowlistPath, "the allowlist already holds \(Allowlist.maxEntries) devices")
            }
            try writeAllowlist(entries)
            return added
        }
    }

    /// Removes `device` from the allowlist; false if it was not listed.
    @discardableResult
    public func removeDevice(_ device: DeviceID) throws -> Bool {
        try locked {
            var entries = try loadAllowlist()
            guard entries.removeValue(forKey: device) != nil else { return false }
            try writeAllowlist(entries)
            return true
        }
    }

    /// The listed devices and their display names, sorted by device ID.
    public func listDevices() throws -> [(DeviceID, String)] {
        try loadAllowlist().sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    private func writeAllowlist(_ entries: [DeviceID: String]) throws {
        try mapFailures { try FileSystem.writeAtomically(allowlistPath, bytes: Array(Allowlist.render(entries).utf8), mode: OperatingLimits.stateFileMode) }
    }

    private func validatedName(_ name: String) throws -> String {
        let trimmed = name.trimmingWhitespace
        if let bad = trimmed.unicodeScalars.first(where: \.isUnsafeInText) {
            throw StateDirectoryError(.invalidDisplayName, path: allowlistPath,
                                      "display name contains control character U+\(hex4(bad.value)); use printable text only")
        }
        guard trimmed.utf8.count <= Allowlist.maxNameBytes else {
            throw StateDirectoryError(.invalidDisplayName, path: allowlistPath, "display name is longer than \(Allowlist.maxNameBytes) bytes")
        }
        return trimmed
    }

    // MARK: Enrollment codes

    /// The codes that have not expired.
    public func loadEnrollmentCodes() throws -> [EnrollmentCodeRecord] {
        let now = unixNow()
        return try readEnrollmentCodes().filter { $0.expiresAtUnixSeconds > now }
    }

    /// Stores a one-time code as its digest (`EnrollmentCodes.digest`, 32 bytes) and its
    /// expiry in unix seconds; expired codes are dropped from the file at the same time.
    public func addEnrollmentCode(digest: [UInt8], expiresAt unixSeconds: Int64) throws {
        guard digest.count == 32 else {
            throw StateDirectoryError(.invalidArgument, path: enrollmentCodesPath, "an enrollment code digest has 32 bytes, not \(digest.count)")
        }
        try locked {
            var codes = try loadEnrollmentCodes().filter { $0.digest != digest }
            guard codes.count < OperatingLimits.maxEnrollmentCodes else {
                throw StateDirectoryError(.full, path: enrollmentCodesPath,
                                          "\(OperatingLimits.maxEnrollmentCodes) unexpired codes are stored already; wait for some to expire")
            }
            codes.append(EnrollmentCodeRecord(digest: digest, expiresAtUnixSeconds: unixSeconds))
            try writeEnrollmentCodes(codes)
        }
    }

    /// A device enrolled with a code: the code is forgotten first (so a failure half way
    /// can cost the device its enrollment but never let the code admit a second device),
    /// then the device is listed with an empty name.
    public func recordEnrollment(device: DeviceID, codeDigest: [UInt8]) throws {
        try locked {
            try writeEnrollmentCodes(try loadEnrollmentCodes().filter { $0.digest != codeDigest })
            var entries = try loadAllowlist()
            guard entries[device] == nil else { return }
            entries[device] = ""
            try writeAllowlist(entries)
        }
    }

    private func readEnrollmentCodes() throws -> [EnrollmentCodeRecord] {
        guard let text = try readText(enrollmentCodesPath) else { return [] }
        var codes: [EnrollmentCodeRecord] = []
        for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let first = fields.first, !first.hasPrefix("#") else { continue }
            guard fields.count == 2, let digest = bytes(fromHex: fields[0]), digest.count == 32, let expiry = Int64(fields[1]) else {
                throw StateDirectoryError(.malformed, path: enrollmentCodesPath,
                                          "line \(index + 1): expected '<64 hex digits> <expiry in unix seconds>'")
            }
            codes.append(EnrollmentCodeRecord(digest: digest, expiresAtUnixSeconds: expiry))
        }
        return codes
    }

    private func writeEnrollmentCodes(_ codes: [EnrollmentCodeRecord]) throws {
        var text = "# parley-signal enrollment codes: <BLAKE2b-256 digest of the code, hex> <expiry, unix seconds>\n"
        for code in codes.sorted(by: { ($0.expiresAtUnixSeconds, hex($0.digest)) < ($1.expiresAtUnixSeconds, hex($1.digest)) }) {
            text += "\(hex(code.digest)) \(code.expiresAtUnixSeconds)\n"
        }
        try mapFailures { try FileSystem.writeAtomically(enrollmentCodesPath, bytes: Array(text.utf8), mode: OperatingLimits.stateFileMode) }
    }

    // MARK: Pid file

    /// Records this process as the running server.
    public func writePID() throws {
        try create()
        try mapFailures { try FileSystem.writeAtomically(pidPath, bytes: Array("\(getpid())\n".utf8), mode: OperatingLimits.stateFileMode) }
    }

    /// The pid the file names, if it exists and holds one (the process may be gone).
    public func readPID() -> Int32? {
        guard let bytes = try? FileSystem.readFile(pidPath, limit: 64),
              let pid = Int32(String(decoding: bytes, as: UTF8.self).trimmingWhitespace), pid > 0 else { return nil }
        return pid
    }

    /// Removes the pid file if it names this process (a newer server's file is left alone).
    public func removePID() {
        guard readPID() == getpid() else { return }
        try? FileSystem.remove(pidPath)
    }

    /// What the pid file says about a server using this directory.
    public enum ServerProcess: Equatable, Sendable {
        /// No pid file, or its process is gone.
        case notRunning
        /// A live process named `OperatingLimits.processName`.
        case running(pid: Int32)
        /// A live process with another name: the pid was reused after a server died
        /// without removing its file. It must not be signalled.
        case stale(pid: Int32, name: String)
    }

    /// The server the pid file names, checked against the live process's name
    /// (`/proc/<pid>/comm`) so that a stale file never leads to signalling a stranger.
    public func serverProcess() -> ServerProcess {
        guard let pid = readPID(), pid != getpid() else { return .notRunning }
        guard kill(pid, 0) == 0 || errno == EPERM else { return .notRunning }
        guard let comm = try? FileSystem.readFile("/proc/\(pid)/comm", limit: 256) else { return .notRunning }
        let name = String(decoding: comm, as: UTF8.self).trimmingWhitespace
        return name == OperatingLimits.processName ? .running(pid: pid) : .stale(pid: pid, name: name)
    }

    // MARK: Helpers

    private func file(_ name: String) -> String { path == "/" ? "/" + name : path + "/" + name }

    /// Runs `body` holding the directory's lock (creating the directory first).
    private func locked<T>(_ body: () throws -> T) throws -> T {
        try create()
        return try mapFailures { try FileSystem.withLock(file(Self.lockFileName)) { try body() } }
    }

    private func readText(_ path: String) throws -> String? {
        guard let bytes = try mapFailures({ try FileSystem.readFile(path, limit: OperatingLimits.maxStateFileBytes) }) else { return nil }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw StateDirectoryError(.malformed, path: path, "not UTF-8 text")
        }
        return text
    }

    private func mapFailures<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let failure as FileFailure {
            throw StateDirectoryError(failure)
        }
    }
}

// MARK: Text helpers

private func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format2: $0) }.joined() }

private func hex4(_ value: UInt32) -> String {
    let digits = String(value, radix: 16, uppercase: true)
    return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
}

private func octal(_ mode: UInt32) -> String { "0" + String(mode, radix: 8) }

private func bytes(fromHex text: Substring) -> [UInt8]? {
    let utf8 = Array(text.utf8)
    guard utf8.count % 2 == 0 else { return nil }
    var result: [UInt8] = []
    result.reserveCapacity(utf8.count / 2)
    for index in stride(from: 0, to: utf8.count, by: 2) {
        guard let high = hexValue(utf8[index]), let low = hexValue(utf8[index + 1]) else { return nil }
        result.append(high << 4 | low)
    }
    return result
}

private func hexValue(_ character: UInt8) -> UInt8? {
    switch character {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return character - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return character - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return character - UInt8(ascii: "A") + 10
    default: return nil
    }
}

extension Unicode.Scalar {
    /// Control, format (e.g. bidi overrides) and line or paragraph separator characters:
    /// text that could break a line-based file or disguise what a line says. The zero-width
    /// joiner and non-joiner are allowed: emoji sequences and several scripts need them.
    var isUnsafeInText: Bool {
        switch properties.generalCategory {
        case .control, .lineSeparator, .paragraphSeparator: return true
        case .format: return value != 0x200C && value != 0x200D
        default: return false
        }
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and newlines.
    var trimmingWhitespace: String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
