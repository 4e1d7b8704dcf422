import ArgumentParser
import Glibc
import Parley
import ParleyCrypto
import ParleyProtocol
import ParleySampleKit

/// What the agent does with the messages of a call.
enum MessageMode: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// Every message received is sent back unchanged.
    case echo
    /// Every message received goes, as one line, to the stdin of the --pipe command; every line it prints is sent back.
    case pipe
    /// Messages are only reported.
    case off
}

/// Which incoming calls `serve` answers.
enum AnswerPolicy: String, ExpressibleByArgument, CaseIterable, Sendable {
    case all
    case allowlist
    case never
}

/// The options `serve` and `call` share: ClientOptions (identity, server, pin, realm, ...)
/// and what to do in a call. Each can also come from the --config file (a flag wins).
struct AgentOptions: ParsableArguments {
    /// The config-file keys of the agent, beside `ClientOptions.fileKeys`.
    static let fileKeys: Set<String> = ["code_file", "answer", "allow", "messages", "pipe", "receive_dir", "play", "tone",
                                        "audio", "record", "duration", "calls", "connect_timeout", "linger", "stats_interval"]
    static let repeatableKeys: Set<String> = ["allow"]
    /// The environment variable a security code may come from (keeps it out of `ps` and shell history).
    static let codeVariable = "PARLEY_SECURITY_CODE"

    @OptionGroup var client: ClientOptions

    @Option(help: ArgumentHelp("The security code agreed with the other side (visible in `ps`: prefer --code-file or $\(codeVariable)). None: the SAS is logged for comparison.", valueName: "code"))
    var code: String?
    @Option(help: ArgumentHelp("A file holding the security code (first line).", valueName: "file"))
    var codeFile: String?
    @Option(help: ArgumentHelp("Messages: echo (send each back), pipe (through --pipe), off (only report). Default: echo for serve, off for call.", valueName: "mode"))
    var messages: MessageMode?
    @Option(help: ArgumentHelp("The shell command of --messages pipe, started per call: each message is one line on its stdin, each line it prints is sent back.", valueName: "command"))
    var pipe: String?
    @Option(help: ArgumentHelp("A file to send once the call is connected.", valueName: "file"))
    var send: String?
    @Option(help: ArgumentHelp("A message to send once connected (repeatable; sent in order).", valueName: "text"))
    var sendMessage: [String] = []
    @Option(help: ArgumentHelp("Save received files in this directory (default: report them, do not save).", valueName: "dir"))
    var receiveDir: String?
    @Option(help: ArgumentHelp("A WAV file to play into the call (16-bit PCM or 32-bit float, mono or stereo, 8-48 kHz).", valueName: "file.wav"))
    var play: String?
    @Option(help: ArgumentHelp("The frequency of the test tone sent when there is no --play (default \(Int(AgentSettings.defaultToneHertz)) Hz).", valueName: "hz"))
    var tone: Double?
    @Flag(help: "Send no audio (audio is still negotiated, so received audio can be recorded).")
    var noAudio = false
    @Option(help: ArgumentHelp("Record received audio to this WAV file (48 kHz, 16-bit, mono).", valueName: "file.wav"))
    var record: String?
    @Option(help: ArgumentHelp("Hang up this many seconds after the call connected.", valueName: "seconds"))
    var duration: Double?
    @Option(help: ArgumentHelp("How long to wait to get online before exiting with status 69 (default: 15 s for call, forever for serve).", valueName: "seconds"))
    var connectTimeout: Double?
    @Option(help: ArgumentHelp("Emit a stats event this often during a call (default: only when it ends).", valueName: "seconds"))
    var statsInterval: Double?
    @Flag(help: "Log the library's informational messages on stderr too.")
    var verbose = false

    /// Parses the config file (if any) with every key the agent knows.
    func loadFile() throws -> KeyValueFile? {
        guard let path = client.config else { return nil }
        return try KeyValueFile.load(path: path, keys: ClientOptions.fileKeys.union(Self.fileKeys),
                                     repeatable: ClientOptions.repeatableKeys.union(Self.repeatableKeys))
    }

    /// Everything resolved against `file`, checked, ready to run. `defaultMessages` is the
    /// subcommand's default mode.
    func resolve(file: KeyValueFile?, defaultMessages: MessageMode) throws -> AgentSettings {
        let resolved: ClientOptions.Resolved
        do { resolved = try client.resolve(file: file) } catch { throw AgentFailure(.configuration, "\(error)") }
        var settings = AgentSettings(client: resolved)
        settings.verbose = verbose
        settings.securityCode = try resolveCode(file: file)

        let modeText = messages?.rawValue ?? file?["messages"]
        if let modeText {
            guard let mode = MessageMode(rawValue: modeText) else {
                throw AgentFailure(.configuration, "messages = \(modeText): expected echo, pipe or off")
            }
            settings.messages = mode
        } else {
            settings.messages = defaultMessages
        }
        settings.pipeCommand = pipe ?? file?["pipe"]
        if settings.messages == .pipe, settings.pipeCommand?.isEmpty ?? true {
            throw AgentFailure(.usage, "--messages pipe needs --pipe \"shell command\"")
        }
        settings.sendMessages = sendMessage
        for text in sendMessage where text.utf8.count > ReliableConstants.maxMessageBytes {
            throw AgentFailure(.usage, "--send-message: a message is at most \(ReliableConstants.maxMessageBytes) bytes")
        }
        if let send {
            var info = stat()
            guard stat(send, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
                throw AgentFailure(.inputFile, "--send \(send): not a readable regular file")
            }
            settings.sendFile = send
        }
        settings.receiveDirectory = receiveDir ?? file?["receive_dir"]
        if let directory = settings.receiveDirectory {
            var info = stat()
            guard stat(directory, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR, access(directory, W_OK) == 0 else {
                throw AgentFailure(.outputFile, "--receive-dir \(directory): not a writable directory")
            }
        }
        settings.recordPath = record ?? file?["record"]

        let audioOff = noAudio || file?["audio"] == "off"
        if let audioText = file?["audio"], audioText != "on", audioText != "off" {
            throw AgentFailure(.configuration, "audio = \(audioText): expected on or off")
        }
        if let playPath = play ?? file?["play"] {
            if audioOff { throw AgentFailure(.usage, "--play and --no-audio contradict each other") }
            let audio: WAVAudio
            do { audio = try WAVFile.load(path: playPath) } catch { throw AgentFailure(.inputFile, "--play \(error)") }
            settings.audio = .play(path: playPath, samples: LinearResampler.resample(audio.samples, from: audio.sampleRate,
                                                                                     to: OpusCodec.sampleRate))
        } else if audioOff {
            settings.audio = .none
        } else {
            let hertz = try tone ?? number(file, "tone") ?? AgentSettings.defaultToneHertz
            guard (20...20_000).contains(hertz) else { throw AgentFailure(.usage, "--tone must be 20 to 20000 Hz") }
            settings.audio = .tone(hertz: hertz)
        }
        settings.duration = try seconds(duration, file, "duration")
        settings.connectTimeout = try seconds(connectTimeout, file, "connect_timeout")
        settings.statsInterval = try seconds(statsInterval, file, "stats_interval")
        return settings
    }

    /// --code, else --code-file, else $PARLEY_SECURITY_CODE, else the config's code_file;
    /// checked now (so a bad code is a configuration error, not a failed call).
    private func resolveCode(file: KeyValueFile?) throws -> String? {
        var text: String?
        if let code {
            text = code
        } else if let path = codeFile ?? (getenv(Self.codeVariable) == nil ? file?["code_file"] : nil) {
            do {
                let content = try readTextFile(path: path, limit: 4096)
                text = String(content.split(separator: "\n", omittingEmptySubsequences: false).first ?? "").trimmingSpaces()
            } catch {
                throw AgentFailure(.inputFile, "security code file: \(error)")
            }
            guard !(text ?? "").isEmpty else { throw AgentFailure(.inputFile, "security code file \(path) is empty") }
        } else if let variable = getenv(Self.codeVariable) {
            text = String(cString: variable)
        }
        guard let text, !text.isEmpty else { return nil }
        do {
            let parsed = try SecurityCode.parse(text)
            parsed?.erase()
            return parsed == nil ? nil : text
        } catch {
            throw AgentFailure(.configuration, "security code: \(error)")
        }
    }

    private func seconds(_ flag: Double?, _ file: KeyValueFile?, _ key: String) throws -> Duration? {
        guard let value = try flag ?? number(file, key) else { return nil }
        guard value > 0, value <= 86_400 * 365 else { throw AgentFailure(.usage, "--\(key.replacingUnderscores()) must be a positive number of seconds") }
        return .milliseconds(Int64(value * 1000))
    }

    private func number(_ file: KeyValueFile?, _ key: String) throws -> Double? {
        guard let file, let text = file[key] else { return nil }
        guard let value = Double(text) else { throw AgentFailure(.configuration, "\(file.path): \(key) = \(text): expected a number") }
        return value
    }
}

extension String {
    func replacingUnderscores() -> String { String(map { $0 == "_" ? "-" : $0 }) }
}

/// What the agent plays into a call.
enum AudioSource: Sendable {
    case none
    case tone(hertz: Double)
    /// Samples already at 48 kHz mono.
    case play(path: String, samples: [Float])
}

/// The agent's resolved configuration.
struct AgentSettings: Sendable {
    static let defaultToneHertz: Double = 440
    static let callConnectTimeout: Duration = .seconds(15)

    var client: ClientOptions.Resolved
    var verbose = false
    var securityCode: String?
    var messages: MessageMode = .off
    var pipeCommand: String?
    var sendMessages: [String] = []
    var sendFile: String?
    var receiveDirectory: String?
    var recordPath: String?
    var audio: AudioSource = .none
    var duration: Duration?
    var connectTimeout: Duration?
    var statsInterval: Duration?
    // Serve only.
    var answer: AnswerPolicy = .all
    var allowlist: Set<DeviceID> = []
    var callLimit: Int?
    // Call only.
    var expectMessages: Int?
    var linger: Duration = .seconds(1)

    init(client: ClientOptions.Resolved) { self.client = client }
}
