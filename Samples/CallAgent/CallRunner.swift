import Glibc
import Parley
import ParleyCrypto
import ParleyProtocol
import ParleySampleKit
import Synchronization

/// Runs one call from invite (or ring) to its end: accepts an incoming call, reports its
/// events, plays and records audio, handles messages and files, decides when to hang up,
/// and reports the stats and the end (with the measured key erasure). Returns the call's
/// exit status.
final class CallRunner: Sendable {
    /// How often the runner checks whether to hang up.
    static let tick: Duration = .milliseconds(20)

    let call: Call
    let settings: AgentSettings
    let events: EventWriter
    let shutdown: ShutdownFlag
    /// True for `parley-agent call`: hang up once queued work is done (when there is some).
    let hangUpWhenDone: Bool
    /// The live-secrets count before the call existed.
    let liveSecretsBefore: Int
    /// When the invite was sent or the ring arrived.
    let started: ContinuousClock.Instant

    private let state = Mutex(RunState())
    private let audioSender = AudioSender()
    private var callID: JSONValue { .string("\(call.id)") }

    struct RunState {
        var pendingDeliveries: Set<ReliableMessageID> = []
        var queuedMessagesSent = false
        var fileDone = false
        var playDone = false
        var messagesSent = 0
        var messagesReceived = 0
        var audioFramesReceived = 0
        var audioFramesConcealed = 0
        var lastState: String?
        var lastPath: CandidatePair?
        var outgoingFile: (id: ReliableFileID, name: String, size: UInt64)?
        var incomingFiles: [ReliableFileID: IncomingFile] = [:]
    }

    init(call: Call, settings: AgentSettings, events: EventWriter, shutdown: ShutdownFlag, hangUpWhenDone: Bool,
         liveSecretsBefore: Int, started: ContinuousClock.Instant) {
        self.call = call
        self.settings = settings
        self.events = events
        self.shutdown = shutdown
        self.hangUpWhenDone = hangUpWhenDone
        self.liveSecretsBefore = liveSecretsBefore
        self.started = started
    }

    /// The media the agent offers or answers with: Opus only (so audio is Opus or nothing) and messages.
    static let media = MediaPreferences(audio: AudioPreferences(codecs: [.opus]), messages: .default)

    /// Runs the call to its end. For an incoming call, `accept` is done here.
    func run(accept: Bool) async -> AgentExit {
        let stream = call.events()
        if !call.state.isEnded, call.state != .connected { emitState("\(call.state)") }
        let eventTask = Task { await reportEvents(stream) }
        let received = call.received()
        let watchdog = Task {
            while !Task.isCancelled, call.end == nil {
                if shutdown.isSet { call.hangUp() }
                try? await Task.sleep(for: Self.tick)
            }
        }
        defer { watchdog.cancel() }
        if accept {
            do { try call.accept(securityCode: settings.securityCode, media: Self.media) } catch {
                events.log("accepting the call failed: \(error)")
            }
        }
        var setupMilliseconds: Int?
        var recorder: AudioRecorder?
        var tasks: [Task<Void, Never>] = []
        var pipe: PipeProcess?
        var failure: AgentFailure?
        do {
            try await call.connected()
            setupMilliseconds = Self.milliseconds(ContinuousClock.now - started)
            emitState("connected")
            (recorder, pipe, tasks) = try startWork(received: received, setupMilliseconds: setupMilliseconds)
        } catch let error as AgentFailure {
            failure = error
            events.error(error.status, error.message)
        } catch {
            // The call ended before it connected: reported below from call.end.
        }
        let connectedAt = ContinuousClock.now
        if failure == nil, call.end == nil { await waitForEnd(connectedAt: connectedAt) }

        let statsBeforeHangUp = call.stats
        call.hangUp()
        let liveSecretsAfter = SecretBytes.liveCount
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
        await pipe?.stop()
        if let recorder {
            do { try recorder.finish() } catch {
                let failed = error as? AgentFailure ?? AgentFailure(.outputFile, "\(error)")
                events.error(failed.status, failed.message)
                failure = failure ?? failed
            }
            state.withLock { $0.audioFramesConcealed = recorder.concealed }
            events.emit("recording", [("call", callID), ("path", .string(recorder.path)),
                                      ("samples", .int(recorder.samplesWritten)), ("sample_rate", .int(OpusCodec.sampleRate)),
                                      ("concealed_frames", .int(recorder.concealed)),
                                      ("late_frames", .int(recorder.jitterStats.late))])
        }
        closeIncomingFiles()
        eventTask.cancel()
        await eventTask.value

        let end = call.end ?? .hungUpLocally
        emitState("ended")
        emitStats(statsBeforeHangUp, setupMilliseconds: setupMilliseconds,
                  durationMilliseconds: setupMilliseconds == nil ? 0 : Self.milliseconds(ContinuousClock.now - connectedAt))
        let status = failure?.status ?? AgentExit.forEnd(end)
        var members: [(String, JSONValue)] = [("call", callID), ("peer", .string(call.peer.printable)),
                                              ("reason", .string("\(end)")), ("code", .int(Int(status.rawValue)))]
        if case let .failed(error) = end { members.append(("error", .int(Int(error.code)))) }
        members += [("keys_erased", .bool(liveSecretsAfter == liveSecretsBefore)),
                    ("live_secrets_before", .int(liveSecretsBefore)), ("live_secrets_after", .int(liveSecretsAfter))]
        events.emit("ended", members)
        events.log("call \(call.id) with \(call.peer.fingerprint) ended: \(end)")
        return status
    }

    // MARK: Events

    private func reportEvents(_ stream: AsyncStream<CallEvent>) async {
        for await event in stream {
            switch event {
            case let .stateChanged(state):
                if case .ended = state { continue }  // reported once everything is closed
                if state == .connected { continue }  // reported by `run` with the work it starts
                emitState("\(state)")
            case let .secured(sas, _):
                events.emit("sas", [("call", callID), ("sas", .string("\(sas)")), ("code_used", .bool(settings.securityCode != nil))])
                if settings.securityCode == nil {
                    events.log("no security code: compare the SAS with the other side: \(sas) (hang up if it differs)")
                }
            case let .negotiated(media):
                var members: [(String, JSONValue)] = [("call", callID)]
                if let audio = media.audio, let codec = audio.codecs.first {
                    members.append(("audio", .string("\(codec.name)/\(codec.clockRate) pt \(codec.payloadType)")))
                }
                members.append(("messages", .bool(media.messages != nil)))
                events.emit("media", members)
            case let .pathSelected(pair):
                let isNew = state.withLock { state in
                    defer { state.lastPath = pair }
                    return state.lastPath != pair
                }
                guard isNew else { continue }
                events.emit("path", [("call", callID), ("type", .string(pair.isRelayed ? "relayed" : "direct")),
                                     ("local", .string("\(pair.local)")), ("remote", .string("\(pair.remote)"))])
                events.log("path: \(pair)")
            case .ended:
                break
            }
        }
    }

    private func emitState(_ name: String) {
        let isNew = state.withLock { state in
            defer { state.lastState = name }
            return state.lastState != name
        }
        if isNew { events.emit("state", [("call", callID), ("state", .string(name))]) }
    }

    private func emitStats(_ stats: CallStats, setupMilliseconds: Int?, durationMilliseconds: Int) {
        let counts = state.withLock { $0 }
        var members: [(String, JSONValue)] = [
            ("call", callID),
            ("setup_ms", setupMilliseconds.map { .int($0) } ?? .null),
            ("duration_ms", .int(durationMilliseconds)),
            ("frames_sent", .int(stats.framesSent)), ("frames_received", .int(stats.framesReceived)),
            ("bytes_sent", .int(Int(stats.ice?.bytesSent ?? 0))), ("bytes_received", .int(Int(stats.ice?.bytesReceived ?? 0))),
            ("audio_frames_sent", .int(audioSender.framesSent)), ("audio_bytes_sent", .int(audioSender.bytesSent)),
            ("audio_frames_received", .int(counts.audioFramesReceived)),
            ("audio_frames_concealed", .int(counts.audioFramesConcealed)),
            ("messages_sent", .int(counts.messagesSent)), ("messages_received", .int(counts.messagesReceived)),
            ("refused_frames", .int(stats.refusedFrames)),
        ]
        if let rtt = stats.reliable?.smoothedRTTNanoseconds { members.append(("rtt_ms", .double(Double(rtt) / 1e6))) }
        events.emit("stats", members)
    }

    // MARK: Work

    /// Starts what runs while the call is connected: the data reader (messages, audio,
    /// files), the audio sender, the queued sends, the pipe command and periodic stats.
    private func startWork(received: CallDataStream, setupMilliseconds: Int?) throws -> (AudioRecorder?, PipeProcess?, [Task<Void, Never>]) {
        var tasks: [Task<Void, Never>] = []
        let media = call.negotiatedMedia
        let opus = media?.audio.flatMap { audio in audio.codecs.first { $0.name.lowercased() == "opus" } }
        var recorder: AudioRecorder?
        if let path = settings.recordPath {
            if let opus {
                recorder = try AudioRecorder(path: path, payloadType: opus.payloadType)
            } else {
                events.error(.callFailed, "--record: no Opus audio was negotiated in this call; nothing is recorded")
            }
        }
        var pipe: PipeProcess?
        if settings.messages == .pipe, let command = settings.pipeCommand {
            let process = try PipeProcess(command: command)
            pipe = process
            tasks.append(Task { await process.run { [self] line in send(message: line) } })
        }
        let reader = DataReader(runner: self, recorder: recorder, pipe: pipe)
        tasks.append(Task { await reader.read(received) })

        if let audio = media?.audio, let opus, audio.direction.sends, !isNone(settings.audio) {
            let source = settings.audio
            let sender = audioSender
            tasks.append(Task { [self] in
                let finished = await sender.run(call: call, source: source, audio: audio, payloadType: opus.payloadType, events: events)
                if finished { state.withLock { $0.playDone = true } }
            })
        } else {
            state.withLock { $0.playDone = true }
            if !isNone(settings.audio), media?.audio == nil { events.log("no audio was negotiated: nothing is played") }
        }
        for text in settings.sendMessages { send(message: Array(text.utf8)) }
        state.withLock { $0.queuedMessagesSent = true }
        if let path = settings.sendFile {
            tasks.append(Task { await sendFile(path) })
        } else {
            state.withLock { $0.fileDone = true }
        }
        if let interval = settings.statsInterval {
            let connectedAt = ContinuousClock.now
            tasks.append(Task { [self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    if Task.isCancelled || call.end != nil { break }
                    emitStats(call.stats, setupMilliseconds: setupMilliseconds,
                              durationMilliseconds: Self.milliseconds(ContinuousClock.now - connectedAt))
                }
            })
        }
        return (recorder, pipe, tasks)
    }

    private func isNone(_ source: AudioSource) -> Bool { if case .none = source { return true } else { return false } }

    /// Waits until the call ends, is stopped, reaches --duration, or (for `call`) has done
    /// all its queued work and lingered.
    private func waitForEnd(connectedAt: ContinuousClock.Instant) async {
        let hasWork = !settings.sendMessages.isEmpty || settings.sendFile != nil || settings.expectMessages != nil
            || { if case .play = settings.audio { return true } else { return false } }()
        var doneAt: ContinuousClock.Instant?
        while call.end == nil, !shutdown.isSet {
            let now = ContinuousClock.now
            if let duration = settings.duration, now - connectedAt >= duration { return }
            if hangUpWhenDone, settings.duration == nil, hasWork {
                if doneAt == nil, workDone { doneAt = now }
                if let doneAt, now - doneAt >= settings.linger { return }
            }
            try? await Task.sleep(for: Self.tick)
        }
    }

    private var workDone: Bool {
        state.withLock { state in
            state.queuedMessagesSent && state.pendingDeliveries.isEmpty && state.fileDone && state.playDone
                && state.messagesReceived >= (settings.expectMessages ?? 0)
        }
    }

    /// How long a message may wait for room in a full send buffer before it is given up.
    static let sendBufferWait: Duration = .seconds(10)

    /// Sends one message, waiting (until the call ends, at most `sendBufferWait`) while the
    /// send buffer is full.
    func send(message: [UInt8]) {
        let deadline = ContinuousClock.now + Self.sendBufferWait
        while call.end == nil {
            do {
                let id = try call.send(message: message)
                state.withLock {
                    $0.pendingDeliveries.insert(id)
                    $0.messagesSent += 1
                }
                return
            } catch .reliable(.sendBufferFull) where ContinuousClock.now < deadline {
                usleep(2_000)
            } catch {
                events.error(.callFailed, "a message could not be sent: \(error)")
                return
            }
        }
    }

    private func sendFile(_ path: String) async {
        let name = String(path.split(separator: "/").last ?? "file")
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        var info = stat()
        guard descriptor >= 0, fstat(descriptor, &info) == 0 else {
            events.error(.inputFile, "--send \(path): \(String(cString: strerror(errno)))")
            if descriptor >= 0 { close(descriptor) }
            state.withLock { $0.fileDone = true }
            return
        }
        defer { close(descriptor) }
        let size = UInt64(info.st_size)
        let id: ReliableFileID
        do { id = try call.startFile(size: size, name: name) } catch {
            events.error(.callFailed, "--send \(path): \(error)")
            state.withLock { $0.fileDone = true }
            return
        }
        state.withLock { $0.outgoingFile = (id, name, size) }
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var sent: UInt64 = 0
        while sent < size, !Task.isCancelled {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else {
                events.error(.inputFile, "--send \(path): the file shrank while it was sent")
                return
            }
            var pending = Array(chunk[0..<count])
            while !pending.isEmpty, !Task.isCancelled {
                do {
                    let written = try call.writeFile(id, bytes: pending)
                    pending.removeFirst(written)
                    if written == 0 { try? await Task.sleep(for: .milliseconds(2)) }
                } catch {
                    events.error(.callFailed, "--send \(path): \(error)")
                    return
                }
            }
            sent += UInt64(count)
        }
    }

    // MARK: Received data (called by `DataReader`, one task)

    func messageReceived(_ bytes: [UInt8], pipe: PipeProcess?) {
        state.withLock { $0.messagesReceived += 1 }
        var members: [(String, JSONValue)] = [("call", callID)]
        if let text = String(validating: bytes, as: UTF8.self) {
            members.append(("text", .string(text)))
        } else {
            members.append(("base64", .string(Base64.encode(bytes))))
        }
        events.emit("message", members)
        switch settings.messages {
        case .echo: send(message: bytes)
        case .pipe: pipe?.write(bytes + [UInt8(ascii: "\n")])
        case .off: break
        }
    }

    func delivered(_ id: ReliableMessageID) {
        state.withLock { _ = $0.pendingDeliveries.remove(id) }
    }

    func audioReceived() { state.withLock { $0.audioFramesReceived += 1 } }

    func fileStarted(id: ReliableFileID, size: UInt64, name: String?) {
        var file = IncomingFile(proposedName: name, size: size)
        if let directory = settings.receiveDirectory {
            do { try file.open(in: directory) } catch {
                events.error(.outputFile, "\(error)")
            }
        }
        state.withLock { $0.incomingFiles[id] = file }
        events.log("receiving a file of \(size) bytes (\(file.name))")
    }

    func fileData(id: ReliableFileID, bytes: [UInt8]) {
        let problem: String? = state.withLock { state in
            guard var file = state.incomingFiles[id] else { return nil }
            defer { state.incomingFiles[id] = file }
            do { try file.write(bytes) } catch { return "\(error)" }
            return nil
        }
        if let problem { events.error(.outputFile, problem) }
    }

    /// Which file an end event names: file IDs of the two directions are counted apart.
    enum FileDirection { case incoming, outgoing, either }

    func fileEnded(id: ReliableFileID, error: ReliableError?, direction: FileDirection) {
        let (incoming, outgoing) = state.withLock { state -> (IncomingFile?, (id: ReliableFileID, name: String, size: UInt64)?) in
            if direction != .outgoing, let file = state.incomingFiles.removeValue(forKey: id) { return (file, nil) }
            if direction != .incoming, let outgoing = state.outgoingFile, outgoing.id == id {
                state.fileDone = true
                return (nil, outgoing)
            }
            return (nil, nil)
        }
        if var file = incoming {
            var members: [(String, JSONValue)] = [("call", callID), ("name", .string(file.name)), ("size", .int(Int(file.size))),
                                                  ("digest_ok", .bool(error == nil))]
            if let error {
                file.discard()
                members.append(("error", .string("\(error)")))
            } else {
                do {
                    let saved = try file.complete()
                    members.append(("saved", saved.map { .string($0) } ?? .null))
                } catch {
                    events.error(.outputFile, "\(error)")
                    members.append(("saved", .null))
                }
            }
            events.emit("file", members)
        } else if let outgoing {
            var members: [(String, JSONValue)] = [("call", callID), ("name", .string(outgoing.name)),
                                                  ("size", .int(Int(outgoing.size))), ("ok", .bool(error == nil))]
            if let error { members.append(("error", .string("\(error)"))) }
            events.emit("file_sent", members)
        }
    }

    private func closeIncomingFiles() {
        let files = state.withLock { state in
            defer { state.incomingFiles = [:] }
            return Array(state.incomingFiles.values)
        }
        for var file in files { file.discard() }
    }

    static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }
}

/// Reads a call's `received()` stream (its one consumer) and hands each item to the runner.
struct DataReader: Sendable {
    let runner: CallRunner
    nonisolated(unsafe) let recorder: AudioRecorder?
    let pipe: PipeProcess?

    func read(_ stream: CallDataStream) async {
        var recordingFailed = false
        for await data in stream {
            switch data {
            case let .message(bytes): runner.messageReceived(bytes, pipe: pipe)
            case let .delivered(id): runner.delivered(id)
            case let .media(frame):
                guard frame.kind == .audio else { continue }
                runner.audioReceived()
                if let recorder, !recordingFailed {
                    do { try recorder.receive(frame) } catch {
                        recordingFailed = true
                        runner.events.error(.outputFile, "\(error)")
                    }
                }
            case let .fileStarted(id, size, name): runner.fileStarted(id: id, size: size, name: name)
            case let .fileData(id, bytes, _): runner.fileData(id: id, bytes: bytes)
            case let .fileCompleted(id, _): runner.fileEnded(id: id, error: nil, direction: .incoming)
            case let .fileFailed(id, error): runner.fileEnded(id: id, error: error, direction: .either)
            case let .fileSent(id): runner.fileEnded(id: id, error: nil, direction: .outgoing)
            case .writable, .fileProgress: break
            }
        }
    }
}
