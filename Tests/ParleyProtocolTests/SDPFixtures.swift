import ParleyProtocol
import XCTest

/// Shared inputs of the SDP tests: fixed credentials and the golden offer text.
enum SDPFixtures {
    static let callerIce = IceCredentials(usernameFragment: "Xy7q", password: "abcdefghijklmnopqrstuv")
    static let calleeIce = IceCredentials(usernameFragment: "B0b+/b", password: "ZYXWVUTSRQPONMLKJIHGFE+/")
    static let sessionID: UInt64 = 4_611_731_400_430_051_336

    /// `SessionNegotiation.offer(preferences: .audioVideoMessages, ice: callerIce, sessionID: sessionID)`,
    /// one line per element, without CRLF.
    static let goldenOfferLines = [
        "v=0",
        "o=- 4611731400430051336 1 IN IP4 0.0.0.0",
        "s=-",
        "c=IN IP4 0.0.0.0",
        "t=0 0",
        "a=group:BUNDLE 0 1 2",
        "a=ice-ufrag:Xy7q",
        "a=ice-pwd:abcdefghijklmnopqrstuv",
        "a=ice-options:trickle",
        "m=audio 9 UDP/PARLEY 111 0",
        "b=TIAS:64000",
        "a=mid:0",
        "a=sendrecv",
        "a=rtpmap:111 opus/48000/2",
        "a=fmtp:111 minptime=10;useinbandfec=1",
        "a=rtpmap:0 PCMU/8000",
        "a=ptime:20",
        "m=video 9 UDP/PARLEY 96 97",
        "b=TIAS:1500000",
        "a=mid:1",
        "a=sendrecv",
        "a=rtpmap:96 VP8/90000",
        "a=rtpmap:97 H264/90000",
        "a=fmtp:97 packetization-mode=1;profile-level-id=42e01f",
        "a=framerate:30",
        "a=imageattr:* recv [x=1280,y=720]",
        "m=application 9 UDP/PARLEY parley",
        "a=mid:2",
        "a=sendrecv",
        "a=max-message-size:1048576",
    ]

    static func text(_ lines: [String]) -> String { lines.map { $0 + "\r\n" }.joined() }

    static var goldenOffer: String { text(goldenOfferLines) }

    /// The golden offer with the first line equal to `old` replaced by `new` (several
    /// lines, or none when `new` is empty).
    static func replacing(_ old: String, with new: [String]) -> String {
        guard let index = goldenOfferLines.firstIndex(of: old) else { fatalError("no line \(old) in the golden offer") }
        var lines = goldenOfferLines
        lines.replaceSubrange(index...index, with: new)
        return text(lines)
    }

    /// The golden offer with `extra` inserted after the first line equal to `anchor`.
    static func inserting(_ extra: [String], after anchor: String) -> String {
        guard let index = goldenOfferLines.firstIndex(of: anchor) else { fatalError("no line \(anchor) in the golden offer") }
        var lines = goldenOfferLines
        lines.insert(contentsOf: extra, at: index + 1)
        return text(lines)
    }

    static func offer(_ preferences: MediaPreferences = .audioVideoMessages) -> SessionDescription {
        SessionNegotiation.offer(preferences: preferences, ice: callerIce, sessionID: sessionID)
    }

    /// Asserts `body` throws an SDPError of `kind` (and, when given, on `line`).
    static func assertRefused<T>(_ kind: SDPError.Kind, line: Int? = nil, _ what: String,
                                 file: StaticString = #filePath, sourceLine: UInt = #line,
                                 _ body: () throws(SDPError) -> T) {
        do {
            let value = try body()
            XCTFail("\(what): accepted, expected \(kind) (\(kind.rawValue)); got \(value)", file: file, line: sourceLine)
        } catch {
            XCTAssertEqual(error.kind, kind, "\(what): \(error)", file: file, line: sourceLine)
            if let line {
                XCTAssertEqual(error.line, line, "\(what): \(error)", file: file, line: sourceLine)
            }
            XCTAssertFalse(error.reason.isEmpty, "\(what): an error without a reason", file: file, line: sourceLine)
        }
    }
}
