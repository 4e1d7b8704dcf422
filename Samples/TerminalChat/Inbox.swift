import Glibc
import Parley
import ParleyCrypto
import ParleyProtocol
import ParleySampleKit
import Synchronization

/// What the library's streams and the file writers report to the main loop.
enum InboxItem: Sendable {
    case presence(Set<DeviceID>)
    case incomingCall(Call)
    case callEvent(CallToken, CallEvent)
    case callData(CallToken, CallData)
    /// A call's event stream finished (the call is over, whatever was reported).
    case callFinished(CallToken)
    /// An outgoing file could not be written to the call.
    case fileWriteFailed(CallToken, name: String, reason: String)
}

/// A queue from any thread to the main loop, with a pipe the loop polls so a post wakes it.
final class Inbox: Sendable {
    private let items = Mutex<[InboxItem]>([])
    /// Read end (polled by the main loop) and write end, both non-blocking.
    let wakeRead: Int32
    private let wakeWrite: Int32

    init() throws(SampleError) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            throw SampleError.configuration("cannot create a pipe: \(String(cString: strerror(errno)))")
        }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        wakeRead = fds[0]
        wakeWrite = fds[1]
    }

    deinit {
        close(wakeRead)
        close(wakeWrite)
    }

    func post(_ item: InboxItem) {
        items.withLock { $0.append(item) }
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)  // a full pipe already wakes the loop
    }

    /// Everything posted so far, oldest first.
    func drain() -> [InboxItem] {
        var scratch = [UInt8](repeating: 0, count: 256)
        while scratch.withUnsafeMutableBytes({ read(wakeRead, $0.baseAddress, $0.count) }) > 0 {}
        return items.withLock { items in
            defer { items.removeAll() }
            return items
        }
    }
}
