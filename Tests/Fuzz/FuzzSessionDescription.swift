// Fuzz target: SessionDescription.parse / serialized, IceCandidateAttribute.parse and
// SessionNegotiation.answer / complete (Sources/ParleyProtocol/SDP).
//
// A ParleyProtocol target: compiled with ProtocolFuzzSupport.swift and the ParleyProtocol
// sources into one module (run.sh).
//
// The first input byte picks a mode (modulo 4):
//
//   0 parse       sdp                        : parsed. What parses must serialize to text
//                                              that parses to the same value (unless that
//                                              text is over SDPLimits.maxBytes/maxLines:
//                                              the serializer writes implied rtpmaps and
//                                              directions the input could leave out) and
//                                              serializes again to the same bytes. Then
//                                              answered with each preset: an answer must
//                                              survive the wire and be accepted by complete()
//                                              with the same agreement, directions reversed.
//   1 candidate   text                       : IceCandidateAttribute.parse. What parses
//                                              must parse again from `text` and from
//                                              `attributeValue` to the same value.
//   2 complete    preset (1) | answer sdp    : the preset's offer and any parsed answer:
//                                              complete() never traps; what it accepts uses
//                                              offered payload types and stays within the
//                                              offer's limits.
//   3 prefer      two preferences from bytes : preferences with any codecs and numbers.
//                                              What validate() accepts makes an offer that
//                                              round-trips; answering it with the second
//                                              preferences never traps, and an answer made
//                                              is accepted by complete().
//
// Every refusal is an SDPError with a code in 4001-4099 and a reason; a trap, a crash or
// a sanitizer report stops the target.

import ParleyCrypto

func fuzzOneInput(_ input: inout FuzzInput) {
    switch input.byte() % 4 {
    case 0: fuzzParse(input.rest())
    case 1: fuzzCandidate(input.rest())
    case 2: fuzzComplete(&input)
    default: fuzzPreferences(&input)
    }
}

// MARK: Oracle

private func checkRefusal(_ error: SDPError, _ what: String) {
    fuzzCheck((4001...4099).contains(error.code), "\(what) refused with code \(error.code)")
    fuzzCheck(!error.reason.isEmpty, "\(what) refused without a reason")
    fuzzCheck(error.description.utf8.count < 600, "\(what) error of \(error.description.utf8.count) bytes")
}

private let presets: [MediaPreferences] = [.default, .audioOnly, .messagesOnly, .audioVideoMessages]
private let offererIce = IceCredentials(usernameFragment: "fuzzoffer", password: "fuzzofferpassword0123456789")
private let answererIce = IceCredentials(usernameFragment: "fuzzanswer", password: "fuzzanswerpassword0123456789")

/// `value` serialized must parse back to `value` and serialize to the same bytes, unless
/// the serialization is over the text limits.
private func checkRoundTrip(_ value: SessionDescription, _ what: String) {
    let bytes = value.serialized()
    do {
        let again = try SessionDescription.parse(bytes)
        fuzzCheck(again == value, "\(what): parse(serialized()) differs: \(value) -> \(again)")
        fuzzCheck(again.serialized() == bytes, "\(what): serialization is not a fixed point")
    } catch {
        let lines = bytes.lazy.filter { $0 == 0x0a }.count
        fuzzCheck(bytes.count > SDPLimits.maxBytes || lines > SDPLimits.maxLines,
                  "\(what): its own serialization (\(bytes.count) bytes, \(lines) lines) is refused: \(error)")
    }
}

/// The offerer's view of an answerer's agreement: directions reversed.
private func reversed(_ negotiated: NegotiatedMedia) -> NegotiatedMedia {
    var view = negotiated
    view.audio?.direction = negotiated.audio?.direction.reversed ?? .inactive
    view.video?.direction = negotiated.video?.direction.reversed ?? .inactive
    view.messages?.direction = negotiated.messages?.direction.reversed ?? .inactive
    return view
}

/// Answers `offer` with `preferences`; an answer must cross the wire and be accepted by
/// complete() with the same agreement.
private func checkAnswer(_ offer: SessionDescription, _ preferences: MediaPreferences, _ what: String) {
    do {
        let (answer, negotiated) = try SessionNegotiation.answer(to: offer, preferences: preferences, ice: answererIce, sessionID: 7)
        fuzzCheck(answer.media.count == offer.media.count, "\(what): answer has another section count")
        let received: SessionDescription
        do {
            received = try SessionDescription.parse(answer.serialized())
        } catch {
            fuzzBug("\(what): the answer does not parse: \(error)")
        }
        fuzzCheck(received == answer, "\(what): the answer changed on the wire")
        do {
            let agreed = try SessionNegotiation.complete(offer: offer, answer: received)
            fuzzCheck(agreed == reversed(negotiated), "\(what): offerer and answerer disagree")
        } catch {
            fuzzBug("\(what): complete() refuses the answer answer() made: \(error)")
        }
    } catch {
        checkRefusal(error, "\(what) answer")
        fuzzCheck(error.kind == .nothingInCommon, "\(what): answer with valid preferences refused with \(error)")
    }
}

// MARK: Modes

private func fuzzParse(_ bytes: [UInt8]) {
    let offer: SessionDescription
    do {
        offer = try SessionDescription.parse(bytes)
    } catch {
        checkRefusal(error, "parse")
        return
    }
    fuzzCheck(bytes.count <= SDPLimits.maxBytes, "accepted \(bytes.count) bytes")
    fuzzCheck((1...SDPLimits.maxMediaSections).contains(offer.media.count), "accepted \(offer.media.count) sections")
    fuzzCheck(offer.candidates.count <= SDPLimits.maxCandidates, "accepted \(offer.candidates.count) candidates")
    checkRoundTrip(offer, "parsed SDP")
    for (index, preferences) in presets.enumerated() {
        checkAnswer(offer, preferences, "preset \(index)")
    }
    do {
        _ = try SessionNegotiation.complete(offer: offer, answer: offer)
    } catch {
        checkRefusal(error, "complete(offer, offer)")
    }
}

private func fuzzCandidate(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    let candidate: IceCandidateAttribute
    do {
        candidate = try IceCandidateAttribute.parse(text)
    } catch {
        checkRefusal(error, "candidate")
        return
    }
    fuzzCheck(candidate.component == 1, "accepted component \(candidate.component)")
    fuzzCheck((candidate.relatedAddress == nil) == (candidate.relatedPort == nil), "raddr without rport")
    fuzzCheck((candidate.transport == .tcp) == (candidate.tcpType != nil), "tcptype does not match the transport")
    for form in [candidate.text, candidate.attributeValue] where form.utf8.count <= SDPLimits.maxCandidateBytes {
        do {
            let again = try IceCandidateAttribute.parse(form)
            fuzzCheck(again == candidate, "candidate changed through its text")
            fuzzCheck(again.text == candidate.text, "candidate text is not a fixed point")
        } catch {
            fuzzBug("a candidate's own text is refused: \(error)")
        }
    }
}

private func fuzzComplete(_ input: inout FuzzInput) {
    let offer = SessionNegotiation.offer(preferences: presets[Int(input.byte()) % presets.count], ice: offererIce, sessionID: 1)
    let answer: SessionDescription
    do {
        answer = try SessionDescription.parse(input.rest())
    } catch {
        checkRefusal(error, "parse answer")
        return
    }
    let agreed: NegotiatedMedia
    do {
        agreed = try SessionNegotiation.complete(offer: offer, answer: answer)
    } catch {
        checkRefusal(error, "complete")
        return
    }
    let streams: [(index: Int, codecs: [MediaCodec])] = [
        agreed.audio.map { ($0.sectionIndex, $0.codecs) }, agreed.video.map { ($0.sectionIndex, $0.codecs) },
    ].compactMap { $0 }
    for stream in streams {
        let offered = offer.media[stream.index].codecs.map(\.payloadType)
        fuzzCheck(!stream.codecs.isEmpty && stream.codecs.allSatisfy { offered.contains($0.payloadType) },
                  "complete accepted payload types \(stream.codecs.map(\.payloadType)) for offered \(offered)")
    }
    if let audio = agreed.audio, let limit = offer.media[audio.sectionIndex].maxBitrate {
        fuzzCheck((audio.maxBitrate ?? .max) <= limit, "audio bitrate above the offer")
    }
    if let video = agreed.video, let limit = offer.media[video.sectionIndex].maxResolution {
        fuzzCheck(video.maxResolution.map { $0.width <= limit.width && $0.height <= limit.height } ?? false, "resolution above the offer")
    }
    if let messages = agreed.messages, let limit = offer.media[messages.sectionIndex].maxMessageSize {
        fuzzCheck(messages.maxMessageSize <= limit, "message size above the offer")
    }
}

private func fuzzPreferences(_ input: inout FuzzInput) {
    let mine = input.preferences(), theirs = input.preferences()
    do {
        try mine.validate()
    } catch {
        checkRefusal(error, "validate")
        fuzzCheck(error.kind == .invalidPreferences, "validate refused with \(error)")
        return
    }
    let offer = SessionNegotiation.offer(preferences: mine, ice: offererIce, sessionID: input.uint64())
    checkRoundTrip(offer, "offer of valid preferences")
    do {
        try theirs.validate()
    } catch {
        do {
            _ = try SessionNegotiation.answer(to: offer, preferences: theirs, ice: answererIce, sessionID: 2)
            fuzzBug("answer() accepted preferences validate() refuses")
        } catch {
            fuzzCheck(error.kind == .invalidPreferences, "answer with invalid preferences refused with \(error)")
        }
        return
    }
    checkAnswer(offer, theirs, "fuzzed preferences")
}

// MARK: Input

/// This target's fields, on top of ProtocolFuzzSupport's readers.
private extension FuzzInput {
    /// length (1, modulo 40) | bytes, as text (invalid UTF-8 becomes U+FFFD).
    mutating func text() -> String { String(decoding: bytes(Int(byte() % 40)), as: UTF8.self) }

    /// Zero when the flag byte is odd, so both "absent" and edge values are reached.
    mutating func optional16() -> UInt16? { byte() & 1 == 1 ? nil : uint16() }

    mutating func optional32() -> UInt32? { byte() & 1 == 1 ? nil : uint32() }

    mutating func direction() -> MediaDirection { MediaDirection.allCases[Int(byte()) % MediaDirection.allCases.count] }

    /// A known codec (possibly with another payload type) or one made of input bytes.
    mutating func codec() -> MediaCodec {
        let known: [MediaCodec] = [.opus, .pcmu, .pcma, .g722, .vp8, .h264]
        let choice = Int(byte())
        if choice < 200 {
            var codec = known[choice % known.count]
            if choice & 0x40 != 0 { codec.payloadType = byte() }
            if choice & 0x80 != 0, codec.isH264 {
                codec.parameters = [FormatParameter("packetization-mode", text()), FormatParameter("profile-level-id", text())]
            }
            return codec
        }
        let parameters = (0..<Int(byte() % 4)).map { _ in FormatParameter(text(), text()) }
        return MediaCodec(payloadType: byte(), name: text(), clockRate: uint32(),
                          channels: byte() & 1 == 1 ? nil : byte(), parameters: parameters)
    }

    mutating func codecs() -> [MediaCodec] { (0..<Int(byte() % 6)).map { _ in codec() } }

    mutating func preferences() -> MediaPreferences {
        let flags = byte()
        var preferences = MediaPreferences()
        if flags & 1 != 0 {
            preferences.audio = AudioPreferences(codecs: codecs(), packetTime: optional16(), maxBitrate: optional32(), direction: direction())
        }
        if flags & 2 != 0 {
            let resolution = byte() & 1 == 1 ? nil : VideoResolution(width: uint16(), height: uint16())
            preferences.video = VideoPreferences(codecs: codecs(), maxBitrate: optional32(), maxResolution: resolution,
                                                 maxFrameRate: optional16(), direction: direction())
        }
        if flags & 4 != 0 {
            preferences.messages = MessagePreferences(maxMessageSize: uint32())
        }
        return preferences
    }
}

// MARK: Seeds

func fuzzSeeds() -> [[UInt8]] {
    let libniceLines = [
        "a=candidate:1 1 UDP 2015363327 127.0.0.1 54321 typ host",
        "a=candidate:2 1 UDP 1679819007 203.0.113.7 61234 typ srflx raddr 192.168.1.20 rport 54321",
        "a=candidate:3 1 UDP 8388607 198.51.100.3 49152 typ relay raddr 203.0.113.7 rport 61234",
        "a=candidate:4 1 TCP 1015021823 192.168.1.20 9 typ host tcptype active",
        "a=candidate:7 1 UDP 2015363583 2001:db8::1f 54322 typ host",
        "candidate:842163049 1 udp 1686052607 1.2.3.4 46154 typ srflx raddr 10.0.0.17 rport 46154 generation 0 ufrag EEtu",
    ]
    var offers = presets.map { SessionNegotiation.offer(preferences: $0, ice: offererIce, sessionID: 0x1234_5678_9abc_def0) }
    var withCandidates = offers[3]
    // Cannot fail: the lines above are valid libnice output (SDPCandidateTests checks them).
    withCandidates.candidates = libniceLines.map { try! IceCandidateAttribute.parse($0) }
    withCandidates.endOfCandidates = true
    offers.append(withCandidates)
    var seeds = offers.map { [0] + $0.serialized() }
    seeds += libniceLines.map { [1] + Array($0.utf8) }
    for (index, preferences) in presets.enumerated() {
        // Cannot fail: every preset answers every preset offer (SDPNegotiationTests).
        let answer = try! SessionNegotiation.answer(to: offers[3], preferences: preferences, ice: answererIce, sessionID: 9).answer
        seeds.append([2, 3] + answer.serialized())
        seeds.append([0] + answer.serialized())
        seeds.append([3, UInt8(7 - index), 3, 0, 0, 0, 0, 20, 1, 1, 0, 1, 1, 4, 0, 0, 1, 0])
    }
    return seeds
}
