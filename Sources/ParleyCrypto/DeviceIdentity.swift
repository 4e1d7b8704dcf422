import CSodium
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A device's long-term Ed25519 identity. The secret key lives in protected
/// memory; only the public key and the device ID derived from it are readable.
public final class DeviceIdentity: Sendable {
    public let publicKey: [UInt8]
    public let deviceID: DeviceID
    private let secretKey: SecretBytes  // libsodium layout: seed (32) || public key (32)

    /// Key file layout: magic "PARLEYK1" (8 bytes) then the 32-byte Ed25519 seed.
    static let fileMagic: [UInt8] = Array("PARLEYK1".utf8)
    static let fileSize = 8 + Ed25519.seedCount

    /// A new random identity.
    public convenience init() {
        self.init(entropy: SystemEntropy.shared)
    }

    package convenience init(entropy: EntropySource) {
        let seed = entropy.secret(Ed25519.seedCount)
        defer { seed.erase() }
        // A 32-byte seed always yields a key pair.
        try! self.init(seed: seed)
    }

    /// The identity for a 32-byte seed (handed in by an embedding application,
    /// or read from a key file). The caller keeps ownership of `seed`.
    public init(seed: SecretBytes) throws {
        ensureSodium()
        guard seed.count == Ed25519.seedCount else {
            throw CryptoError.invalidLength(what: "Ed25519 seed", expected: Ed25519.seedCount, actual: seed.count)
        }
        var publicKey = [UInt8](repeating: 0, count: Ed25519.publicKeyCount)
        secretKey = try seed.withUnsafeBytes { seedBytes in
            SecretBytes(count: Ed25519.secretKeyCount) { secret in
                _ = crypto_sign_seed_keypair(&publicKey, secret.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                             seedBytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        self.publicKey = publicKey
        self.deviceID = try DeviceID(publicKey: publicKey)
    }

    /// Signs `message` with the identity key.
    public func sign(_ message: [UInt8]) throws -> [UInt8] {
        try Ed25519.sign(message, secretKey: secretKey)
    }

    /// Loads an identity from a key file. Fails with a clear error when the file is
    /// missing, not a regular file, not owned by this user, readable or writable by
    /// group or others, or not a Parley key file.
    public static func load(path: String) throws -> DeviceIdentity {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw CryptoError.keyFile(path: path, reason: systemError("cannot open")) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw CryptoError.keyFile(path: path, reason: systemError("cannot stat")) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw CryptoError.keyFile(path: path, reason: "not a regular file") }
        guard info.st_uid == geteuid() else {
            throw CryptoError.keyFile(path: path, reason: "owned by uid \(info.st_uid), not by this user (uid \(geteuid()))")
        }
        guard info.st_mode & 0o077 == 0 else { throw CryptoError.keyFilePermissions(path: path, mode: UInt32(info.st_mode)) }
        guard Int(info.st_size) == fileSize else {
            throw CryptoError.keyFile(path: path, reason: "size \(info.st_size) bytes, expected \(fileSize): not a Parley key file")
        }
        var magic = [UInt8](repeating: 0, count: fileMagic.count)
        guard readFully(fd, into: &magic) else { throw CryptoError.keyFile(path: path, reason: systemError("cannot read")) }
        guard magic == fileMagic else { throw CryptoError.keyFile(path: path, reason: "not a Parley key file (bad magic)") }
        var readOK = true
        let seed = SecretBytes(count: Ed25519.seedCount) { buffer in readOK = readFully(fd, into: buffer) }
        defer { seed.erase() }
        guard readOK else { throw CryptoError.keyFile(path: path, reason: systemError("cannot read")) }
        return try DeviceIdentity(seed: seed)
    }

    /// Writes the identity to a new key file with mode 0600. Refuses to overwrite an
    /// existing file (replacing an identity by accident would orphan the device ID).
    public func save(path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CryptoError.keyFile(path: path, reason: systemError("cannot create")) }
        var written = false
        defer {
            close(fd)
            if !written { unlink(path) }
        }
        guard fchmod(fd, 0o600) == 0 else { throw CryptoError.keyFile(path: path, reason: systemError("cannot chmod")) }
        guard writeFully(fd, DeviceIdentity.fileMagic) else { throw CryptoError.keyFile(path: path, reason: systemError("cannot write")) }
        let ok = try secretKey.withUnsafeBytes { key in
            writeFully(fd, UnsafeRawBufferPointer(rebasing: key.prefix(Ed25519.seedCount)))
        }
        guard ok, fsync(fd) == 0 else { throw CryptoError.keyFile(path: path, reason: systemError("cannot write")) }
        written = true
    }

    /// Erases the secret key now; later signing fails.
    public func erase() { secretKey.erase() }
}

private func systemError(_ action: String) -> String {
    "\(action): \(String(cString: strerror(errno)))"
}

private func readFully(_ fd: Int32, into array: inout [UInt8]) -> Bool {
    array.withUnsafeMutableBytes { readFully(fd, into: $0) }
}

private func readFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
    var done = 0
    while done < buffer.count {
        let result = read(fd, buffer.baseAddress!.advanced(by: done), buffer.count - done)
        if result < 0 && errno == EINTR { continue }
        guard result > 0 else { return false }
        done += result
    }
    return true
}

private func writeFully(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBytes { writeFully(fd, $0) }
}

private func writeFully(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) -> Bool {
    var done = 0
    while done < buffer.count {
        let result = write(fd, buffer.baseAddress!.advanced(by: done), buffer.count - done)
        if result < 0 && errno == EINTR { continue }
        guard result > 0 else { return false }
        done += result
    }
    return true
}
