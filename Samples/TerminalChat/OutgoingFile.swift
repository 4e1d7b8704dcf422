import Glibc
import Parley
import ParleyProtocol
import ParleySampleKit

/// A file on its way to the peer: opened and announced on the main loop, its bytes
/// written by a task that retries what the send buffer did not take yet. Progress comes
/// back as `.fileProgress` on the call's data stream.
struct OutgoingFile: Sendable {
    let id: ReliableFileID
    let name: String
    let size: UInt64

    /// Bytes read from the file per write to the call.
    static let chunkBytes = 64 * 1024

    /// Opens `path` (a regular file), announces it on `call` and starts writing it.
    static func start(path: String, on call: Call, token: CallToken, inbox: Inbox) throws(SampleError) -> OutgoingFile {
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw SampleError.file(path, String(cString: strerror(errno))) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            close(descriptor)
            throw SampleError.file(path, "not a regular file")
        }
        let base = path.split(separator: "/").last.map(String.init) ?? "file"
        var name = base
        while name.utf8.count > ReliableConstants.maxFileNameBytes { name.removeLast() }
        let size = UInt64(info.st_size)
        let id: ReliableFileID
        do {
            id = try call.startFile(size: size, name: name)
        } catch {
            close(descriptor)
            throw SampleError.file(path, "cannot send: \(error)")
        }
        let file = OutgoingFile(id: id, name: name, size: size)
        Task.detached { await file.write(from: descriptor, to: call, token: token, inbox: inbox) }
        return file
    }

    private func write(from descriptor: Int32, to call: Call, token: CallToken, inbox: Inbox) async {
        defer { close(descriptor) }
        var chunk = [UInt8](repeating: 0, count: Self.chunkBytes)
        var sent: UInt64 = 0
        while sent < size {
            let wanted = Int(min(UInt64(Self.chunkBytes), size - sent))
            let count = chunk.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, wanted, off_t(sent)) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else {
                inbox.post(.fileWriteFailed(token, name: name, reason: count == 0 ? "the file got shorter while sending" : String(cString: strerror(errno))))
                return
            }
            var offset = 0
            while offset < count {
                do {
                    let written = try call.writeFile(id, bytes: Array(chunk[offset..<count]))
                    offset += written
                    if written == 0 { try await Task.sleep(for: .milliseconds(5)) }
                } catch let error as CallSendError {
                    inbox.post(.fileWriteFailed(token, name: name, reason: "\(error)"))
                    return
                } catch {
                    return  // cancelled
                }
            }
            sent += UInt64(count)
        }
    }
}
