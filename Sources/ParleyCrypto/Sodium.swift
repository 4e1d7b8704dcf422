import CSodium

/// libsodium must be initialised once before any other call. `sodium_init` is
/// idempotent and thread-safe; a global `let` is initialised exactly once.
private let sodiumInitResult: Int32 = sodium_init()

/// Makes sure libsodium is ready. Every entry point that reaches libsodium
/// calls this first; it costs one load after the first call.
@inline(__always)
func ensureSodium() {
    // sodium_init returns 0 on success, 1 if already initialised, -1 on failure.
    // Failure means the process cannot get randomness: nothing secure can run.
    precondition(sodiumInitResult >= 0, "libsodium failed to initialise (no entropy source?)")
}
