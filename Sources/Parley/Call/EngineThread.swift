#if canImport(Glibc)
import Glibc
#endif
import ParleyCrypto
import ParleyLWS

/// A thread of its own that runs jobs one at a time, in the order posted, and wakes
/// at the earliest deadline its owner reports: the serial executor of a `ParleyClient`.
/// Every call state machine, and every ICE control operation, runs here, so no lock is
/// ever held while libnice or libwebsockets is called. `post` is safe from any thread
/// (including from inside a job, and from libnice callbacks fired synchronously by a job).
final class EngineThread: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var jobs: [() -> Void] = []
    /// Counts posts and pokes, so the loop knows whether one came while it was busy.
    private var wakeups: UInt64 = 0
    private var running = true
    /// The loop has ended: from now on `post` and `sync` run their jobs on the caller's
    /// thread (one at a time, under `inline`), so a call handle used after its client
    /// stopped gets an answer instead of waiting forever for a thread that is gone.
    private var finished = false
    private var inline = pthread_mutex_t()
    private var thread = pthread_t()
    private var started = false
    /// Asked after each batch of jobs: when to run `onDeadline` next.
    private let nextDeadline: () -> Timestamp?
    private let onDeadline: (Timestamp) -> Void

    init(nextDeadline: @escaping () -> Timestamp?, onDeadline: @escaping (Timestamp) -> Void) {
        self.nextDeadline = nextDeadline
        self.onDeadline = onDeadline
        pthread_mutex_init(&mutex, nil)
        var inlineAttributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&inlineAttributes)
        pthread_mutexattr_settype(&inlineAttributes, Int32(PTHREAD_MUTEX_RECURSIVE))
        pthread_mutex_init(&inline, &inlineAttributes)
        pthread_mutexattr_destroy(&inlineAttributes)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(&condition, &attributes)
        pthread_condattr_destroy(&attributes)
        let box = Unmanaged.passRetained(self)
        let result = pthread_create(&thread, nil, { raw in
            let engine = Unmanaged<EngineThread>.fromOpaque(raw!).takeRetainedValue()
            engine.loop()
            return nil
        }, box.toOpaque())
        if result == 0 {
            started = true
            nameThread(thread, "parley-engine")
        } else {
            box.release()
        }
    }

    deinit {
        pthread_cond_destroy(&condition)
        pthread_mutex_destroy(&mutex)
        pthread_mutex_destroy(&inline)
    }

    /// True on the engine's own thread.
    var isCurrent: Bool { started && pthread_equal(pthread_self(), thread) != 0 }

    /// Runs `job` on the engine thread, after every job posted before it.
    func post(_ job: @escaping () -> Void) {
        pthread_mutex_lock(&mutex)
        if finished {
            pthread_mutex_unlock(&mutex)
            runInline(job)
            return
        }
        jobs.append(job)
        wakeups &+= 1
        pthread_cond_signal(&condition)
        pthread_mutex_unlock(&mutex)
    }

    /// Wakes the thread so it asks for the next deadline again (it moved earlier).
    func poke() {
        pthread_mutex_lock(&mutex)
        wakeups &+= 1
        pthread_cond_signal(&condition)
        pthread_mutex_unlock(&mutex)
    }

    /// Runs `job` on the engine thread and waits for its result (inline when already there).
    func sync<T>(_ job: @escaping () -> T) -> T {
        if isCurrent { return job() }
        pthread_mutex_lock(&mutex)
        let ended = finished
        pthread_mutex_unlock(&mutex)
        if ended {
            var result: T?
            runInline { result = job() }
            return result!
        }
        let done = Completion<T>()
        post { done.complete(job()) }
        return done.wait()
    }

    /// Finishes the jobs already posted, then ends the thread and waits for it.
    func stop() {
        guard started else { return }
        if isCurrent {
            pthread_mutex_lock(&mutex)
            running = false
            pthread_mutex_unlock(&mutex)
            return
        }
        pthread_mutex_lock(&mutex)
        running = false
        pthread_cond_signal(&condition)
        pthread_mutex_unlock(&mutex)
        pthread_join(thread, nil)
        started = false
    }

    /// The loop. `nextDeadline` and the jobs run without the engine's mutex held, so a
    /// data path may `post` or `poke` while holding its own lock; a wake-up that comes
    /// while the loop computes its deadline is not lost (the generation changed).
    private func loop() {
        while true {
            pthread_mutex_lock(&mutex)
            var batch = jobs
            jobs.removeAll()
            let keepRunning = running
            let generation = wakeups
            pthread_mutex_unlock(&mutex)
            for job in batch { job() }
            batch.removeAll()
            // The clock is read after the deadline: a timer due "now" (a pacer that is
            // already open reports the time it was asked at) is then never in the future,
            // so it runs instead of the loop waiting for an instant that has passed.
            let deadline = nextDeadline()
            let now = MonotonicClock.now()
            if let deadline, deadline <= now {
                onDeadline(now)
                continue
            }
            if !keepRunning {
                // Jobs posted after the last batch run here; later ones run inline.
                pthread_mutex_lock(&mutex)
                finished = true
                let rest = jobs
                jobs.removeAll()
                pthread_mutex_unlock(&mutex)
                runInline { for job in rest { job() } }
                return
            }
            pthread_mutex_lock(&mutex)
            if jobs.isEmpty && running && wakeups == generation {
                if let deadline {
                    var time = timespec(tv_sec: Int(deadline.nanoseconds / 1_000_000_000),
                                        tv_nsec: Int(deadline.nanoseconds % 1_000_000_000))
                    pthread_cond_timedwait(&condition, &mutex, &time)
                } else {
                    pthread_cond_wait(&condition, &mutex)
                }
            }
            pthread_mutex_unlock(&mutex)
        }
    }
}

extension EngineThread {
    /// Runs `job` on this thread, serialized with every other job run after the loop ended.
    fileprivate func runInline(_ job: () -> Void) {
        pthread_mutex_lock(&inline)
        defer { pthread_mutex_unlock(&inline) }
        job()
    }
}

/// A one-shot result handed from the engine thread to a waiting thread.
final class Completion<T>: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var value: T?

    init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    deinit {
        pthread_cond_destroy(&condition)
        pthread_mutex_destroy(&mutex)
    }

    func complete(_ result: T) {
        pthread_mutex_lock(&mutex)
        value = result
        pthread_cond_broadcast(&condition)
        pthread_mutex_unlock(&mutex)
    }

    func wait() -> T {
        pthread_mutex_lock(&mutex)
        while value == nil { pthread_cond_wait(&condition, &mutex) }
        let result = value!
        pthread_mutex_unlock(&mutex)
        return result
    }
}

/// CLOCK_MONOTONIC as a `Timestamp`: the clock every sans-IO core of the client is driven with.
enum MonotonicClock {
    static func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Timestamp(nanoseconds: UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec))
    }
}
