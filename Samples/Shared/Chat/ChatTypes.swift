import ParleyCrypto

/// A person in the contact list: a name of their own choosing and their device ID.
public struct ChatContact: Equatable, Sendable {
    public var name: String
    public var device: DeviceID

    public init(name: String, device: DeviceID) {
        self.name = name
        self.device = device
    }

    /// Names are short words people type after `/call`: letters, digits, `.`, `_`, `-`.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= maxNameLength && name.unicodeScalars.allSatisfy {
            ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "." || $0 == "_" || $0 == "-")
        }
    }

    public static let maxNameLength = 32

    /// `NAME DEVICE_ID` (a config line) or `NAME=DEVICE_ID` (a flag).
    public static func parse(_ text: String) throws(SampleError) -> ChatContact {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "=" }).map(String.init)
        guard fields.count == 2 else {
            throw SampleError.configuration("contact \"\(TerminalText.sanitize(String(text.prefix(80))))\": expected NAME DEVICE_ID")
        }
        guard isValidName(fields[0]) else {
            throw SampleError.configuration("contact name \"\(TerminalText.sanitize(String(fields[0].prefix(40))))\": use up to \(maxNameLength) letters, digits, '.', '_' or '-'")
        }
        do {
            return ChatContact(name: fields[0], device: try DeviceID(printable: fields[1]))
        } catch {
            throw SampleError.configuration("contact \(fields[0]): \(error)")
        }
    }
}

/// Which call an event or action is about. Outgoing tokens come from the model, incoming
/// ones from the driver, so the two never collide; events of a call that is no longer
/// the current one are ignored.
public enum CallToken: Hashable, Sendable {
    case outgoing(Int)
    case incoming(Int)
}

/// Where the current call is, as the person sees it.
public enum ChatCallPhase: Equatable, Sendable {
    /// Outgoing: the invite is on its way, or the other device rings.
    case calling
    /// Incoming: waiting for this person to accept or reject.
    case ringing
    /// Keys are being agreed and confirmed, then media and the path.
    case securing
    case connecting
    case connected
}

/// What the driver tells the model: the network, the call and the file system.
public enum ChatEvent: Equatable, Sendable {
    /// The signalling connection: online or not, and a short description.
    case connection(online: Bool, text: String)
    /// The devices of the realm that are online now.
    case presence(Set<DeviceID>)
    case incomingCall(CallToken, peer: DeviceID)
    case callPhase(CallToken, ChatCallPhase)
    /// Keys confirmed: the short authentication string, "123 456".
    case callSecured(CallToken, sas: String)
    case callPath(CallToken, relayed: Bool)
    /// The call ended; `failure` is a one-line reason when it failed, nil for a hang-up.
    case callEnded(CallToken, byPeer: Bool, failure: String?)
    case messageReceived(CallToken, text: String)
    case messageDelivered(CallToken, localID: Int)
    case messageFailed(CallToken, localID: Int, reason: String)
    /// Progress of a file in either direction (bytes received, or acknowledged by the peer).
    case fileProgress(CallToken, outgoing: Bool, name: String, done: UInt64, size: UInt64)
    case fileReceived(CallToken, name: String, size: UInt64, savedAs: String)
    case fileSent(CallToken, name: String, size: UInt64)
    case fileFailed(CallToken, outgoing: Bool, name: String, reason: String)
    /// Anything else worth a line: an error (shown in red in the status area) or a note.
    case notice(String, isError: Bool)
}

/// What the model asks the driver to do.
public enum ChatAction: Equatable, Sendable {
    case placeCall(CallToken, peer: DeviceID, securityCode: String?)
    case accept(CallToken, securityCode: String?)
    case reject(CallToken)
    case hangUp(CallToken)
    case sendMessage(CallToken, localID: Int, text: String)
    case sendFile(CallToken, path: String)
    case quit
}
