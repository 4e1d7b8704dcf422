import Glibc

/// What Linux's /proc says about a process: CPU time, memory, descriptors, limits.
enum ProcFS {
    /// User plus system CPU seconds of every thread of `pid` so far (/proc/PID/stat fields
    /// 14 and 15, in clock ticks).
    static func cpuSeconds(of pid: pid_t) -> Double? {
        guard let stat = read("/proc/\(pid)/stat"), let end = stat.lastIndex(of: ")") else { return nil }
        // After "pid (comm)" the fields start at 3 (state): utime is field 14, stime 15.
        let fields = stat[stat.index(after: end)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// This process's own user plus system CPU seconds (every thread).
    static func ownCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// CPU seconds the whole machine spent, summed over its processors (/proc/stat, "cpu" line).
    struct MachineCPU: Sendable {
        /// user, nice, system, irq and softirq time.
        let busy: Double
        /// Time the hypervisor ran something else while this machine wanted to run.
        let steal: Double

        static func - (later: MachineCPU, earlier: MachineCPU) -> MachineCPU {
            MachineCPU(busy: later.busy - earlier.busy, steal: later.steal - earlier.steal)
        }
    }

    static func machineCPU() -> MachineCPU? {
        guard let line = read("/proc/stat")?.split(separator: "\n").first, line.hasPrefix("cpu ") else { return nil }
        let ticks = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard ticks.count >= 8 else { return nil }
        let perSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        // user nice system idle iowait irq softirq steal
        return MachineCPU(busy: (ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6]) / perSecond, steal: ticks[7] / perSecond)
    }

    /// Resident and peak resident memory (VmRSS, VmHWM) in KiB.
    struct Memory: Codable, Sendable {
        let residentKiB: Int
        let peakResidentKiB: Int
    }

    static func memory(of pid: pid_t) -> Memory? {
        let status = fields("/proc/\(pid)/status")
        guard let resident = status["VmRSS"], let peak = status["VmHWM"] else { return nil }
        return Memory(residentKiB: resident, peakResidentKiB: peak)
    }

    /// Counts of system calls and scheduling a process has made so far.
    struct Activity: Sendable {
        /// read-like and write-like system calls (/proc/PID/io `syscr`, `syscw`).
        let readCalls: Int
        let writeCalls: Int
        /// Voluntary plus involuntary context switches of all its threads.
        let contextSwitches: Int

        static func - (later: Activity, earlier: Activity) -> Activity {
            Activity(readCalls: later.readCalls - earlier.readCalls, writeCalls: later.writeCalls - earlier.writeCalls,
                     contextSwitches: later.contextSwitches - earlier.contextSwitches)
        }
    }

    /// Reads /proc/PID/io (same user, or root) and the process-wide switch counts of its threads.
    static func activity(of pid: pid_t) -> Activity? {
        let io = fields("/proc/\(pid)/io")
        guard let reads = io["syscr"], let writes = io["syscw"] else { return nil }
        let switches = (entries(of: "/proc/\(pid)/task") ?? []).reduce(0) { sum, thread in
            let status = fields("/proc/\(pid)/task/\(thread)/status")
            return sum + (status["voluntary_ctxt_switches"] ?? 0) + (status["nonvoluntary_ctxt_switches"] ?? 0)
        }
        return Activity(readCalls: reads, writeCalls: writes, contextSwitches: switches)
    }

    /// `name: value` lines with a whole-number value (/proc/PID/status, /proc/PID/io).
    private static func fields(_ path: String) -> [Substring: Int] {
        var values: [Substring: Int] = [:]
        for line in (read(path) ?? "").split(separator: "\n") {
            let parts = line.split(whereSeparator: { $0 == ":" || $0 == " " || $0 == "\t" })
            if parts.count >= 2, let value = Int(parts[1]) { values[parts[0]] = value }
        }
        return values
    }

    /// Open file descriptors of `pid` (entries of /proc/PID/fd).
    static func openDescriptors(of pid: pid_t) -> Int? { entries(of: "/proc/\(pid)/fd")?.count }

    /// Names in a directory, without "." and "..".
    private static func entries(of path: String) -> [String]? {
        guard let directory = opendir(path) else { return nil }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// The soft and hard RLIMIT_NOFILE of `pid` ("Max open files" in /proc/PID/limits); nil
    /// stands for unlimited.
    static func openFileLimit(of pid: pid_t) -> (soft: Int?, hard: Int?)? {
        guard let limits = read("/proc/\(pid)/limits"),
              let line = limits.split(separator: "\n").first(where: { $0.hasPrefix("Max open files") }) else { return nil }
        let values = line.dropFirst("Max open files".count).split(separator: " ")
        guard values.count >= 2 else { return nil }
        return (Int(values[0]), Int(values[1]))
    }

    /// The ephemeral port range connect() picks local ports from.
    static func ephemeralPorts() -> ClosedRange<Int>? {
        guard let text = read("/proc/sys/net/ipv4/ip_local_port_range") else { return nil }
        let bounds = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap { Int($0) }
        guard bounds.count == 2, bounds[0] <= bounds[1] else { return nil }
        return bounds[0]...bounds[1]
    }

    /// The 1, 5 and 15 minute load averages (/proc/loadavg), as printed there.
    static func loadAverage() -> String? {
        read("/proc/loadavg").map { $0.split(separator: " ").prefix(3).joined(separator: " ") }
    }

    /// A small text file read to its end (/proc files report a size of 0, so no stat).
    static func read(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes.append(contentsOf: chunk[..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// CLOCK_MONOTONIC in nanoseconds: the clock the latency stamps use (one machine, so one
/// clock for sender and receiver).
enum Monotonic {
    static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    /// Sleeps until `deadline` (CLOCK_MONOTONIC nanoseconds); returns at once if it has passed.
    static func sleep(until deadline: UInt64) {
        var spec = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &spec, nil) == EINTR {}
    }

    static func nanoseconds(_ seconds: Double) -> UInt64 { UInt64(max(0, seconds) * 1e9) }
}
