import Glibc
import ParleySampleKit

/// A file the peer is sending. With a receive directory it is written to a hidden
/// temporary file there and renamed to its sanitized name (made unique) only once the
/// channel confirmed its digest; a failed file is deleted. Without one it is only counted.
struct IncomingFile {
    let size: UInt64
    /// The sanitized name (what is reported, and saved when a directory is set).
    let name: String
    private var directory: String?
    private var temporaryPath: String?
    private var descriptor: Int32 = -1

    init(proposedName: String?, size: UInt64) {
        self.size = size
        name = SafeFileName.sanitize(proposedName)
    }

    mutating func open(in directory: String) throws(SampleError) {
        var template = Array("\(directory)/.parley-receive-XXXXXX".utf8CString)
        // The buffer is never empty: it holds the template and its terminator.
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else { throw SampleError.file(directory, "cannot create a file: \(String(cString: strerror(errno)))") }
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        self.directory = directory
        self.descriptor = descriptor
        temporaryPath = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    mutating func write(_ bytes: [UInt8]) throws(SampleError) {
        guard descriptor >= 0, let temporaryPath else { return }
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                discard()
                throw SampleError.file(temporaryPath, reason)
            }
            offset += count
        }
    }

    /// Moves the finished file to its name; returns the path, or nil when it is not saved.
    mutating func complete() throws(SampleError) -> String? {
        guard descriptor >= 0, let directory, let temporaryPath else { return nil }
        Glibc.close(descriptor)
        descriptor = -1
        guard let unique = SafeFileName.unique(name, exists: { access(directory + "/" + $0, F_OK) == 0 }) else {
            discard()
            throw SampleError.file(directory, "no free name for \(name)")
        }
        let path = directory + "/" + unique
        guard rename(temporaryPath, path) == 0 else {
            let reason = String(cString: strerror(errno))
            discard()
            throw SampleError.file(path, reason)
        }
        self.temporaryPath = nil
        return path
    }

    /// Deletes what was written (a failed or unfinished file).
    mutating func discard() {
        if descriptor >= 0 { Glibc.close(descriptor) }
        descriptor = -1
        if let temporaryPath { unlink(temporaryPath) }
        temporaryPath = nil
    }
}
