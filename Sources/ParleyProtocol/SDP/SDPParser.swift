extension SessionDescription {
    /// Parses a Parley SDP (Signalling/spec-drafts/sdp.md, "Parsing"), refusing anything
    /// outside the profile with an `SDPError` that names the line. Bounded: the input size
    /// is checked before any byte is read, and every list has a limit in `SDPLimits`.
    public static func parse(_ bytes: [UInt8]) throws(SDPError) -> SessionDescription {
        let lines = try SDPLineSplitter.split(bytes)
        var parser = SDPParser()
        for line in lines {
            do {
                try parser.consume(line)
            } catch {
                throw error.at(line: line.number)
            }
        }
        return try parser.finish()
    }

    /// Parses SDP text (its UTF-8 bytes).
    public static func parse(_ text: String) throws(SDPError) -> SessionDescription {
        try parse(Array(text.utf8))
    }
}

/// One line without its CRLF, with its 1-based number.
struct SDPLine {
    let number: Int
    let text: Substring
}

/// The first pass: size, characters, CRLF endings, line lengths and count.
enum SDPLineSplitter {
    static func split(_ bytes: [UInt8]) throws(SDPError) -> [SDPLine] {
        guard bytes.count <= SDPLimits.maxBytes else {
            throw SDPError(.tooLarge, "SDP of \(bytes.count) bytes exceeds the limit of \(SDPLimits.maxBytes)")
        }
        guard !bytes.isEmpty else { throw SDPError(.missingLine, line: 1, "the SDP is empty; it must start with v=0") }
        var lines: [SDPLine] = []
        var start = 0
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            let number = lines.count + 1
            switch byte {
            case 0x0d:
                guard index + 1 < bytes.count, bytes[index + 1] == 0x0a else {
                    throw SDPError(.badLineEnding, line: number, "CR not followed by LF; lines end in CRLF")
                }
                guard lines.count < SDPLimits.maxLines else {
                    throw SDPError(.tooManyLines, line: number, "more than \(SDPLimits.maxLines) lines")
                }
                lines.append(SDPLine(number: number, text: Substring(String(decoding: bytes[start..<index], as: UTF8.self))))
                index += 2
                start = index
                continue
            case 0x0a:
                throw SDPError(.badLineEnding, line: number, "bare LF; lines end in CRLF")
            case 0x00:
                throw SDPError(.invalidCharacter, line: number, "NUL byte at column \(index - start + 1)")
            case 0x20..<0x7f:
                break
            default:
                throw SDPError(.invalidCharacter, line: number,
                               "byte 0x\(String(byte, radix: 16)) at column \(index - start + 1); Parley SDP is printable ASCII")
            }
            guard index - start < SDPLimits.maxLineBytes else {
                throw SDPError(.lineTooLong, line: number, "line longer than \(SDPLimits.maxLineBytes) bytes")
            }
            index += 1
        }
        guard start == bytes.count else {
            throw SDPError(.badLineEnding, line: lines.count + 1, "the last line does not end in CRLF")
        }
        return lines
    }
}

/// The second pass: the line grammar of RFC 8866 as Parley profiles it, one line at a time.
struct SDPParser {
    private enum Phase { case session, media }

    /// RFC 8866 section 5 order. Session: v o s i u e p c b t a; media: m i c b a.
    private static let sessionRank: [Character: Int] = ["v": 0, "o": 1, "s": 2, "i": 3, "u": 4, "e": 5, "p": 6, "c": 7, "b": 8, "t": 9, "a": 10]
    private static let mediaRank: [Character: Int] = ["m": 0, "i": 1, "c": 2, "b": 3, "a": 4]
    private static let sessionRepeatable: Set<Character> = ["e", "p", "b", "a"]
    private static let mediaRepeatable: Set<Character> = ["b", "a"]
    /// Lines that must appear in the session part, by rank.
    private static let sessionMandatory: [(rank: Int, type: Character)] = [(0, "v"), (1, "o"), (2, "s"), (9, "t")]

    private var phase = Phase.session
    private var lastRank = -1
    private var seen: Set<Character> = []

    private var sessionID: UInt64 = 0
    private var version: UInt64 = 0
    private var sessionConnection = false
    private var ufrag: String?
    private var password: String?
    private var sawIceOptions = false
    private var bundle: [String]?
    private var ignored = 0

    private var sections: [SectionBuilder] = []
    private var candidateCount = 0

    // MARK: Lines

    mutating func consume(_ line: SDPLine) throws(SDPError) {
        let text = line.text
        guard text.utf8.count >= 2, let type = text.first, ("a"..."z").contains(type),
              text[text.index(after: text.startIndex)] == "=" else {
            throw SDPError(.malformedLine, "a line is one lowercase letter, '=', then its value")
        }
        let value = text.dropFirst(2)
        switch type {
        case "v", "o", "s", "i", "u", "e", "p", "c", "b", "t", "a", "m":
            break
        case "r", "z", "k":
            throw SDPError(.unsupportedLine, "\(type)= lines are not part of Parley's profile (no repeat times, time zones or keys)")
        default:
            throw SDPError(.unknownLineType, "unknown line type \(type)=")
        }
        if type == "m" {
            try startSection(value, line: line.number)
            return
        }
        try checkOrder(type)
        switch (phase, type) {
        case (_, "v"):
            guard value == "0" else { throw SDPError(.unsupportedVersion, "v=\(SDPText.quoted(value)): only v=0 exists") }
        case (_, "o"): try parseOrigin(value)
        case (_, "s"):
            guard !value.isEmpty else { throw SDPError(.malformedLine, "s= needs a value (Parley writes s=-)") }
        case (_, "i"), (_, "u"), (_, "e"), (_, "p"): try ignore()
        case (.session, "c"):
            try checkConnection(value)
            sessionConnection = true
        case (.media, "c"):
            try checkConnection(value)
            sections[sections.count - 1].hasConnection = true
        case (.session, "b"):
            _ = try parseBandwidth(value)
            try ignore()
        case (.media, "b"):
            if let bitrate = try parseBandwidth(value) {
                guard sections[sections.count - 1].maxBitrate == nil else { throw SDPError(.duplicateAttribute, "b=TIAS appears twice in this section") }
                sections[sections.count - 1].maxBitrate = bitrate
            } else {
                try ignore()
            }
        case (_, "t"):
            guard value == "0 0" else { throw SDPError(.unsupportedTiming, "Parley sessions are unbounded: t=0 0") }
        case (.session, "a"): try sessionAttribute(value)
        default: try mediaAttribute(value, line: line.number)
        }
    }

    private mutating func checkOrder(_ type: Character) throws(SDPError) {
        let rank: Int
        let repeatable: Bool
        switch phase {
        case .session:
            guard let sessionRank = SDPParser.sessionRank[type] else { throw SDPError(.lineOutOfOrder, "\(type)= is not a session-level line") }
            rank = sessionRank
            repeatable = SDPParser.sessionRepeatable.contains(type)
            for mandatory in SDPParser.sessionMandatory where mandatory.rank < rank && !seen.contains(mandatory.type) {
                throw SDPError(.missingLine, "\(mandatory.type)= must come before \(type)=")
            }
        case .media:
            guard let mediaRank = SDPParser.mediaRank[type] else {
                throw SDPError(.lineOutOfOrder, "\(type)= is not allowed inside a media section")
            }
            rank = mediaRank
            repeatable = SDPParser.mediaRepeatable.contains(type)
        }
        guard rank > lastRank || (rank == lastRank && repeatable) else {
            throw SDPError(.lineOutOfOrder, seen.contains(type) && !repeatable
                ? "a second \(type)= line" : "\(type)= is out of order (RFC 8866 fixes the order of line types)")
        }
        lastRank = rank
        seen.insert(type)
    }

    private mutating func ignore() throws(SDPError) {
        ignored += 1
        guard ignored <= SDPLimits.maxIgnoredLines else {
            throw SDPError(.tooManyIgnoredLines, "more than \(SDPLimits.maxIgnoredLines) lines that Parley ignores")
        }
    }

    private mutating func parseOrigin(_ value: Substring) throws(SDPError) {
        guard let fields = SDPText.spaceSeparated(value), fields.count == 6 else {
            throw SDPError(.malformedOrigin, "o= has 6 fields: username sess-id sess-version IN IP4|IP6 address")
        }
        guard fields[3] == "IN", fields[4] == "IP4" || fields[4] == "IP6" else {
            throw SDPError(.malformedOrigin, "o= network type must be IN and address type IP4 or IP6")
        }
        sessionID = try SDPNumber.parse(fields[1], max: .max, "o= sess-id", malformed: .malformedOrigin)
        version = try SDPNumber.parse(fields[2], max: .max, "o= sess-version", malformed: .malformedOrigin)
    }

    private func checkConnection(_ value: Substring) throws(SDPError) {
        guard let fields = SDPText.spaceSeparated(value), fields.count == 3, fields[0] == "IN",
              let address = CandidateAddress(fields[2]),
              fields[1] == (address.isIPv6 ? "IP6" : "IP4") else {
            throw SDPError(.malformedConnection, "c= is IN IP4 <IPv4 address> or IN IP6 <IPv6 address> (no TTL, no name)")
        }
    }

    /// `b=<bwtype>:<bandwidth>`: the TIAS value in bits per second, nil for another type.
    private func parseBandwidth(_ value: Substring) throws(SDPError) -> UInt32? {
        guard let colon = value.firstIndex(of: ":"), SDPText.isToken(value[..<colon]) else {
            throw SDPError(.malformedLine, "b= is <bwtype>:<bandwidth>")
        }
        let number = value[value.index(after: colon)...]
        guard value[..<colon] == "TIAS" else {
            _ = try SDPNumber.parse(number, max: .max, "b= bandwidth", malformed: .malformedLine)
            return nil
        }
        return UInt32(try SDPNumber.parse(number, in: 1...UInt64(UInt32.max), "b=TIAS bitrate", malformed: .malformedLine))
    }

    // MARK: Session attributes

    private mutating func sessionAttribute(_ value: Substring) throws(SDPError) {
        let (name, argument) = try splitAttribute(value)
        switch name {
        case "group":
            let fields = try required(argument, name).split(separator: " ", omittingEmptySubsequences: false)
            guard fields.first == "BUNDLE" else { return try ignore() }
            guard bundle == nil else { throw SDPError(.duplicateAttribute, "a second a=group:BUNDLE") }
            let mids = fields.dropFirst().map(String.init)
            guard !mids.isEmpty, mids.count <= SDPLimits.maxMediaSections else {
                throw SDPError(.bundleMismatch, "a=group:BUNDLE lists 1-\(SDPLimits.maxMediaSections) mids")
            }
            for mid in mids { try SDPGrammar.checkMid(mid) }
            bundle = mids
        case "ice-ufrag":
            guard ufrag == nil else { throw SDPError(.duplicateAttribute, "a second a=ice-ufrag") }
            let text = String(try required(argument, name))
            ufrag = text
            try SDPGrammar.checkCredentials(IceCredentials(usernameFragment: text, password: String(repeating: "a", count: 22)))
        case "ice-pwd":
            guard password == nil else { throw SDPError(.duplicateAttribute, "a second a=ice-pwd") }
            let text = String(try required(argument, name))
            password = text
            try SDPGrammar.checkCredentials(IceCredentials(usernameFragment: "aaaa", password: text))
        case "ice-options":
            guard !sawIceOptions else { throw SDPError(.duplicateAttribute, "a second a=ice-options") }
            sawIceOptions = true
            guard let options = SDPText.spaceSeparated(try required(argument, name)), options.allSatisfy(SDPText.isToken) else {
                throw SDPError(.malformedAttribute, "a=ice-options is a space-separated list of tokens")
            }
            guard options.contains("trickle") else { throw SDPError(.malformedAttribute, "a=ice-options must include trickle") }
        case "mid", "sendrecv", "sendonly", "recvonly", "inactive", "rtpmap", "fmtp", "ptime", "framerate", "imageattr",
             "max-message-size", "candidate", "end-of-candidates":
            throw SDPError(.misplacedAttribute, "a=\(name) belongs in a media section, not at session level")
        default:
            try ignore()
        }
    }

    // MARK: Media sections

    private mutating func startSection(_ value: Substring, line: Int) throws(SDPError) {
        if phase == .session {
            for mandatory in SDPParser.sessionMandatory where !seen.contains(mandatory.type) {
                throw SDPError(.missingLine, "\(mandatory.type)= must come before the first m=")
            }
        } else {
            try finishSection()
        }
        guard sections.count < SDPLimits.maxMediaSections else {
            throw SDPError(.tooManyMediaSections, "more than \(SDPLimits.maxMediaSections) m= sections")
        }
        phase = .media
        lastRank = 0
        seen = ["m"]
        guard let fields = SDPText.spaceSeparated(value), fields.count >= 4 else {
            throw SDPError(.malformedMediaLine, "m= is <media> <port> <proto> <format> ..., separated by single spaces")
        }
        guard let kind = MediaSection.Kind(rawValue: String(fields[0])) else {
            throw SDPError(.unsupportedMedia, "media \(SDPText.quoted(fields[0])) is not audio, video or application")
        }
        guard !sections.contains(where: { $0.kind == kind }) else {
            throw SDPError(.unsupportedMedia, "a second \(kind.rawValue) section; Parley has at most one per media type")
        }
        guard !fields[1].contains("/") else { throw SDPError(.malformedMediaLine, "m= port has no /<count> in Parley") }
        let port = try SDPNumber.parse(fields[1], max: 65535, "m= port", malformed: .malformedMediaLine)
        guard fields[2] == SDPLimits.proto else {
            throw SDPError(.unsupportedProto, "proto \(SDPText.quoted(fields[2])) is not \(SDPLimits.proto)")
        }
        var section = SectionBuilder(kind: kind, isRejected: port == 0, line: line)
        let formats = fields.dropFirst(3)
        if kind == .application {
            guard formats.count == 1, formats.first == Substring(SDPLimits.applicationFormat) else {
                throw SDPError(.malformedMediaLine, "the application section's only format is \(SDPLimits.applicationFormat)")
            }
        } else {
            guard formats.count <= SDPLimits.maxCodecsPerSection else {
                throw SDPError(.tooManyCodecs, "\(formats.count) payload types; at most \(SDPLimits.maxCodecsPerSection)")
            }
            for format in formats {
                let payloadType = try SDPNumber.parse(format, max: .max, "payload type", malformed: .badPayloadType)
                try SDPGrammar.checkPayloadType(payloadType)
                guard !section.payloadTypes.contains(UInt8(payloadType)) else {
                    throw SDPError(.badPayloadType, "payload type \(payloadType) is listed twice")
                }
                section.payloadTypes.append(UInt8(payloadType))
            }
        }
        sections.append(section)
    }

    private mutating func mediaAttribute(_ value: Substring, line: Int) throws(SDPError) {
        let (name, argument) = try splitAttribute(value)
        var section = sections[sections.count - 1]
        defer { sections[sections.count - 1] = section }
        switch name {
        case "mid":
            guard section.mid == nil else { throw SDPError(.duplicateAttribute, "a second a=mid in this section") }
            let mid = String(try required(argument, name))
            try SDPGrammar.checkMid(mid)
            guard !sections.dropLast().contains(where: { $0.mid == mid }) else {
                throw SDPError(.duplicateMid, "mid \(SDPText.quoted(mid)) is used by an earlier section")
            }
            section.mid = mid
        case "sendrecv", "sendonly", "recvonly", "inactive":
            try flag(argument, name)
            guard section.direction == nil else { throw SDPError(.duplicateAttribute, "a second direction attribute in this section") }
            section.direction = MediaDirection(rawValue: name)
        case "rtpmap":
            try section.requireCodecs(name)
            let (payloadType, rest) = try section.payloadTypeArgument(try required(argument, name), name)
            guard section.rtpmaps[payloadType] == nil else { throw SDPError(.duplicateAttribute, "a second a=rtpmap for payload type \(payloadType)") }
            section.rtpmaps[payloadType] = try parseRtpmap(rest, payloadType: payloadType)
        case "fmtp":
            try section.requireCodecs(name)
            let (payloadType, rest) = try section.payloadTypeArgument(try required(argument, name), name)
            guard section.fmtps[payloadType] == nil else { throw SDPError(.duplicateAttribute, "a second a=fmtp for payload type \(payloadType)") }
            section.fmtps[payloadType] = try SDPGrammar.parseParameters(rest, payloadType: payloadType)
        case "ptime":
            try section.require(.audio, name)
            guard section.packetTime == nil else { throw SDPError(.duplicateAttribute, "a second a=ptime") }
            section.packetTime = UInt16(try SDPNumber.parse(try required(argument, name), in: 1...UInt64(SDPLimits.maxPacketTimeMilliseconds), "a=ptime"))
        case "framerate":
            try section.require(.video, name)
            guard section.maxFrameRate == nil else { throw SDPError(.duplicateAttribute, "a second a=framerate") }
            section.maxFrameRate = UInt16(try SDPNumber.parse(try required(argument, name), in: 1...UInt64(SDPLimits.maxFrameRate), "a=framerate"))
        case "imageattr":
            try section.require(.video, name)
            guard section.maxResolution == nil else { throw SDPError(.duplicateAttribute, "a second a=imageattr") }
            section.maxResolution = try parseImageAttribute(try required(argument, name))
        case "max-message-size":
            try section.require(.application, name)
            guard section.maxMessageSize == nil else { throw SDPError(.duplicateAttribute, "a second a=max-message-size") }
            section.maxMessageSize = UInt32(try SDPNumber.parse(try required(argument, name), in: 1...UInt64(UInt32.max), "a=max-message-size"))
        case "candidate":
            guard !section.endOfCandidates else { throw SDPError(.lineOutOfOrder, "a=candidate after a=end-of-candidates") }
            guard candidateCount < SDPLimits.maxCandidates else {
                throw SDPError(.tooManyCandidates, "more than \(SDPLimits.maxCandidates) a=candidate lines")
            }
            candidateCount += 1
            section.candidates.append(try IceCandidateAttribute.parse(String(value)))
            section.candidateLine = section.candidateLine ?? line
        case "end-of-candidates":
            try flag(argument, name)
            guard !section.endOfCandidates else { throw SDPError(.duplicateAttribute, "a second a=end-of-candidates") }
            section.endOfCandidates = true
            section.candidateLine = section.candidateLine ?? line
        case "group", "ice-ufrag", "ice-pwd", "ice-options":
            throw SDPError(.misplacedAttribute, "a=\(name) belongs at session level in Parley's profile")
        default:
            try ignore()
        }
    }

    private func splitAttribute(_ value: Substring) throws(SDPError) -> (String, Substring?) {
        let colon = value.firstIndex(of: ":")
        let name = value[..<(colon ?? value.endIndex)]
        guard SDPText.isToken(name) else { throw SDPError(.malformedAttribute, "an attribute name is a token (a=<name> or a=<name>:<value>)") }
        return (String(name), colon.map { value[value.index(after: $0)...] })
    }

    private func required(_ argument: Substring?, _ name: String) throws(SDPError) -> Substring {
        guard let argument, !argument.isEmpty else { throw SDPError(.malformedAttribute, "a=\(name) needs a value") }
        return argument
    }

    private func flag(_ argument: Substring?, _ name: String) throws(SDPError) {
        guard argument == nil else { throw SDPError(.malformedAttribute, "a=\(name) takes no value") }
    }

    /// `<encoding name>/<clock rate>[/<channels>]`.
    private func parseRtpmap(_ text: Substring, payloadType: UInt8) throws(SDPError) -> (name: String, clockRate: UInt32, channels: UInt8?) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3 else {
            throw SDPError(.malformedAttribute, "a=rtpmap:\(payloadType) is <name>/<clock rate>[/<channels>]")
        }
        let clockRate = try SDPNumber.parse(parts[1], in: 1...UInt64(UInt32.max), "clock rate of payload type \(payloadType)")
        let channels = parts.count == 3
            ? UInt8(try SDPNumber.parse(parts[2], in: 1...UInt64(SDPLimits.maxChannels), "channels of payload type \(payloadType)"))
            : nil
        return (String(parts[0]), UInt32(clockRate), channels)
    }

    /// Parley's only `imageattr` form: `* recv [x=<width>,y=<height>]`.
    private func parseImageAttribute(_ text: Substring) throws(SDPError) -> VideoResolution {
        let form = "a=imageattr is * recv [x=<width>,y=<height>] in Parley's profile"
        guard text.hasPrefix("* recv [x="), text.hasSuffix("]") else { throw SDPError(.malformedAttribute, form) }
        let inner = text.dropFirst(10).dropLast()
        let parts = inner.split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[1].hasPrefix("y=") else { throw SDPError(.malformedAttribute, form) }
        let range = 1...UInt64(SDPLimits.maxVideoDimension)
        let width = try SDPNumber.parse(parts[0], in: range, "a=imageattr width")
        let height = try SDPNumber.parse(parts[1].dropFirst(2), in: range, "a=imageattr height")
        return VideoResolution(width: UInt16(width), height: UInt16(height))
    }

    // MARK: End

    private mutating func finishSection() throws(SDPError) {
        var section = sections[sections.count - 1]
        guard let mid = section.mid else {
            throw SDPError(.missingLine, line: section.line, "the \(section.kind.rawValue) section has no a=mid")
        }
        guard sessionConnection || section.hasConnection else {
            throw SDPError(.missingLine, line: section.line, "no c= line at session level or in the \(section.kind.rawValue) section")
        }
        for payloadType in section.rtpmaps.keys.sorted() + section.fmtps.keys.sorted() where !section.payloadTypes.contains(payloadType) {
            throw SDPError(.badPayloadType, line: section.line, "an attribute names payload type \(payloadType), which is not on the m= line")
        }
        var codecs: [MediaCodec] = []
        for payloadType in section.payloadTypes {
            var codec: MediaCodec
            if let map = section.rtpmaps[payloadType] {
                codec = MediaCodec(payloadType: payloadType, name: map.name, clockRate: map.clockRate, channels: map.channels)
            } else if let known = SDPGrammar.staticCodecs[payloadType] {
                codec = known
            } else {
                throw SDPError(.badPayloadType, line: section.line, "dynamic payload type \(payloadType) has no a=rtpmap")
            }
            codec.parameters = section.fmtps[payloadType] ?? []
            do {
                try SDPGrammar.checkCodec(codec, kind: section.kind)
            } catch {
                throw error.at(line: section.line)
            }
            codecs.append(codec)
        }
        if section.kind == .application, !section.isRejected, section.maxMessageSize == nil {
            throw SDPError(.missingLine, line: section.line, "the application section has no a=max-message-size")
        }
        section.mid = mid
        section.codecs = codecs
        sections[sections.count - 1] = section
    }

    mutating func finish() throws(SDPError) -> SessionDescription {
        for mandatory in SDPParser.sessionMandatory where !seen.contains(mandatory.type) && phase == .session {
            throw SDPError(.missingLine, "no \(mandatory.type)= line")
        }
        guard !sections.isEmpty else { throw SDPError(.missingLine, "no m= line; Parley needs at least one media section") }
        try finishSection()
        guard let ufrag, let password else {
            throw SDPError(.missingLine, "no session-level a=ice-ufrag and a=ice-pwd")
        }
        guard sawIceOptions else { throw SDPError(.missingLine, "no a=ice-options:trickle") }
        let media = sections.map(\.section)
        let accepted = media.filter { !$0.isRejected }.map(\.mid)
        if accepted.isEmpty {
            guard bundle == nil else { throw SDPError(.bundleMismatch, "a=group:BUNDLE while every section is rejected") }
        } else {
            guard bundle == accepted else {
                throw SDPError(.bundleMismatch, "a=group:BUNDLE must list the mids of the accepted sections (port not 0), in section order")
            }
        }
        let tagged = media.firstIndex { !$0.isRejected }
        var candidates: [IceCandidateAttribute] = []
        var endOfCandidates = false
        for (index, section) in sections.enumerated() {
            guard let line = section.candidateLine else { continue }
            guard index == tagged else {
                throw SDPError(.misplacedAttribute, line: line, "candidates belong in the first accepted section (the BUNDLE tag)")
            }
            candidates = section.candidates
            endOfCandidates = section.endOfCandidates
        }
        return SessionDescription(sessionID: sessionID, version: version, ice: IceCredentials(usernameFragment: ufrag, password: password),
                                  media: media, candidates: candidates, endOfCandidates: endOfCandidates)
    }
}

/// A media section while its lines are read.
private struct SectionBuilder {
    let kind: MediaSection.Kind
    let isRejected: Bool
    /// The line of its m=.
    let line: Int
    var payloadTypes: [UInt8] = []
    var rtpmaps: [UInt8: (name: String, clockRate: UInt32, channels: UInt8?)] = [:]
    var fmtps: [UInt8: [FormatParameter]] = [:]
    var codecs: [MediaCodec] = []
    var mid: String?
    var direction: MediaDirection?
    var hasConnection = false
    var maxBitrate: UInt32?
    var packetTime: UInt16?
    var maxFrameRate: UInt16?
    var maxResolution: VideoResolution?
    var maxMessageSize: UInt32?
    var candidates: [IceCandidateAttribute] = []
    var endOfCandidates = false
    /// The first a=candidate or a=end-of-candidates line.
    var candidateLine: Int?

    init(kind: MediaSection.Kind, isRejected: Bool, line: Int) {
        self.kind = kind
        self.isRejected = isRejected
        self.line = line
    }

    var section: MediaSection {
        MediaSection(kind: kind, mid: mid ?? "", isRejected: isRejected, direction: direction ?? .sendrecv, codecs: codecs,
                     maxBitrate: maxBitrate, packetTime: packetTime, maxResolution: maxResolution, maxFrameRate: maxFrameRate,
                     maxMessageSize: maxMessageSize)
    }

    func require(_ expected: MediaSection.Kind, _ name: String) throws(SDPError) {
        guard kind == expected else {
            throw SDPError(.misplacedAttribute, "a=\(name) belongs in the \(expected.rawValue) section, not \(kind.rawValue)")
        }
    }

    func requireCodecs(_ name: String) throws(SDPError) {
        guard kind != .application else { throw SDPError(.misplacedAttribute, "a=\(name) does not belong in the application section") }
    }

    /// `<payload type> <rest>`, the payload type being one of the m= line's.
    func payloadTypeArgument(_ argument: Substring, _ name: String) throws(SDPError) -> (UInt8, Substring) {
        guard let space = argument.firstIndex(of: " ") else {
            throw SDPError(.malformedAttribute, "a=\(name) is <payload type> <value>")
        }
        let payloadType = try SDPNumber.parse(argument[..<space], max: .max, "a=\(name) payload type", malformed: .badPayloadType)
        guard payloadType <= 127, payloadTypes.contains(UInt8(payloadType)) else {
            throw SDPError(.badPayloadType, "a=\(name) names payload type \(payloadType), which is not on the m= line")
        }
        return (UInt8(payloadType), argument[argument.index(after: space)...])
    }
}
