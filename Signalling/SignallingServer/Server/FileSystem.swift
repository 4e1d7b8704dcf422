#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ParleyCrypto

/// A file operation that failed: which, on which path, and why (from errno).
/// `StateDirectory` and `ConfigFile` turn it into their own error type.
struct FileFailure: Error, CustomStringConvertible {
    enum Operation: String {
        case open, read, write, sync, rename, stat, remove, lock
        case createDirectory = "create directory"
    }

    let operation: Operation
    let path: String
    let reason: String
    /// The file is larger than the caller's limit (not an errno failure).
    let tooLarge: Bool

    init(_ operation: Operation, _ path: String, errno code: Int32 = errno) {
        self.operation = operation
        self.path = path
        self.reason = String(cString: strerror(code))
        self.tooLarge = false
    }

    init(tooLarge path: String, limit: Int) {
        self.operation = .read
        self.path = path
        self.reason = "larger than \(limit) bytes; refusing to read it"
        self.tooLarge = true
    }

    var description: String { tooLarge ? reason : "cannot \(operation.rawValue): \(reason)" }
}

/// The few POSIX file operations the state directory and the config file need: bounded
/// reads (into protected memory for keys), atomic replacement, directory creation and a
/// cross-process lock. Every function is safe to call from any thread.
enum FileSystem {
    /// The whole file, or nil if it does not exist. Refuses files over `limit` bytes.
    static func readFile(_ path: String, limit: Int) throws -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw FileFailure(.open, path)
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw FileFailure(.read, path)
            }
            if count == 0 { return bytes }
            guard bytes.count + count <= limit else { throw FileFailure(tooLarge: path, limit: limit) }
            bytes.append(contentsOf: chunk[0..<count])
        }
    }

    /// A secret file read straight into protected memory, never into an ordinary buffer,
    /// with the permission bits of the file that was actually opened (not of the path at
    /// another moment). Nil if the file does not exist.
    static func readSecretFile(_ path: String, limit: Int) throws -> (secret: SecretBytes, mode: UInt32)? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw FileFailure(.open, path)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FileFailure(.stat, path) }
        let size = Int(info.st_size)
        guard size <= limit else { throw FileFailure(tooLarge: path, limit: limit) }
        let secret = try SecretBytes(count: size) { buffer in
            var filled = 0
            while filled < size {
                let count = read(fd, buffer.baseAddress! + filled, size - filled)  // size > 0 inside the loop, so the base is non-nil
                if count < 0 {
                    if errno == EINTR { continue }
                    throw FileFailure(.read, path)
                }
                if count == 0 { throw FileFailure(.read, path, errno: EIO) }  // truncated while being read
                filled += count
            }
        }
        return (secret, UInt32(info.st_mode) & 0o7777)
    }

    /// Replaces `path` atomically: the bytes go to a new file in the same directory, which
    /// is flushed to disk and renamed over `path`; then the directory is flushed. A reader
    /// sees the old file or the new one, never a part. The file gets `mode` whatever the
    /// umask. Run as root in a directory owned by another user (a service account), the file
    /// is given to that user, so that `parley-signal device add` run by an administrator
    /// leaves files the service can still read.
    static func writeAtomically(_ path: String, mode: UInt32, _ fill: (Int32) throws -> Void) throws {
        let directory = parentDirectory(of: path)
        let name = path.split(separator: "/").last.map(String.init) ?? path
        let temporary = "\(directory)/.\(name).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode_t(mode))
        guard fd >= 0 else { throw FileFailure(.open, temporary) }
        var renamed = false
        defer {
            close(fd)
            if !renamed { unlink(temporary) }
        }
        guard fchmod(fd, mode_t(mode)) == 0 else { throw FileFailure(.write, temporary) }
        var directoryInfo = stat()
        if geteuid() == 0, stat(directory, &directoryInfo) == 0, directoryInfo.st_uid != 0 {
            guard fchown(fd, directoryInfo.st_uid, directoryInfo.st_gid) == 0 else { throw FileFailure(.write, temporary) }
        }
        try fill(fd)
        guard fsync(fd) == 0 else { throw FileFailure(.sync, temporary) }
        guard rename(temporary, path) == 0 else { throw FileFailure(.rename, path) }
        renamed = true
        syncDirectory(directory)
    }

    /// `writeAtomically` for ordinary bytes.
    static func writeAtomically(_ path: String, bytes: [UInt8], mode: UInt32) throws {
        try writeAtomically(path, mode: mode) { fd in
            try bytes.withUnsafeBytes { try writeAll(fd, $0, path: path) }
        }
    }

    /// Writes the whole buffer, retrying short writes and EINTR.
    static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, path: String) throws {
        var written = 0
        while written < buffer.count {
            let count = write(fd, buffer.baseAddress! + written, buffer.count - written)  // count > 0, so the base is non-nil
            if count < 0 {
                if errno == EINTR { continue }
                throw FileFailure(.write, path)
            }
            written += count
        }
    }

    /// Creates `path` and any missing parents with `mode` (`mkdir -p`); existing
    /// directories keep their permissions.
    static func createDirectory(_ path: String, mode: UInt32) throws {
        var info = stat()
        if stat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else { throw FileFailure(.createDirectory, path, errno: ENOTDIR) }
            return
        }
        let parent = parentDirectory(of: path)
        if parent != path && parent != "." && parent != "/" { try createDirectory(parent, mode: mode) }
        guard mkdir(path, mode_t(mode)) == 0 || errno == EEXIST else { throw FileFailure(.createDirectory, path) }
    }

    /// Runs `body` holding an exclusive `flock` on `path` (created if missing), so that
    /// read-modify-write sequences of several processes (the server recording an
    /// enrollment, `parley-signal device add`) do not lose each other's changes.
    static func withLock<T>(_ path: String, _ body: () throws -> T) throws -> T {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, mode_t(OperatingLimits.stateFileMode))
        guard fd >= 0 else { throw FileFailure(.open, path) }
        defer { close(fd) }  // closing releases the lock
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw FileFailure(.lock, path) }
        }
        return try body()
    }

    /// Removes a file; a missing file is not an error.
    static func remove(_ path: String) throws {
        guard unlink(path) == 0 || errno == ENOENT else { throw FileFailure(.remove, path) }
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Flushes a directory entry change (a rename) to disk. Best effort: some file
    /// systems refuse fsync on directories, and the data itself is already on disk.
    private static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }
}
