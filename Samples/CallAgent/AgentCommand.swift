import ArgumentParser
import CSodium
import Glibc
import ParleyCrypto
import ParleySampleKit

/// `parley-agent`: a headless Parley device for bots and services. The entry point (an async
/// root command needs `@main`; a main.swift would run ArgumentParser's synchronous `main`).
@main
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parley-agent",
        abstract: "A headless Parley device: answers or places end-to-end encrypted calls, plays and records audio, echoes or pipes messages.",
        discussion: """
        stdout carries one JSON object per line (events); stderr carries human-readable logs.
        Secrets (keys, security codes) are never printed.

        Exit codes:
          0   ok (every call ended by a hang-up; serve stopped by SIGINT/SIGTERM)
          64  usage: a bad flag or argument
          66  an input file (--play, --send, --code-file) cannot be read or is malformed
          69  the signalling server is unreachable (within --connect-timeout) or refused us
          74  an output (--record, --receive-dir) cannot be written
          75  the call was rejected, or the peer was busy, offline, or did not answer
          76  the call failed otherwise (ICE, connection lost, protocol)
          77  security code mismatch
          78  configuration error (config file, server, pin, identity, security code)
        """,
        subcommands: [ServeCommand.self, CallCommand.self],
        defaultSubcommand: ServeCommand.self
    )
}

/// `parley-agent [serve]`: stay online and answer calls by policy, one at a time.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Stay online and answer incoming calls by policy, one at a time (others are rejected while busy)."
    )

    @OptionGroup var options: AgentOptions
    @Option(help: ArgumentHelp("Which calls to answer: all, allowlist (--allow), never.", valueName: "policy"))
    var answer: AnswerPolicy?
    @Option(help: ArgumentHelp("A device ID answered with --answer allowlist (repeatable; config key allow).", valueName: "device"))
    var allow: [String] = []
    @Option(help: ArgumentHelp("Exit after this many answered calls have ended (default: run until stopped).", valueName: "n"))
    var calls: Int?

    func run() async throws {
        try await AgentMain.run(options: options, defaultMessages: .echo) { settings, file in
            let policyText = answer?.rawValue ?? file?["answer"] ?? AnswerPolicy.all.rawValue
            guard let policy = AnswerPolicy(rawValue: policyText) else {
                throw AgentFailure(.configuration, "answer = \(policyText): expected all, allowlist or never")
            }
            settings.answer = policy
            let allowed = allow.isEmpty ? (file?.values("allow").map(\.value) ?? []) : allow
            for text in allowed {
                do { settings.allowlist.insert(try DeviceID(printable: text)) } catch {
                    throw AgentFailure(.configuration, "allow \(text): not a device ID (\(error))")
                }
            }
            if policy == .allowlist, settings.allowlist.isEmpty {
                throw AgentFailure(.configuration, "--answer allowlist needs at least one --allow DEVICE")
            }
            if let limit = try calls ?? file?["calls"].map({ text in
                guard let value = Int(text) else { throw AgentFailure(.configuration, "calls = \(text): expected a number") }
                return value
            }) {
                guard limit >= 1 else { throw AgentFailure(.usage, "--calls must be at least 1") }
                settings.callLimit = limit
            }
        } body: { agent in
            await agent.serve()
        }
    }
}

/// `parley-agent call DEVICE`: call, run the call, exit with its status.
struct CallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call",
        abstract: "Call a device, run the call, exit.",
        discussion: "Without --duration the call lasts until the peer hangs up, except when there is queued work "
            + "(--send-message, --send, --play, --expect-messages): then it hangs up --linger seconds after all of it is "
            + "done (messages and file acknowledged, the WAV played, the messages expected received)."
    )

    @Argument(help: ArgumentHelp("The device to call (its printable ID).", valueName: "device"))
    var device: String
    @OptionGroup var options: AgentOptions
    @Option(help: ArgumentHelp("Also wait for this many messages from the peer before hanging up.", valueName: "n"))
    var expectMessages: Int?
    @Option(help: ArgumentHelp("Seconds to stay after the queued work is done (default 1), for late replies.", valueName: "seconds"))
    var linger: Double?

    func run() async throws {
        let peer: DeviceID
        do { peer = try DeviceID(printable: device) } catch {
            throw ValidationError("\(device) is not a device ID: \(error)")
        }
        try await AgentMain.run(options: options, defaultMessages: .off) { settings, file in
            if settings.connectTimeout == nil { settings.connectTimeout = AgentSettings.callConnectTimeout }
            if let expectMessages {
                guard expectMessages >= 0 else { throw AgentFailure(.usage, "--expect-messages must be 0 or more") }
                settings.expectMessages = expectMessages
            }
            if let text = linger.map({ "\($0)" }) ?? file?["linger"] {
                guard let value = Double(text), value >= 0, value <= 3600 else {
                    throw AgentFailure(.usage, "--linger must be 0 to 3600 seconds")
                }
                settings.linger = .milliseconds(Int64(value * 1000))
            }
        } body: { agent in
            await agent.call(peer)
        }
    }
}

/// What both subcommands do around their own part: resolve the settings, start the
/// device, run, stop, and turn every failure into one line and an exit status.
enum AgentMain {
    static func run(options: AgentOptions, defaultMessages: MessageMode,
                    configure: (inout AgentSettings, KeyValueFile?) throws -> Void,
                    body: (Agent) async -> AgentExit) async throws {
        signal(SIGPIPE, SIG_IGN)
        let events = EventWriter()
        guard sodium_init() >= 0 else {
            events.error(.configuration, "libsodium could not be initialised")
            throw ExitCode(AgentExit.configuration.rawValue)
        }
        let shutdown = ShutdownFlag(events: events)
        var agent: Agent?
        let status: AgentExit
        do {
            let file: KeyValueFile?
            do { file = try options.loadFile() } catch let error as SampleError {
                if case .file = error { throw AgentFailure(.inputFile, "--config \(error)") }
                throw AgentFailure(.configuration, "\(error)")
            }
            var settings = try options.resolve(file: file, defaultMessages: defaultMessages)
            try configure(&settings, file)
            let started = try Agent(settings: settings, events: events, shutdown: shutdown)
            agent = started
            try await started.start(timeout: settings.connectTimeout)
            status = await body(started)
        } catch let failure as AgentFailure {
            agent?.stop()
            if failure.status == .ok { throw ExitCode.success }
            events.error(failure.status, failure.message)
            throw ExitCode(failure.status.rawValue)
        }
        agent?.stop()
        if status != .ok { throw ExitCode(status.rawValue) }
    }
}
