import Glibc
import ParleySampleKit
import Synchronization

/// Signals the main loop acts on; set by the handlers, read and cleared by the loop.
let resizeRequested = Atomic<Bool>(false)
let terminationRequested = Atomic<Int32>(0)

/// The terminal settings before raw mode, for the crash handlers (which may only make
/// async-signal-safe calls: `tcsetattr` and `write` are).
nonisolated(unsafe) private var savedSettings = termios()
nonisolated(unsafe) private var rawModeActive = false

/// Leaves the alternate screen and shows the cursor again.
private let restoreSequence: [UInt8] = Array("\u{1B}[?2026l\u{1B}[0m\u{1B}[?25h\u{1B}[?1049l".utf8)

/// The controlling terminal: raw mode (no echo, no line editing, no signal keys: Ctrl-C
/// arrives as a key), the alternate screen, its size, and its restoration on every way
/// out: `restore()` on a normal exit or an error, SIGTERM/SIGHUP/SIGINT through the main
/// loop, and a crash through a handler that restores it before the default action.
final class Terminal {
    private var active = false

    /// Fails unless stdin and stdout are a terminal (checked before anything else happens).
    static func check() throws(SampleError) {
        guard isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 else {
            throw SampleError.configuration("parley-chat is interactive: run it in a terminal (stdin and stdout must be a tty)")
        }
    }

    init() throws(SampleError) {
        try Self.check()
        guard tcgetattr(STDIN_FILENO, &savedSettings) == 0 else {
            throw SampleError.configuration("cannot read the terminal settings: \(String(cString: strerror(errno)))")
        }
        var raw = savedSettings
        cfmakeraw(&raw)
        guard tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0 else {
            throw SampleError.configuration("cannot put the terminal in raw mode: \(String(cString: strerror(errno)))")
        }
        active = true
        rawModeActive = true
        Self.installSignalHandlers()
        write("\u{1B}[?1049h\u{1B}[H\u{1B}[2J")
    }

    deinit { restore() }

    /// Puts the terminal back as it was. Safe to call more than once.
    func restore() {
        guard active else { return }
        active = false
        rawModeActive = false
        restoreSequence.withUnsafeBytes { _ = Glibc.write(STDOUT_FILENO, $0.baseAddress, $0.count) }
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &savedSettings)
    }

    /// Columns and rows now (80x24 when the terminal does not say).
    var size: (width: Int, height: Int) {
        var window = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &window) == 0, window.ws_col > 0, window.ws_row > 0 else { return (80, 24) }
        return (Int(window.ws_col), Int(window.ws_row))
    }

    /// Writes all of `text`, retrying short writes.
    func write(_ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(STDOUT_FILENO, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return
            }
            bytes = bytes.dropFirst(written)
        }
    }

    private static func installSignalHandlers() {
        signal(SIGPIPE, SIG_IGN)
        signal(SIGWINCH) { _ in resizeRequested.store(true, ordering: .relaxed) }
        for number in [SIGTERM, SIGHUP, SIGINT] {
            signal(number) { received in terminationRequested.store(received, ordering: .relaxed) }
        }
        for number in [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP] {
            signal(number) { received in
                if rawModeActive {
                    restoreSequence.withUnsafeBytes { _ = Glibc.write(STDOUT_FILENO, $0.baseAddress, $0.count) }
                    tcsetattr(STDIN_FILENO, TCSAFLUSH, &savedSettings)
                    rawModeActive = false
                }
                signal(received, SIG_DFL)
                raise(received)
            }
        }
    }
}
