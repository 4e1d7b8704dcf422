import ParleyCrypto

/// The whole chat as a value: contacts and presence, the current call, the transcript,
/// the input line and its prompt. Feed it key presses (`handle(key:)`) and what happened
/// on the network (`handle(_:)`); perform the actions it returns; draw `render(width:height:)`.
/// It does no I/O and reads no clock, so tests drive it without a terminal.
public struct ChatModel: Sendable {
    /// One line of the transcript.
    public struct Entry: Equatable, Sendable {
        public enum Kind: Equatable, Sendable {
            case system
            case error
            /// A message this side sent, with its delivery state.
            case mine(localID: Int, delivery: Delivery)
            /// A message from the named peer.
            case theirs(name: String)
        }

        public enum Delivery: Equatable, Sendable {
            /// Handed to the call's reliable channel: ✓.
            case sent
            /// Acknowledged by the other device: ✓✓.
            case delivered
            /// Could not be sent: ✗ (the reason is in the status area).
            case failed
        }

        public var kind: Kind
        /// Sanitized text; may hold line feeds (shown as separate lines).
        public var text: String
    }

    /// The current call.
    public struct ActiveCall: Equatable, Sendable {
        public var token: CallToken
        public var peer: DeviceID
        public var phase: ChatCallPhase
        public var sas: String?
        public var relayed: Bool?
        /// A file on its way, in or out: its name, bytes done, size.
        public var transfer: Transfer?
    }

    public struct Transfer: Equatable, Sendable {
        public var outgoing: Bool
        public var name: String
        public var done: UInt64
        public var size: UInt64
    }

    /// What the input line is for.
    public enum Prompt: Equatable, Sendable {
        /// Messages and commands.
        case command
        /// "NAME is calling — accept? [y/n]"
        case answer
        /// "Security code (Enter for none):", masked, for an outgoing call to `peer` or
        /// for accepting the ringing call.
        case securityCode(outgoingTo: DeviceID?)
    }

    public private(set) var me: DeviceID
    public private(set) var contacts: [ChatContact]
    public private(set) var online: Set<DeviceID> = []
    public private(set) var connection: (online: Bool, text: String) = (false, "connecting…")
    public private(set) var call: ActiveCall?
    public private(set) var prompt: Prompt = .command
    public private(set) var input = LineEditor()
    public private(set) var transcript: [Entry] = []
    /// The last error or note, shown in the status area until the next one.
    public private(set) var notice: (text: String, isError: Bool)?
    /// Rows scrolled back from the end of the transcript.
    public private(set) var scrollBack = 0

    private var history: [String] = []
    private var historyIndex: Int?
    private var nextOutgoing = 1
    private var nextMessage = 1

    /// The transcript keeps this many entries; older ones are dropped.
    public static let maxEntries = 2000
    public static let maxHistory = 100

    public init(me: DeviceID, contacts: [ChatContact]) {
        self.me = me
        self.contacts = contacts
        system("You are \(me.fingerprint). Your device ID (for /add on the other side): \(me.printable)")
        system("Type /help for the commands.")
    }

    // MARK: Names

    /// The contact name of `device`, or its short ID for a device not in the list.
    public func name(of device: DeviceID) -> String {
        contacts.first { $0.device == device }?.name ?? device.fingerprint
    }

    private func contact(named text: String) -> ChatContact? {
        if let match = contacts.first(where: { $0.name.lowercased() == text.lowercased() }) { return match }
        if let device = try? DeviceID(printable: text) {
            return contacts.first { $0.device == device } ?? ChatContact(name: device.fingerprint, device: device)
        }
        return nil
    }

    // MARK: Keys

    public mutating func handle(key: Key) -> [ChatAction] {
        switch prompt {
        case .answer: return answerKey(key)
        case .securityCode: return codeKey(key)
        case .command: return commandKey(key)
        }
    }

    private mutating func answerKey(_ key: Key) -> [ChatAction] {
        guard let call, call.phase == .ringing else {
            prompt = .command
            return []
        }
        switch key {
        case .character("y"), .character("Y"):
            prompt = .securityCode(outgoingTo: nil)
            input.clear()
            return []
        case .character("n"), .character("N"), .escape:
            prompt = .command
            self.call = nil
            system("You declined the call from \(name(of: call.peer)).")
            return [.reject(call.token)]
        case .control("c"):
            return quit()
        default:
            return []
        }
    }

    private mutating func codeKey(_ key: Key) -> [ChatAction] {
        guard case let .securityCode(outgoingTo) = prompt else { return [] }
        switch key {
        case .enter:
            let code = input.isEmpty ? nil : input.text
            input.clear()
            prompt = .command
            if let peer = outgoingTo { return placeCall(to: peer, securityCode: code) }
            guard let call, call.phase == .ringing else {
                fail("the call stopped ringing before it was answered")
                return []
            }
            self.call?.phase = .securing
            system(code == nil ? "Answering \(name(of: call.peer)) without a code: compare the SAS aloud."
                               : "Answering \(name(of: call.peer)) with a security code.")
            return [.accept(call.token, securityCode: code)]
        case .escape:
            input.clear()
            prompt = .command
            guard outgoingTo == nil, let call, call.phase == .ringing else {
                note("call cancelled")
                return []
            }
            self.call = nil
            system("You declined the call from \(name(of: call.peer)).")
            return [.reject(call.token)]
        case .control("c"):
            input.clear()
            return quit()
        default:
            _ = input.apply(key)
            return []
        }
    }

    private mutating func commandKey(_ key: Key) -> [ChatAction] {
        switch key {
        case .enter:
            let line = input.text.trimmingSpaces()
            input.clear()
            historyIndex = nil
            guard !line.isEmpty else { return [] }
            if !line.lowercased().hasPrefix("/call ") {
                history.append(line)
                if history.count > Self.maxHistory { history.removeFirst() }
            }
            scrollBack = 0
            notice = nil
            return run(line)
        case .control("c"):
            return quit()
        case .control("d") where input.isEmpty:
            return quit()
        case .up:
            guard !history.isEmpty else { return [] }
            let index = max(0, (historyIndex ?? history.count) - 1)
            historyIndex = index
            input.set(history[index])
        case .down:
            guard let index = historyIndex else { return [] }
            if index + 1 < history.count {
                historyIndex = index + 1
                input.set(history[index + 1])
            } else {
                historyIndex = nil
                input.clear()
            }
        case .pageUp:
            scrollBack += 10
        case .pageDown:
            scrollBack = max(0, scrollBack - 10)
        case .tab:
            completeName()
        default:
            _ = input.apply(key)
        }
        return []
    }

    /// Completes a contact name after "/call " or "/add ".
    private mutating func completeName() {
        let text = input.text
        guard text.hasPrefix("/call ") else { return }
        let partial = String(text.dropFirst("/call ".count)).lowercased()
        guard !partial.contains(" ") else { return }
        let matches = contacts.filter { $0.name.lowercased().hasPrefix(partial) }
        if matches.count == 1 { input.set("/call " + matches[0].name + " ") }
    }

    private mutating func quit() -> [ChatAction] {
        var actions: [ChatAction] = []
        if let call {
            actions.append(call.phase == .ringing ? .reject(call.token) : .hangUp(call.token))
            self.call = nil
        }
        return actions + [.quit]
    }

    // MARK: Commands

    private mutating func run(_ line: String) -> [ChatAction] {
        let command: ChatCommand
        do {
            command = try ChatCommand.parse(line)
        } catch {
            fail(error.description)
            return []
        }
        switch command {
        case let .call(nameText, code):
            guard call == nil else {
                fail("already in a call with \(name(of: call!.peer)); /hangup first")  // guarded: call is non-nil
                return []
            }
            guard let contact = contact(named: nameText) else {
                fail("no contact named \"\(nameText.prefix(32))\"; /contacts lists them, /add NAME DEVICE_ID adds one")
                return []
            }
            guard contact.device != me else {
                fail("that is this device; call someone else")
                return []
            }
            if let code { return placeCall(to: contact.device, securityCode: code) }
            prompt = .securityCode(outgoingTo: contact.device)
            return []
        case .hangUp:
            guard let call else {
                fail("no call to hang up")
                return []
            }
            self.call = nil
            system("You hung up the call with \(name(of: call.peer)).")
            return [call.phase == .ringing ? .reject(call.token) : .hangUp(call.token)]
        case let .send(path):
            guard let call, call.phase == .connected else {
                fail("not in a connected call; /call NAME first")
                return []
            }
            guard call.transfer?.outgoing != true else {
                fail("a file is already on its way; wait for it to finish")
                return []
            }
            return [.sendFile(call.token, path: path)]
        case let .add(newName, deviceText):
            add(name: newName, deviceText: deviceText)
            return []
        case .contacts:
            listContacts()
            return []
        case .id:
            system("Your device ID: \(me.printable) (short: \(me.fingerprint))")
            return []
        case .help:
            for line in ChatCommand.helpLines { system(line) }
            return []
        case .quit:
            return quit()
        case let .message(text):
            guard let call, call.phase == .connected else {
                fail("not in a call: /call NAME first (or /help)")
                return []
            }
            let localID = nextMessage
            nextMessage += 1
            append(Entry(kind: .mine(localID: localID, delivery: .sent), text: text))
            return [.sendMessage(call.token, localID: localID, text: text)]
        }
    }

    private mutating func placeCall(to peer: DeviceID, securityCode: String?) -> [ChatAction] {
        guard call == nil else {
            fail("already in a call; /hangup first")
            return []
        }
        let token = CallToken.outgoing(nextOutgoing)
        nextOutgoing += 1
        call = ActiveCall(token: token, peer: peer, phase: .calling)
        system(securityCode == nil ? "Calling \(name(of: peer)) without a code: compare the SAS aloud when it shows."
                                   : "Calling \(name(of: peer)) with a security code.")
        notice = nil
        return [.placeCall(token, peer: peer, securityCode: securityCode)]
    }

    private mutating func add(name newName: String, deviceText: String?) {
        guard ChatContact.isValidName(newName) else {
            fail("/add: a name is up to \(ChatContact.maxNameLength) letters, digits, '.', '_' or '-'")
            return
        }
        let device: DeviceID
        if let deviceText {
            do {
                device = try DeviceID(printable: deviceText)
            } catch {
                fail("/add: not a device ID (\(error))")
                return
            }
        } else {
            guard let call else {
                fail("/add NAME DEVICE_ID (or /add NAME during a call, for the other device)")
                return
            }
            device = call.peer
        }
        if let existing = contacts.first(where: { $0.name.lowercased() == newName.lowercased() }), existing.device != device {
            fail("/add: \(existing.name) is already a contact with another device")
            return
        }
        contacts.removeAll { $0.device == device }
        contacts.append(ChatContact(name: newName, device: device))
        system("Added \(newName) (\(device.fingerprint)) for this session.")
    }

    private mutating func listContacts() {
        guard !contacts.isEmpty else {
            system("No contacts yet: /add NAME DEVICE_ID, or contact = NAME DEVICE_ID in --config.")
            return
        }
        for contact in contacts {
            system("\(online.contains(contact.device) ? "●" : "○") \(contact.name)  \(contact.device.printable)")
        }
    }

    // MARK: Events

    public mutating func handle(_ event: ChatEvent) -> [ChatAction] {
        switch event {
        case let .connection(isOnline, text):
            if connection.online, !isOnline { fail("lost the server: \(text)") }
            connection = (isOnline, text)
        case let .presence(devices):
            online = devices
        case let .incomingCall(token, peer):
            guard call == nil, prompt == .command else {
                system("Missed a call from \(name(of: peer)) (busy).")
                return [.reject(token)]
            }
            call = ActiveCall(token: token, peer: peer, phase: .ringing)
            prompt = .answer
            system("\(name(of: peer)) is calling.")
        case let .callPhase(token, phase):
            guard call?.token == token, call?.phase != phase else { return [] }
            if call?.phase == .ringing, phase == .calling { return [] }
            call?.phase = phase
            if phase == .connected, let call {
                system("Connected with \(name(of: call.peer))\(call.relayed == true ? " (relayed)" : "").")
            }
        case let .callSecured(token, sas):
            guard call?.token == token, call?.sas != sas else { return [] }
            call?.sas = sas
            system("Security string \(sas): read it aloud with \(name(of: call!.peer)); hang up if theirs differs.")  // guarded: call has this token
        case let .callPath(token, relayed):
            guard call?.token == token else { return [] }
            call?.relayed = relayed
        case let .callEnded(token, byPeer, failure):
            guard let call, call.token == token else { return [] }
            self.call = nil
            if prompt != .command {
                prompt = .command
                input.clear()
            }
            if let failure {
                fail("call failed: \(failure)")
                append(Entry(kind: .error, text: "The call with \(name(of: call.peer)) failed: \(failure)"))
            } else {
                system(byPeer ? "\(name(of: call.peer)) hung up." : "The call with \(name(of: call.peer)) ended.")
            }
        case let .messageReceived(token, text):
            guard let call, call.token == token else { return [] }
            append(Entry(kind: .theirs(name: name(of: call.peer)), text: TerminalText.sanitize(text, keepNewlines: true)))
        case let .messageDelivered(token, localID):
            guard call?.token == token else { return [] }
            setDelivery(localID, .delivered)
        case let .messageFailed(_, localID, reason):
            setDelivery(localID, .failed)
            fail("message not sent: \(reason)")
        case let .fileProgress(token, outgoing, fileName, done, size):
            guard call?.token == token else { return [] }
            call?.transfer = Transfer(outgoing: outgoing, name: TerminalText.sanitize(fileName), done: done, size: size)
        case let .fileReceived(token, fileName, size, savedAs):
            if call?.token == token, call?.transfer?.outgoing == false { call?.transfer = nil }
            system("Received \(TerminalText.sanitize(fileName)) (\(Self.byteCount(size))), saved as \(TerminalText.sanitize(savedAs))")
        case let .fileSent(token, fileName, size):
            if call?.token == token, call?.transfer?.outgoing == true { call?.transfer = nil }
            system("Sent \(TerminalText.sanitize(fileName)) (\(Self.byteCount(size))) ✓✓")
        case let .fileFailed(token, outgoing, fileName, reason):
            if call?.token == token, call?.transfer?.outgoing == outgoing { call?.transfer = nil }
            fail("file \(TerminalText.sanitize(fileName)) \(outgoing ? "not sent" : "not received"): \(reason)")
        case let .notice(text, isError):
            if isError { fail(text) } else { note(text) }
        }
        return []
    }

    private mutating func setDelivery(_ localID: Int, _ delivery: Entry.Delivery) {
        guard let index = transcript.lastIndex(where: { if case .mine(localID, _) = $0.kind { return true } else { return false } })
        else { return }
        if case .mine(_, .failed) = transcript[index].kind { return }
        transcript[index].kind = .mine(localID: localID, delivery: delivery)
    }

    // MARK: Transcript

    private mutating func append(_ entry: Entry) {
        transcript.append(entry)
        if transcript.count > Self.maxEntries { transcript.removeFirst(transcript.count - Self.maxEntries) }
    }

    private mutating func system(_ text: String) {
        append(Entry(kind: .system, text: TerminalText.sanitize(text)))
    }

    private mutating func fail(_ text: String) {
        notice = (TerminalText.sanitize(text), true)
    }

    /// A note goes to the transcript (the status area is for errors and hints).
    private mutating func note(_ text: String) {
        system(text)
    }

    /// "512 B", "12.3 KB", "4.0 MB".
    public static func byteCount(_ count: UInt64) -> String {
        if count < 1000 { return "\(count) B" }
        let units = ["KB", "MB", "GB", "TB"]
        var value = Double(count) / 1000
        var unit = 0
        while value >= 1000, unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }
}
