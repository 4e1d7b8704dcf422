import CNice
import CParleyShims
import Glibc
import ParleyLWS
import Synchronization

/// One GLib main context and the thread that runs it, shared by any number of
/// `IceTransport`s (a process may hold many calls).
///
/// Every libnice call Parley makes outside the send path happens on this thread: agents
/// are created on it, their timers and sockets are dispatched on it, and so every libnice
/// signal and every receive callback runs on it. Other threads hand it work as GLib idle
/// sources (`g_source_attach` is thread-safe and wakes the context).
///
/// Lifecycle: `init` creates the context, `start()` starts the thread, `stop()` closes every
/// transport still open, stops the thread and waits for it. `stop()` is safe before
/// `start()` (the context is simply released) and idempotent. The quit request is itself an
/// idle source on the context, so it cannot be lost when it is posted before
/// `g_main_loop_run` begins (a bare `g_main_loop_quit` would be). The running thread holds
/// the loop, and the loop holds every open transport: release both with `stop()`.
public final class IceLoop: @unchecked Sendable {
    /// The GMainContext every agent of this loop is attached to.
    let context: OpaquePointer
    private let mainLoop: OpaquePointer

    private enum Phase { case created, running, stopping, stopped }
    private struct Control {
        var phase = Phase.created
        var thread: pthread_t?
        var transports: [ObjectIdentifier: IceTransport] = [:]
    }
    private let control = Mutex(Control())
    private let threadID = Atomic<UInt>(0)
    private let stopped = Latch()
    private let joined = Mutex(false)
    /// Wakes held back until the loop thread is about to poll again (loop thread only).
    private var deferredWakes: [any DeferredWake] = []

    /// Creates the context; nothing runs until `start()`.
    public init() {
        CParleyShims_ice_disable_debug_output()
        // g_main_context_new and g_main_loop_new abort on allocation failure, never return NULL.
        context = g_main_context_new()!
        mainLoop = g_main_loop_new(context, 0)!
    }

    deinit {
        // The thread holds the loop while it runs, so here it never ran or has been joined
        // (or stopped from its own thread, then nobody joined: let it go).
        if let thread = control.withLock({ $0.thread }), !joined.withLock({ $0 }) { pthread_detach(thread) }
        g_main_loop_unref(mainLoop)
        g_main_context_unref(context)
    }

    /// Starts the loop thread. Throws `loopStartFailed` when the thread cannot be created,
    /// `invalidState` when the loop was started or stopped before.
    public func start() throws(IceError) {
        try control.withLock { control throws(IceError) in
            guard control.phase == .created else {
                throw IceError(.invalidState, "an IceLoop starts once; create a new loop after stop()")
            }
            // The thread's closure holds the loop until g_main_loop_run returns.
            switch spawnServiceThread(named: "parley-ice", { [self] in run() }) {
            case let .success(thread):
                control.thread = thread
                control.phase = .running
            case let .failure(error):
                throw IceError(.loopStartFailed, "cannot start the ICE loop thread: \(error)")
            }
        }
    }

    /// Closes every open transport (no callback of theirs runs afterwards), stops the thread
    /// and, from any other thread, waits until it has ended. On the loop thread (inside a
    /// callback) it only asks; the thread ends when the callback returns.
    public func stop() {
        let wasRunning = control.withLock { control -> Bool in
            switch control.phase {
            case .created:
                control.phase = .stopped
                stopped.open()
                return false
            case .running:
                control.phase = .stopping
                return true
            case .stopping, .stopped:
                return false
            }
        }
        if wasRunning {
            postAlways { [self] in
                let open = control.withLock { control in
                    defer { control.transports.removeAll() }
                    return Array(control.transports.values)
                }
                for transport in open { transport.close() }
                g_main_loop_quit(mainLoop)
            }
        }
        guard !isLoopThread else { return }
        stopped.wait()
        joinThread()
    }

    /// True on the loop's own thread.
    var isLoopThread: Bool { threadID.load(ordering: .acquiring) == pthread_self() }

    /// Waits until the loop thread has ended (after `stop()`); returns at once when it never ran.
    func waitUntilStopped() {
        guard !isLoopThread else { return }
        stopped.wait()
    }

    // MARK: Work from other threads

    /// Runs `work` on the loop thread soon (never inline, even on the loop thread). False
    /// and `work` dropped when the loop is not running.
    @discardableResult
    func post(_ work: @escaping @Sendable () -> Void) -> Bool {
        control.withLock { control in
            guard control.phase == .running else { return false }
            postAlways(work)
            return true
        }
    }

    /// Runs `work` on the loop thread and returns its result: inline when called there,
    /// otherwise posted and waited for. Nil (and `work` not run) when the loop is not running.
    func sync<T>(_ work: () -> T) -> T? {
        if isLoopThread { return work() }
        return withoutActuallyEscaping(work) { work -> T? in
            let call = SyncCall(work)
            guard post({ call.run() }) else { return nil }
            call.done.wait()
            return call.result
        }
    }

    /// Calls `fire` on the loop thread after `delay`. Loop thread only; the returned source
    /// must be released with `cancelTimer` (also after it fired).
    func addTimer(after delay: Duration, _ fire: @escaping @Sendable () -> Void) -> UnsafeMutablePointer<GSource> {
        let source = g_timeout_source_new(UInt32(clamping: IceConfiguration.milliseconds(delay)))!
        attach(source, work: fire)
        return source
    }

    func cancelTimer(_ source: UnsafeMutablePointer<GSource>) {
        g_source_destroy(source)
        g_source_unref(source)
    }

    // MARK: Wakes after a batch of datagrams

    /// Calls `target.wake()` once this loop iteration has dispatched every source ready in
    /// it (libnice reads a socket until it would block), just before the thread polls
    /// again: a consumer woken once per batch of datagrams instead of once per datagram.
    /// Loop thread only; `wake()` runs on the loop thread.
    func wakeAfterDispatch(_ target: any DeferredWake) {
        precondition(isLoopThread, "wakeAfterDispatch off the ICE loop thread")
        deferredWakes.append(target)
    }

    /// The poll hook: runs the wakes this iteration deferred.
    fileprivate func runDeferredWakes() {
        guard !deferredWakes.isEmpty else { return }
        let wakes = deferredWakes
        deferredWakes.removeAll(keepingCapacity: true)
        for target in wakes { target.wake() }
    }

    // MARK: Transports

    /// Holds `transport` until it closes; false when the loop is not running.
    func register(_ transport: IceTransport) -> Bool {
        control.withLock { control in
            guard control.phase == .running else { return false }
            control.transports[ObjectIdentifier(transport)] = transport
            return true
        }
    }

    func unregister(_ transport: IceTransport) {
        control.withLock { _ = $0.transports.removeValue(forKey: ObjectIdentifier(transport)) }
    }

    /// Transports currently open on this loop.
    public var openTransports: Int { control.withLock { $0.transports.count } }

    // MARK: The thread

    private func run() {
        threadID.store(pthread_self(), ordering: .releasing)
        // Thread-default, so that libnice's async operations (nice_agent_close_async)
        // complete on this context.
        g_main_context_push_thread_default(context)
        // The thread holds the loop until run() returns, so an unretained pointer is safe.
        CParleyShims_set_poll_hook(context, { loop in
            Unmanaged<IceLoop>.fromOpaque(loop!).takeUnretainedValue().runDeferredWakes()
        }, Unmanaged.passUnretained(self).toOpaque())
        g_main_loop_run(mainLoop)
        // Work posted before the quit but after this iteration began.
        while g_main_context_iteration(context, 0) != 0 {}
        CParleyShims_set_poll_hook(context, nil, nil)
        runDeferredWakes()
        g_main_context_pop_thread_default(context)
        control.withLock { $0.phase = .stopped }
        threadID.store(0, ordering: .releasing)
        stopped.open()
    }

    private func joinThread() {
        guard let thread = control.withLock({ $0.thread }) else { return }
        joined.withLock { joined in
            guard !joined else { return }
            pthread_join(thread, nil)
            joined = true
        }
    }

    /// Runs `work` on the loop thread soon, whatever the phase: for work that must run even
    /// while the loop stops (the thread drains pending sources before it ends).
    func postAlways(_ work: @escaping @Sendable () -> Void) {
        // g_idle_source_new aborts on allocation failure, never returns NULL.
        let source = g_idle_source_new()!
        attach(source, work: work)
        g_source_unref(source)
    }

    private func attach(_ source: UnsafeMutablePointer<GSource>, work: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(WorkBox(work)).toOpaque()
        g_source_set_callback(source, { data in
            // The source's reference, released by the destroy notify below.
            Unmanaged<WorkBox>.fromOpaque(data!).takeUnretainedValue().work()
            return 0 // G_SOURCE_REMOVE
        }, box, { data in
            Unmanaged<WorkBox>.fromOpaque(data!).release()
        })
        g_source_attach(source, context)
    }
}

/// Something the ICE loop wakes after a batch of datagrams (see `IceLoop.wakeAfterDispatch`).
protocol DeferredWake: AnyObject {
    func wake()
}

private final class WorkBox: @unchecked Sendable {
    let work: @Sendable () -> Void
    init(_ work: @escaping @Sendable () -> Void) { self.work = work }
}

/// A closure run once on the loop thread for a waiting caller. The closure is released
/// before the caller is woken (it is non-escaping on the caller's side).
private final class SyncCall<T>: @unchecked Sendable {
    private var work: (() -> T)?
    var result: T?
    let done = Latch()
    init(_ work: @escaping () -> T) { self.work = work }
    func run() {
        var running = work
        work = nil
        result = running?()
        running = nil
        done.open()
    }
}

/// A gate that opens once; `wait()` returns once it is open (at once afterwards).
final class Latch: @unchecked Sendable {
    // Heap-allocated: pthread objects must not move.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var isOpen = false

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func open() {
        pthread_mutex_lock(mutex)
        isOpen = true
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }

    func wait() {
        pthread_mutex_lock(mutex)
        while !isOpen { pthread_cond_wait(condition, mutex) }
        pthread_mutex_unlock(mutex)
    }
}
