import Glibc
import ParleyProtocol
import ParleySampleKit

/// Files arriving on a call, saved in the download directory: each is written to a
/// temporary file (mode 0600) and gets its sanitized name only once it arrived whole
/// with a matching digest; a name already taken gets " (1)", " (2)", ... and is never
/// overwritten. A failed or abandoned file leaves nothing behind.
final class DownloadFolder {
    let directory: String
    private var open: [ReliableFileID: Incoming] = [:]

    private struct Incoming {
        var descriptor: Int32
        var temporaryPath: String
        var name: String
        var size: UInt64
    }

    /// The default: `$XDG_DOWNLOAD_DIR/parley`, else `~/Downloads/parley`.
    static func defaultDirectory() -> String {
        if let xdg = getenv("XDG_DOWNLOAD_DIR"), xdg.pointee != 0 { return String(cString: xdg) + "/parley" }
        let home = getenv("HOME").map { String(cString: $0) } ?? "."
        return home + "/Downloads/parley"
    }

    init(directory: String) {
        self.directory = directory
    }

    deinit { abandonAll() }

    /// The name the file will be saved under, if it arrives whole.
    func name(of id: ReliableFileID) -> String? { open[id]?.name }

    /// The size the peer announced for file `id`.
    func size(of id: ReliableFileID) -> UInt64? { open[id]?.size }

    /// Starts receiving file `id`; returns its sanitized name.
    func start(_ id: ReliableFileID, proposedName: String?, size: UInt64) throws(SampleError) -> String {
        try Self.makeDirectories(directory)
        var template = Array((directory + "/.parley-incoming-XXXXXX").utf8CString)
        let descriptor = mkstemp(&template)
        guard descriptor >= 0 else { throw SampleError.file(directory, "cannot create a file: \(String(cString: strerror(errno)))") }
        let name = DownloadName.sanitize(proposedName)
        open[id] = Incoming(descriptor: descriptor, temporaryPath: String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self), name: name, size: size)
        return name
    }

    /// Appends the next bytes of file `id`.
    func write(_ id: ReliableFileID, bytes: [UInt8]) throws(SampleError) {
        guard let file = open[id] else { return }
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(file.descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                abandon(id)
                throw SampleError.file(directory, "cannot write: \(reason)")
            }
            offset += written
        }
    }

    /// File `id` arrived whole: gives it its name; returns the path it is saved under.
    func complete(_ id: ReliableFileID) throws(SampleError) -> String {
        guard let file = open.removeValue(forKey: id) else { throw SampleError.file(directory, "no such incoming file") }
        defer { unlink(file.temporaryPath) }
        guard fsync(file.descriptor) == 0, close(file.descriptor) == 0 else {
            throw SampleError.file(directory, "cannot save \(file.name): \(String(cString: strerror(errno)))")
        }
        for attempt in 0..<1000 {
            let path = directory + "/" + DownloadName.variant(file.name, attempt: attempt)
            if link(file.temporaryPath, path) == 0 { return path }
            guard errno == EEXIST else {
                throw SampleError.file(path, "cannot save: \(String(cString: strerror(errno)))")
            }
        }
        throw SampleError.file(directory, "too many files named \(file.name)")
    }

    /// Drops file `id` (it failed): its partial bytes are deleted.
    func abandon(_ id: ReliableFileID) {
        guard let file = open.removeValue(forKey: id) else { return }
        close(file.descriptor)
        unlink(file.temporaryPath)
    }

    /// Drops every partial file (the call ended).
    func abandonAll() {
        for id in Array(open.keys) { abandon(id) }
    }

    /// `mkdir -p` with mode 0700 for what it creates.
    static func makeDirectories(_ path: String) throws(SampleError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o700) != 0, errno != EEXIST {
                throw SampleError.file(prefix, "cannot create directory: \(String(cString: strerror(errno)))")
            }
        }
    }
}
