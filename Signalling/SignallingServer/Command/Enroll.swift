import ArgumentParser
import Foundation
import SignallingCore
import SignallingServer

/// `parley-signal enroll`: makes a one-time enrollment code. Only its digest and expiry are
/// stored; the code itself is printed once, on stdout.
struct Enroll: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a one-time enrollment code for a device (printed on stdout).",
        discussion: """
            A device presenting the code in its auth is added to the allowlist, once, before \
            the code expires. Codes apply with enrollment = allowlist. The state directory keeps \
            only BLAKE2b-256 of the code; a running server is sent SIGHUP.
            """
    )

    @OptionGroup var state: StateOptions

    @Option(help: ArgumentHelp("Lifetime: <n>s, <n>m, <n>h or <n>d, at most 7d.", valueName: "duration"))
    var ttl = ConfigFile.formatDuration(OperatingLimits.defaultEnrollmentTTL)

    func validate() throws { _ = try lifetime() }

    func run() throws {
        let seconds = try lifetime().components.seconds
        let (store, options) = try state.openStateDirectory()
        let code = EnrollmentCodes.generate()
        let now = Int64(Date().timeIntervalSince1970)
        let expiry = now + seconds
        try store.addEnrollmentCode(digest: EnrollmentCodes.digest(code), expiresAt: expiry)
        print(code)
        let expiryText = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(expiry)))
        Console.note("expires \(expiryText) (in \(ConfigFile.formatDuration(.seconds(seconds))))")
        Console.note(RunningServer.reload(store))
        if options.enrollment == .open {
            Console.note("note: enrollment is open, so codes are not needed; they apply with enrollment = allowlist")
        }
    }

    /// The --ttl value: whole seconds, 1s to `OperatingLimits.maxEnrollmentTTL`.
    private func lifetime() throws -> Duration {
        guard let duration = ConfigFile.parseDuration(ttl), duration.components.attoseconds == 0,
              duration >= .seconds(1), duration <= OperatingLimits.maxEnrollmentTTL else {
            throw ValidationError("--ttl \(ttl): expected whole seconds from 1s to \(ConfigFile.formatDuration(OperatingLimits.maxEnrollmentTTL)), e.g. 10m, 2h or 7d")
        }
        return duration
    }
}
