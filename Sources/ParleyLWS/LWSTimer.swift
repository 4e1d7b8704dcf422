import CParleyShims
import CWebSockets
import Glibc

/// What an `LWSTimer` calls when it fires (on the lws service thread).
package protocol LWSTimerOwner: AnyObject {
    func lwsTimerFired()
}

/// One lws timer (`lws_sul`) in memory lws never moves: an `lws_sorted_usec_list_t`
/// followed by an unretained pointer back to this object, so the C callback can find its
/// owner (lws's `container_of`). Used only on the service thread of its context; the owner
/// must outlive it (it is held unowned).
package final class LWSTimer {
    private static let backPointerOffset = (MemoryLayout<lws_sorted_usec_list_t>.size + 15) & ~15
    private let memory: UnsafeMutableRawPointer
    unowned let owner: LWSTimerOwner

    package init(owner: LWSTimerOwner) {
        self.owner = owner
        memory = .allocate(byteCount: Self.backPointerOffset + 16, alignment: 16)
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: Self.backPointerOffset + 16)
        memory.storeBytes(of: Unmanaged.passUnretained(self).toOpaque(), toByteOffset: Self.backPointerOffset,
                          as: UnsafeMutableRawPointer.self)
    }

    deinit { memory.deallocate() }

    private var sul: UnsafeMutablePointer<lws_sorted_usec_list_t> { memory.assumingMemoryBound(to: lws_sorted_usec_list_t.self) }

    /// Fires once, `microseconds` from now (0: at the next service turn); replaces any earlier schedule.
    package func schedule(on context: OpaquePointer, afterMicroseconds microseconds: Int64) {
        lws_sul_schedule(context, 0, sul, lwsTimerCallback, max(0, microseconds))
    }

    /// Unschedules it (call before the context is destroyed if it may still be pending).
    package func cancel() { lws_sul_cancel(sul) }

    fileprivate static func timer(of sul: UnsafeMutablePointer<lws_sorted_usec_list_t>) -> LWSTimer {
        let raw = UnsafeMutableRawPointer(sul).load(fromByteOffset: backPointerOffset, as: UnsafeMutableRawPointer.self)
        return Unmanaged<LWSTimer>.fromOpaque(raw).takeUnretainedValue()
    }
}

private func lwsTimerCallback(_ sul: UnsafeMutablePointer<lws_sorted_usec_list_t>?) {
    guard let sul else { return }
    LWSTimer.timer(of: sul).owner.lwsTimerFired()
}

/// `LWS_PRE`: the headroom `lws_write` needs before a payload.
package let lwsPre = Int(CParleyShims_lws_pre())

/// Runs `body` on a new joinable pthread (lws needs a thread of its own, not a Dispatch
/// worker). Returns the thread, or the pthread_create error number.
package func spawnServiceThread(named name: String, _ body: @escaping @Sendable () -> Void) -> Result<pthread_t, Errno> {
    final class Box: @unchecked Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let retained = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(&thread, nil, { argument in
        // The +1 reference passed below; the thread owns it until the body returns.
        Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue().body()
        return nil
    }, retained)
    guard result == 0 else {
        Unmanaged<Box>.fromOpaque(retained).release()
        return .failure(Errno(result))
    }
    nameThread(thread, name)
    return .success(thread)
}

/// Names `thread` for `top -H`, perf and debuggers (Linux keeps 15 bytes; longer names are cut).
package func nameThread(_ thread: pthread_t, _ name: String) {
    _ = String(decoding: name.utf8.prefix(15), as: UTF8.self).withCString { CParleyShims_name_thread(UInt(thread), $0) }
}

/// An errno value.
package struct Errno: Error, Equatable, CustomStringConvertible {
    package let code: Int32
    package init(_ code: Int32) { self.code = code }
    package var description: String { "\(String(cString: strerror(code))) (errno \(code))" }
}

/// A one-shot timer on a libev loop Parley owns, calling its owner on the loop's thread.
/// Used instead of `LWSTimer` when lws runs on libev: lws 4.1.6's libev glue cannot move
/// its own timer earlier once armed, so an earlier deadline would fire late.
package final class EVTimer {
    private let loop: UnsafeMutableRawPointer
    private var timer: UnsafeMutableRawPointer?
    unowned let owner: LWSTimerOwner

    package init(loop: UnsafeMutableRawPointer, owner: LWSTimerOwner) {
        self.loop = loop
        self.owner = owner
        timer = CParleyShims_ev_timer_new({ context in
            guard let context else { return }
            Unmanaged<EVTimer>.fromOpaque(context).takeUnretainedValue().owner.lwsTimerFired()
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Stops and frees the timer; call on the loop's thread (or after it ended).
    deinit { CParleyShims_ev_timer_free(loop, timer) }

    /// Fires once, `microseconds` from now; replaces any earlier schedule.
    package func schedule(afterMicroseconds microseconds: Int64) {
        guard let timer else { return }
        CParleyShims_ev_timer_schedule(loop, timer, Double(max(0, microseconds)) / 1_000_000)
    }
}
