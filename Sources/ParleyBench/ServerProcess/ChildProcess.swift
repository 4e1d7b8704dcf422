import Glibc

/// A child process started with `posix_spawn`. Its standard streams are this process's, or
/// go to `/dev/null`, to a file, or to a pipe whose other end this process holds
/// (close-on-exec, so no other child inherits it and an end-of-file means what it says).
/// `stop` ends it with SIGTERM, then SIGKILL after a grace period, and reaps it; deinit
/// does the same for a child still running. One owner thread.
final class ChildProcess {
    enum Stream {
        /// This process's own stream.
        case inherit
        case null
        /// Created or truncated, mode 0600.
        case file(String)
        case pipe
    }

    let pid: pid_t
    /// Our ends of the child's stdin and stdout, for `.pipe` streams.
    private(set) var standardInput: Int32?
    private(set) var standardOutput: Int32?
    /// The `waitpid` status once the child has been reaped.
    private(set) var waitStatus: Int32?

    init(executable: String, arguments: [String], standardInput: Stream = .null, standardOutput: Stream = .null,
         standardError: Stream = .null) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var childEnds: [Int32] = []
        var ourEnds: [Int32: Int32] = [:]
        defer { childEnds.forEach { close($0) } }
        do {
            for (descriptor, stream) in [(STDIN_FILENO, standardInput), (STDOUT_FILENO, standardOutput), (STDERR_FILENO, standardError)] {
                let reads = descriptor == STDIN_FILENO
                switch stream {
                case .inherit:
                    break
                case .null:
                    posix_spawn_file_actions_addopen(&actions, descriptor, "/dev/null", reads ? O_RDONLY : O_WRONLY, 0)
                case let .file(path):
                    posix_spawn_file_actions_addopen(&actions, descriptor, path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
                case .pipe:
                    var ends: [Int32] = [-1, -1]
                    guard pipe(&ends) == 0 else { throw ChildProcess.error("pipe", errno) }
                    ends.forEach { _ = fcntl($0, F_SETFD, FD_CLOEXEC) }
                    let (child, ours) = reads ? (ends[0], ends[1]) : (ends[1], ends[0])
                    childEnds.append(child)
                    ourEnds[descriptor] = ours
                    // dup2 onto 0/1/2 clears close-on-exec for the child's copy only.
                    posix_spawn_file_actions_adddup2(&actions, child, descriptor)
                }
            }
            let argv = ([executable] + arguments).map { strdup($0) }
            defer { argv.forEach { free($0) } }
            var pid: pid_t = 0
            let result = (argv + [nil]).withUnsafeBufferPointer { pointers in
                posix_spawn(&pid, executable, &actions, nil, UnsafeMutablePointer(mutating: pointers.baseAddress!), environ)
            }
            guard result == 0 else { throw ChildProcess.error("cannot start \(executable)", result) }
            self.pid = pid
        } catch {
            ourEnds.values.forEach { close($0) }
            throw error
        }
        self.standardInput = ourEnds[STDIN_FILENO]
        self.standardOutput = ourEnds[STDOUT_FILENO]
    }

    deinit { stop(grace: .seconds(2)) }

    /// True until the child has exited (and been reaped).
    var isRunning: Bool {
        guard waitStatus == nil else { return false }
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return true }
        waitStatus = status
        return false
    }

    /// How the child ended, for messages: "exit status 1" or "signal 9".
    var exitDescription: String {
        guard let status = waitStatus else { return "running" }
        let signal = status & 0x7f
        return signal == 0 ? "exit status \((status >> 8) & 0xff)" : "signal \(signal)"
    }

    /// Closes our end of the child's stdin: a child reading it sees end-of-file.
    func closeStandardInput() {
        if let standardInput { close(standardInput) }
        standardInput = nil
    }

    /// Waits up to `timeout` for the child to exit by itself; true if it did.
    func waitForExit(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while isRunning {
            guard ContinuousClock.now < deadline else { return false }
            usleep(10_000)
        }
        return true
    }

    /// SIGTERM, up to `grace` to exit, then SIGKILL; always reaps the child and closes the pipes.
    func stop(grace: Duration) {
        if isRunning {
            kill(pid, SIGTERM)
            if !waitForExit(timeout: grace) {
                kill(pid, SIGKILL)
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                waitStatus = status
            }
        }
        closeStandardInput()
        if let standardOutput { close(standardOutput) }
        standardOutput = nil
    }

    private static func error(_ what: String, _ code: Int32) -> BenchmarkError {
        BenchmarkError(workload: "child process", problem: "\(what): \(String(cString: strerror(code)))")
    }
}
