import Glibc
import Parley
import ParleyCrypto
import ParleyProtocol
import ParleySampleKit

/// The terminal driver: one loop on the main thread reads keys, drains what the
/// library's streams posted, feeds both to the `ChatModel`, performs the actions it
/// returns and redraws the whole screen from the model when anything changed.
final class ChatApp {
    private let client: ParleyClient
    private let terminal: Terminal
    private let inbox: Inbox
    private let downloadDirectory: String
    private var model: ChatModel
    private var decoder = KeyDecoder()
    private var running = true

    private var calls: [CallToken: Call] = [:]
    private var nextIncoming = 1
    /// Per call: what `send(message:)` returned, to the model's local message IDs.
    private var messageIDs: [CallToken: [ReliableMessageID: Int]] = [:]
    private var downloads: [CallToken: DownloadFolder] = [:]
    private var outgoingFiles: [CallToken: OutgoingFile] = [:]
    /// Calls whose end the model was told about.
    private var ended: Set<CallToken> = []
    private var lastConnection: ChatEvent?
    private var lastScreen: Screen?
    private var size: (width: Int, height: Int)

    /// How long the loop sleeps without input (the connection state is checked this often).
    static let pollMilliseconds: Int32 = 250

    init(client: ParleyClient, terminal: Terminal, contacts: [ChatContact], downloadDirectory: String) throws(SampleError) {
        self.client = client
        self.terminal = terminal
        self.downloadDirectory = downloadDirectory
        inbox = try Inbox()
        model = ChatModel(me: client.deviceID, contacts: contacts)
        size = terminal.size
    }

    /// Runs until /quit, Ctrl-C, end of input or a termination signal; every call is hung
    /// up (its keys erased) before it returns.
    func run() {
        startStreams()
        _ = model.handle(.notice("received files go to \(downloadDirectory)", isError: false))
        while running {
            draw()
            if terminationRequested.exchange(0, ordering: .relaxed) != 0 {
                perform(model.handle(key: .control("c")))
                break
            }
            var descriptors = [pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0),
                               pollfd(fd: inbox.wakeRead, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&descriptors, 2, Self.pollMilliseconds)
            if resizeRequested.exchange(false, ordering: .relaxed) { size = terminal.size }
            if ready > 0, descriptors[0].revents != 0 { readKeys() }
            for item in inbox.drain() { handle(item) }
            checkConnection()
        }
        for call in calls.values { call.hangUp() }
        calls.removeAll()
        for folder in downloads.values { folder.abandonAll() }
    }

    // MARK: Input

    private func readKeys() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
        if count < 0, errno == EINTR || errno == EAGAIN { return }
        guard count > 0 else {
            // The terminal went away (end of input): leave as /quit would.
            perform(model.handle(key: .control("c")))
            return
        }
        for key in decoder.decode(Array(buffer[0..<count])) {
            perform(model.handle(key: key))
            guard running else { return }
        }
    }

    private func draw() {
        let screen = model.render(width: size.width, height: size.height)
        guard screen != lastScreen else { return }
        lastScreen = screen
        terminal.write(screen.ansi())
    }

    // MARK: The library's streams

    private func startStreams() {
        let inbox = self.inbox
        let presence = client.presence()
        let incoming = client.incomingCalls()
        Task { for await online in presence { inbox.post(.presence(online)) } }
        Task { for await call in incoming { inbox.post(.incomingCall(call)) } }
    }

    private func register(_ call: Call, as token: CallToken) {
        calls[token] = call
        let inbox = self.inbox
        let events = call.events()
        let data = call.received()
        Task {
            for await event in events { inbox.post(.callEvent(token, event)) }
            inbox.post(.callFinished(token))
        }
        Task { for await item in data { inbox.post(.callData(token, item)) } }
        downloads[token] = DownloadFolder(directory: downloadDirectory)
    }

    private func checkConnection() {
        let event: ChatEvent
        switch client.connectionState {
        case .online: event = .connection(online: true, text: "online")
        case .idle, .connecting, .authenticating: event = .connection(online: false, text: "connecting…")
        case let .waitingToReconnect(_, attempt, reason): event = .connection(online: false, text: "offline (\(reason)); retry \(attempt)")
        case let .stopped(error): event = .connection(online: false, text: error.map { "stopped: \($0)" } ?? "stopped")
        }
        guard event != lastConnection else { return }
        lastConnection = event
        perform(model.handle(event))
    }

    private func handle(_ item: InboxItem) {
        switch item {
        case let .presence(online):
            perform(model.handle(.presence(online)))
        case let .incomingCall(call):
            let token = CallToken.incoming(nextIncoming)
            nextIncoming += 1
            register(call, as: token)
            perform(model.handle(.incomingCall(token, peer: call.peer)))
        case let .callEvent(token, event):
            callEvent(event, token: token)
        case let .callData(token, data):
            callData(data, token: token)
        case let .callFinished(token):
            if let call = calls[token], !ended.contains(token) {
                callEnded(token, end: call.end ?? .hungUpByPeer)
            }
        case let .fileWriteFailed(token, name, reason):
            outgoingFiles[token] = nil
            perform(model.handle(.fileFailed(token, outgoing: true, name: name, reason: reason)))
        }
    }

    private func callEvent(_ event: CallEvent, token: CallToken) {
        guard let call = calls[token] else { return }
        switch event {
        case let .stateChanged(state):
            switch state {
            case .inviting, .ringing: if call.role == .caller { perform(model.handle(.callPhase(token, .calling))) }
            case .securing, .negotiating: perform(model.handle(.callPhase(token, .securing)))
            case .connecting: perform(model.handle(.callPhase(token, .connecting)))
            case .connected:
                // The snapshot also covers events from before this stream existed.
                if let sas = call.sas { perform(model.handle(.callSecured(token, sas: sas.description))) }
                if let path = call.path { perform(model.handle(.callPath(token, relayed: path.isRelayed))) }
                perform(model.handle(.callPhase(token, .connected)))
            case let .ended(end): callEnded(token, end: end)
            }
        case let .secured(sas, _):
            perform(model.handle(.callSecured(token, sas: sas.description)))
        case let .pathSelected(pair):
            perform(model.handle(.callPath(token, relayed: pair.isRelayed)))
        case let .ended(end):
            callEnded(token, end: end)
        case .negotiated:
            break
        }
    }

    private func callEnded(_ token: CallToken, end: CallEnd) {
        guard ended.insert(token).inserted else { return }
        let failure: String?
        switch end {
        case .hungUpLocally, .hungUpByPeer: failure = nil
        case let .failed(error): failure = CallErrorText.describe(error)
        }
        perform(model.handle(.callEnded(token, byPeer: end == .hungUpByPeer, failure: failure)))
        forget(token)
    }

    private func forget(_ token: CallToken) {
        calls[token] = nil
        messageIDs[token] = nil
        outgoingFiles[token] = nil
        downloads.removeValue(forKey: token)?.abandonAll()
    }

    private func callData(_ data: CallData, token: CallToken) {
        guard calls[token] != nil else { return }
        switch data {
        case let .message(bytes):
            perform(model.handle(.messageReceived(token, text: String(decoding: bytes, as: UTF8.self))))
        case let .delivered(id):
            if let localID = messageIDs[token]?.removeValue(forKey: id) {
                perform(model.handle(.messageDelivered(token, localID: localID)))
            }
        case .writable, .media:
            break
        case let .fileStarted(id, size, name):
            do {
                let saved = try downloads[token]?.start(id, proposedName: name, size: size) ?? DownloadName.sanitize(name)
                perform(model.handle(.fileProgress(token, outgoing: false, name: saved, done: 0, size: size)))
            } catch {
                perform(model.handle(.fileFailed(token, outgoing: false, name: DownloadName.sanitize(name), reason: "\(error)")))
            }
        case let .fileData(id, bytes, received):
            guard let folder = downloads[token], let name = folder.name(of: id) else { return }
            do {
                try folder.write(id, bytes: bytes)
                perform(model.handle(.fileProgress(token, outgoing: false, name: name, done: received, size: folder.size(of: id) ?? received)))
            } catch {
                perform(model.handle(.fileFailed(token, outgoing: false, name: name, reason: "\(error)")))
            }
        case let .fileCompleted(id, size):
            guard let folder = downloads[token], let name = folder.name(of: id) else { return }
            do {
                let path = try folder.complete(id)
                perform(model.handle(.fileReceived(token, name: name, size: size, savedAs: path)))
            } catch {
                perform(model.handle(.fileFailed(token, outgoing: false, name: name, reason: "\(error)")))
            }
        case let .fileFailed(id, error):
            let name = downloads[token]?.name(of: id) ?? "a file"
            downloads[token]?.abandon(id)
            perform(model.handle(.fileFailed(token, outgoing: false, name: name, reason: "\(error)")))
        case let .fileProgress(id, acknowledged, size):
            guard let file = outgoingFiles[token], file.id == id else { return }
            perform(model.handle(.fileProgress(token, outgoing: true, name: file.name, done: acknowledged, size: size)))
        case let .fileSent(id):
            guard let file = outgoingFiles[token], file.id == id else { return }
            outgoingFiles[token] = nil
            perform(model.handle(.fileSent(token, name: file.name, size: file.size)))
        }
    }

    // MARK: Actions

    private func perform(_ actions: [ChatAction]) {
        for action in actions { perform(action) }
    }

    private func perform(_ action: ChatAction) {
        switch action {
        case let .placeCall(token, peer, code):
            do throws(CallError) {
                let call = try client.call(peer, securityCode: code, media: .messagesOnly)
                register(call, as: token)
            } catch {
                callFailedToStart(token, error)
            }
        case let .accept(token, code):
            do throws(CallError) {
                try calls[token]?.accept(securityCode: code, media: .messagesOnly)
            } catch {
                calls[token]?.hangUp()
                callFailedToStart(token, error)
            }
        case let .reject(token):
            if let call = calls[token] {
                try? call.reject()
                call.hangUp()
            }
            ended.insert(token)
            forget(token)
        case let .hangUp(token):
            calls[token]?.hangUp()
            ended.insert(token)
            forget(token)
        case let .sendMessage(token, localID, text):
            guard let call = calls[token] else { return }
            do {
                let id = try call.send(message: Array(text.utf8))
                messageIDs[token, default: [:]][id] = localID
            } catch {
                perform(model.handle(.messageFailed(token, localID: localID, reason: "\(error)")))
            }
        case let .sendFile(token, path):
            guard let call = calls[token] else { return }
            let expanded = Self.expandHome(path)
            do {
                let file = try OutgoingFile.start(path: expanded, on: call, token: token, inbox: inbox)
                outgoingFiles[token] = file
                perform(model.handle(.fileProgress(token, outgoing: true, name: file.name, done: 0, size: file.size)))
                perform(model.handle(.notice("sending \(file.name) (\(ChatModel.byteCount(file.size)))", isError: false)))
            } catch {
                perform(model.handle(.notice("/send: \(error)", isError: true)))
            }
        case .quit:
            running = false
        }
    }

    private func callFailedToStart(_ token: CallToken, _ error: CallError) {
        guard ended.insert(token).inserted else { return }
        perform(model.handle(.callEnded(token, byPeer: false, failure: CallErrorText.describe(error))))
        forget(token)
    }

    /// "~/x" to "$HOME/x".
    static func expandHome(_ path: String) -> String {
        guard path == "~" || path.hasPrefix("~/"), let home = getenv("HOME") else { return path }
        return String(cString: home) + path.dropFirst()
    }
}
