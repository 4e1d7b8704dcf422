/// Operating constants of `parley-signal` (files, sizes, durations it accepts), kept in
/// one place. Protocol limits live in `SignalLimits` (ParleyProtocol) and the core's
/// tunable limits in `ServerConfiguration` (SignallingCore); nothing here changes the wire.
public enum OperatingLimits {
    // MARK: Files

    /// Largest state file read (allowlist, enrollment codes, certificate, pid file):
    /// a larger one is refused rather than read into memory.
    public static let maxStateFileBytes = 16 * 1024 * 1024
    /// Largest private key PEM read into protected memory (an RSA-8192 key is about 6.4 KB).
    public static let maxPrivateKeyBytes = 64 * 1024
    /// Largest config file and longest line in it.
    public static let maxConfigFileBytes = 64 * 1024
    public static let maxConfigLineBytes = 4096
    /// Most one-time enrollment codes stored at once.
    public static let maxEnrollmentCodes = 100_000

    /// Permissions of the state directory and of every file written into it.
    public static let stateDirectoryMode: UInt32 = 0o700
    public static let stateFileMode: UInt32 = 0o600

    // MARK: First-start certificate

    /// Common name of the self-signed certificate generated on first start.
    public static let certificateCommonName = "parley-signal"
    /// Validity of that certificate. Devices pin its SHA-256, not its dates, but TLS
    /// stacks still look at them; a new certificate means a new pin for every device.
    public static let certificateValidityDays: Int32 = 3650

    // MARK: Enrollment codes

    /// Lifetime of a code from `parley-signal enroll` unless `--ttl` says otherwise, and
    /// the longest allowed.
    public static let defaultEnrollmentTTL: Duration = .seconds(10 * 60)
    public static let maxEnrollmentTTL: Duration = .seconds(7 * 24 * 3600)

    // MARK: Process

    /// File descriptors the server needs beyond its sockets (listeners, metrics, state
    /// files, stdio, lws internals); `serve` warns when the soft RLIMIT_NOFILE cannot hold
    /// `maxConnections + refusalHeadroom + fileDescriptorMargin`.
    public static let fileDescriptorMargin = 64
    /// When the hard RLIMIT_NOFILE is unlimited, the soft limit is raised to this.
    public static let fileDescriptorCeiling = 1 << 20
    /// `/proc/<pid>/comm` of a running server: only a process of this name is sent SIGHUP
    /// by `device` and `enroll`, so a stale pid file never signals a stranger.
    public static let processName = "parley-signal"
}
