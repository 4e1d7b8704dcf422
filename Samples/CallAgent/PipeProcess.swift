import Glibc
import Synchronization

/// The command of `--messages pipe`, one per call: `/bin/sh -c COMMAND` with its stdin and
/// stdout on pipes (stderr is the agent's). `write` queues bytes for its stdin; `run` moves
/// them and reads its stdout, handing over each line it prints. Both pipe ends the agent
/// holds are non-blocking, so a slow or stuck command never blocks the call.
final class PipeProcess: Sendable {
    /// Longest line taken from the command; a longer one is cut into pieces of this size.
    static let maxLine = 64 * 1024
    static let pollInterval: Duration = .milliseconds(5)

    let pid: pid_t
    private let state: Mutex<State>
    private struct State {
        var input: Int32
        var output: Int32
        var pending: [UInt8] = []
        var closeInputWhenDrained = false
    }

    init(command: String) throws {
        var toChild: [Int32] = [0, 0]
        var fromChild: [Int32] = [0, 0]
        guard pipe(&toChild) == 0 else { throw AgentFailure(.callFailed, "pipe: \(String(cString: strerror(errno)))") }
        guard pipe(&fromChild) == 0 else {
            close(toChild[0]); close(toChild[1])
            throw AgentFailure(.callFailed, "pipe: \(String(cString: strerror(errno)))")
        }
        // The child gets its ends through dup2 (which clears the flag); no other program inherits any.
        for descriptor in toChild + fromChild { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toChild[0], STDIN_FILENO)
        posix_spawn_file_actions_adddup2(&actions, fromChild[1], STDOUT_FILENO)
        let arguments: [UnsafeMutablePointer<CChar>?] = ["/bin/sh", "-c", command].map { $0.withCString { strdup($0) } }
        defer { arguments.forEach { free($0) } }
        var argv = arguments + [nil]
        var child: pid_t = 0
        let status = posix_spawn(&child, "/bin/sh", &actions, nil, &argv, environ)
        close(toChild[0])
        close(fromChild[1])
        guard status == 0 else {
            close(toChild[1]); close(fromChild[0])
            throw AgentFailure(.callFailed, "--pipe: cannot start /bin/sh: \(String(cString: strerror(status)))")
        }
        pid = child
        _ = fcntl(toChild[1], F_SETFL, fcntl(toChild[1], F_GETFL) | O_NONBLOCK)
        _ = fcntl(fromChild[0], F_SETFL, fcntl(fromChild[0], F_GETFL) | O_NONBLOCK)
        state = Mutex(State(input: toChild[1], output: fromChild[0]))
    }

    /// Queues `bytes` for the command's stdin.
    func write(_ bytes: [UInt8]) {
        state.withLock { if $0.input >= 0 { $0.pending += bytes } }
    }

    /// Moves bytes both ways until the command closes its stdout or the task is cancelled;
    /// `line` gets each line the command printed, without its newline.
    func run(line: @Sendable ([UInt8]) -> Void) async {
        var partial: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while !Task.isCancelled {
            flushInput()
            let descriptor = state.withLock { $0.output }
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count == 0 { break }
            if count < 0 {
                if errno == EAGAIN || errno == EINTR {
                    try? await Task.sleep(for: Self.pollInterval)
                    continue
                }
                break
            }
            partial += chunk[0..<count]
            while let newline = partial.firstIndex(of: UInt8(ascii: "\n")) {
                line(Array(partial[..<newline]))
                partial.removeSubrange(...newline)
            }
            while partial.count >= Self.maxLine {
                line(Array(partial.prefix(Self.maxLine)))
                partial.removeFirst(Self.maxLine)
            }
        }
        if !partial.isEmpty, !Task.isCancelled { line(partial) }
    }

    /// Closes the command's stdin once what is queued was written (the command sees EOF).
    func closeInput() {
        state.withLock { $0.closeInputWhenDrained = true }
        flushInput()
    }

    /// Ends the command: stdin closed, SIGTERM if it is still running after `grace`, then reaped.
    func stop(grace: Duration = .milliseconds(500)) async {
        state.withLock { state in
            if state.input >= 0 { close(state.input) }
            state.input = -1
        }
        let deadline = ContinuousClock.now + grace
        var status: Int32 = 0
        while waitpid(pid, &status, WNOHANG) == 0 {
            if ContinuousClock.now >= deadline {
                kill(pid, SIGTERM)
                waitpid(pid, &status, 0)
                break
            }
            try? await Task.sleep(for: Self.pollInterval)
        }
        state.withLock { state in
            if state.output >= 0 { close(state.output) }
            state.output = -1
        }
    }

    private func flushInput() {
        state.withLock { state in
            while state.input >= 0, !state.pending.isEmpty {
                let count = state.pending.withUnsafeBytes { Glibc.write(state.input, $0.baseAddress, $0.count) }
                if count > 0 {
                    state.pending.removeFirst(count)
                } else if count < 0, errno == EINTR {
                    continue
                } else if count < 0, errno == EAGAIN {
                    return
                } else {
                    // EPIPE: the command no longer reads; drop what it would have got.
                    state.pending.removeAll()
                    close(state.input)
                    state.input = -1
                }
            }
            if state.closeInputWhenDrained, state.input >= 0, state.pending.isEmpty {
                close(state.input)
                state.input = -1
            }
        }
    }
}
