/// SDP offer/answer (RFC 3264) as Parley profiles it (Signalling/spec-drafts/sdp.md,
/// "Negotiation"). Pure functions: the call state machine decides when to call them and
/// seals what they return.
public enum SessionNegotiation {
    /// The `o=` sess-version of every offer and answer Parley makes (a call negotiates once).
    public static let initialVersion: UInt64 = 1

    /// The caller's offer: one section per wanted media type, in the order audio, video,
    /// application, with mids "0", "1", "2" by position, no candidates (they trickle).
    /// Trusts its input: `preferences.validate()` and `ice.validate()` say whether the
    /// result will be accepted by the peer (the presets and libnice credentials are).
    public static func offer(preferences: MediaPreferences, ice: IceCredentials, sessionID: UInt64) -> SessionDescription {
        var media: [MediaSection] = []
        func mid() -> String { String(media.count) }
        if let audio = preferences.audio {
            media.append(MediaSection(kind: .audio, mid: mid(), direction: audio.direction, codecs: audio.codecs,
                                      maxBitrate: audio.maxBitrate, packetTime: audio.packetTime))
        }
        if let video = preferences.video {
            media.append(MediaSection(kind: .video, mid: mid(), direction: video.direction, codecs: video.codecs,
                                      maxBitrate: video.maxBitrate, maxResolution: video.maxResolution, maxFrameRate: video.maxFrameRate))
        }
        if let messages = preferences.messages {
            media.append(MediaSection(kind: .application, mid: mid(), maxMessageSize: messages.maxMessageSize))
        }
        return SessionDescription(sessionID: sessionID, version: initialVersion, ice: ice, media: media)
    }

    /// The callee's answer to `offer`: every offered section in the same order with the
    /// same mid; a section is accepted when the callee wants that media type and shares a
    /// codec with it, else rejected (port 0). Accepted sections carry the common codecs in
    /// the offerer's order with the offerer's payload types and the callee's parameters
    /// (H264: the callee's profile must equal the offer's, the level is the lower one),
    /// the lower bitrate, resolution, frame rate and message size, the longer packet time,
    /// and a direction the offer allows.
    ///
    /// Throws `invalidIceCredentials` or `invalidPreferences` for bad input of this side,
    /// and `nothingInCommon` when no section can be accepted.
    public static func answer(to offer: SessionDescription, preferences: MediaPreferences, ice: IceCredentials,
                              sessionID: UInt64) throws(SDPError) -> (answer: SessionDescription, negotiated: NegotiatedMedia) {
        try ice.validate()
        try preferences.validate()
        let media = offer.media.map { offered in
            answerSection(to: offered, preferences: preferences) ?? rejection(of: offered)
        }
        guard media.contains(where: { !$0.isRejected }) else {
            let offered = offer.media.filter { !$0.isRejected }.map(\.kind.rawValue)
            throw SDPError(.nothingInCommon, "nothing in common: the offer has [\(offered.joined(separator: ", "))]; "
                + "this side wants none of it or shares no codec")
        }
        let answer = SessionDescription(sessionID: sessionID, version: initialVersion, ice: ice, media: media)
        return (answer, try agreement(offer: offer, answer: answer, localIsOfferer: false))
    }

    /// For the caller: checks that `answer` answers `offer` (the same sections in the same
    /// order with the same mids; an offered-rejected section stays rejected; codecs of an
    /// accepted section are offered payload types with compatible rtpmap and parameters;
    /// no bitrate, resolution, frame rate, message size or H264 level above the offer's; a
    /// direction the offer allows) and returns what was agreed.
    /// Throws `answerSectionsMismatch`, `answerMidChanged`, `answerCodecNotOffered`,
    /// `answerExceedsOffer`, `answerDirectionInvalid`, or `nothingInCommon` when the answer
    /// rejects every section.
    public static func complete(offer: SessionDescription, answer: SessionDescription) throws(SDPError) -> NegotiatedMedia {
        try agreement(offer: offer, answer: answer, localIsOfferer: true)
    }

    // MARK: Answering

    private static func answerSection(to offered: MediaSection, preferences: MediaPreferences) -> MediaSection? {
        guard !offered.isRejected else { return nil }
        switch offered.kind {
        case .audio:
            guard let wanted = preferences.audio else { return nil }
            let codecs = commonCodecs(offered: offered.codecs, supported: wanted.codecs)
            guard !codecs.isEmpty else { return nil }
            return MediaSection(kind: .audio, mid: offered.mid, direction: answerDirection(offered.direction, wanted.direction),
                                codecs: codecs, maxBitrate: lower(offered.maxBitrate, wanted.maxBitrate),
                                packetTime: higher(offered.packetTime, wanted.packetTime))
        case .video:
            guard let wanted = preferences.video else { return nil }
            let codecs = commonCodecs(offered: offered.codecs, supported: wanted.codecs)
            guard !codecs.isEmpty else { return nil }
            return MediaSection(kind: .video, mid: offered.mid, direction: answerDirection(offered.direction, wanted.direction),
                                codecs: codecs, maxBitrate: lower(offered.maxBitrate, wanted.maxBitrate),
                                maxResolution: lowerResolution(offered.maxResolution, wanted.maxResolution),
                                maxFrameRate: lower(offered.maxFrameRate, wanted.maxFrameRate))
        case .application:
            guard let wanted = preferences.messages else { return nil }
            return MediaSection(kind: .application, mid: offered.mid, direction: answerDirection(offered.direction, .sendrecv),
                                maxMessageSize: lower(offered.maxMessageSize, wanted.maxMessageSize))
        }
    }

    /// A refused section: port 0, `a=inactive`, the offer's kind, mid and formats (their
    /// rtpmaps, not their fmtp parameters, which RFC 3264 says are ignored), nothing else.
    private static func rejection(of offered: MediaSection) -> MediaSection {
        let formats = offered.codecs.map { codec in
            MediaCodec(payloadType: codec.payloadType, name: codec.name, clockRate: codec.clockRate, channels: codec.channels)
        }
        return MediaSection(kind: offered.kind, mid: offered.mid, isRejected: true, direction: .inactive, codecs: formats)
    }

    /// Offered codecs (in the offer's order) that one of `supported` is compatible with,
    /// written with the offer's payload type, name and channels and the supported codec's
    /// parameters; H264 gets the lower of the two levels.
    private static func commonCodecs(offered: [MediaCodec], supported: [MediaCodec]) -> [MediaCodec] {
        offered.compactMap { offeredCodec in
            guard let mine = supported.first(where: { $0.isCompatible(with: offeredCodec) }) else { return nil }
            var codec = MediaCodec(payloadType: offeredCodec.payloadType, name: offeredCodec.name, clockRate: offeredCodec.clockRate,
                                   channels: offeredCodec.channels, parameters: mine.parameters)
            if codec.isH264 {
                codec = codec.withH264Level(min(offeredCodec.h264Level, mine.h264Level))
            }
            return codec
        }
    }

    /// The answerer sends only what the offerer receives, and receives only what it sends.
    private static func answerDirection(_ offered: MediaDirection, _ wanted: MediaDirection) -> MediaDirection {
        MediaDirection(sends: wanted.sends && offered.receives, receives: wanted.receives && offered.sends)
    }

    // MARK: Checking an answer

    private static func agreement(offer: SessionDescription, answer: SessionDescription,
                                  localIsOfferer: Bool) throws(SDPError) -> NegotiatedMedia {
        guard answer.media.count == offer.media.count else {
            throw SDPError(.answerSectionsMismatch, "the answer has \(answer.media.count) sections, the offer \(offer.media.count)")
        }
        var agreed = NegotiatedMedia()
        for (index, (offered, answered)) in zip(offer.media, answer.media).enumerated() {
            guard answered.kind == offered.kind else {
                throw SDPError(.answerSectionsMismatch, "section \(index) is \(answered.kind.rawValue) in the answer, \(offered.kind.rawValue) in the offer")
            }
            guard answered.mid == offered.mid else {
                throw SDPError(.answerMidChanged, "section \(index) has mid \(SDPText.quoted(answered.mid)) in the answer, \(SDPText.quoted(offered.mid)) in the offer")
            }
            guard !answered.isRejected else { continue }
            guard !offered.isRejected else {
                throw SDPError(.answerSectionsMismatch, "section \(index) was disabled in the offer (port 0) and cannot be accepted")
            }
            try checkDirection(offered.direction, answered.direction, index: index)
            let direction = localIsOfferer ? answered.direction.reversed : answered.direction
            try checkLimit(offered.maxBitrate, answered.maxBitrate, "bitrate", index: index)
            switch offered.kind {
            case .audio:
                try checkCodecs(offered: offered.codecs, answered: answered.codecs, index: index)
                agreed.audio = NegotiatedAudio(mid: offered.mid, sectionIndex: index, direction: direction, codecs: answered.codecs,
                                               packetTime: answered.packetTime ?? offered.packetTime,
                                               maxBitrate: lower(offered.maxBitrate, answered.maxBitrate))
            case .video:
                try checkCodecs(offered: offered.codecs, answered: answered.codecs, index: index)
                try checkLimit(offered.maxFrameRate, answered.maxFrameRate, "frame rate", index: index)
                try checkLimit(offered.maxResolution?.width, answered.maxResolution?.width, "width", index: index)
                try checkLimit(offered.maxResolution?.height, answered.maxResolution?.height, "height", index: index)
                agreed.video = NegotiatedVideo(mid: offered.mid, sectionIndex: index, direction: direction, codecs: answered.codecs,
                                               maxBitrate: lower(offered.maxBitrate, answered.maxBitrate),
                                               maxResolution: lowerResolution(offered.maxResolution, answered.maxResolution),
                                               maxFrameRate: lower(offered.maxFrameRate, answered.maxFrameRate))
            case .application:
                try checkLimit(offered.maxMessageSize, answered.maxMessageSize, "message size", index: index)
                guard let size = lower(offered.maxMessageSize, answered.maxMessageSize) else {
                    throw SDPError(.missingLine, "section \(index) (application) states no max-message-size on either side")
                }
                agreed.messages = NegotiatedMessages(mid: offered.mid, sectionIndex: index, direction: direction, maxMessageSize: size)
            }
        }
        guard agreed.audio != nil || agreed.video != nil || agreed.messages != nil else {
            throw SDPError(.nothingInCommon, "the answer rejects every section")
        }
        return agreed
    }

    private static func checkCodecs(offered: [MediaCodec], answered: [MediaCodec], index: Int) throws(SDPError) {
        guard !answered.isEmpty else {
            throw SDPError(.answerCodecNotOffered, "section \(index) is accepted without a codec")
        }
        var seen: Set<UInt8> = []
        for codec in answered {
            guard seen.insert(codec.payloadType).inserted else {
                throw SDPError(.answerCodecNotOffered, "section \(index) lists payload type \(codec.payloadType) twice")
            }
            guard let offeredCodec = offered.first(where: { $0.payloadType == codec.payloadType }),
                  offeredCodec.isCompatible(with: codec) else {
                throw SDPError(.answerCodecNotOffered, "section \(index): payload type \(codec.payloadType) (\(SDPText.quoted(codec.name))) was not offered as that codec")
            }
            if codec.isH264, codec.h264Level > offeredCodec.h264Level {
                throw SDPError(.answerExceedsOffer, "section \(index): H264 level \(codec.h264Level) is above the offered \(offeredCodec.h264Level)")
            }
        }
    }

    private static func checkDirection(_ offered: MediaDirection, _ answered: MediaDirection, index: Int) throws(SDPError) {
        guard !answered.sends || offered.receives, !answered.receives || offered.sends else {
            throw SDPError(.answerDirectionInvalid, "section \(index): the answer's \(answered.rawValue) does not fit the offer's \(offered.rawValue)")
        }
    }

    private static func checkLimit<T: Comparable & BinaryInteger>(_ offered: T?, _ answered: T?, _ what: String, index: Int) throws(SDPError) {
        if let offered, let answered, answered > offered {
            throw SDPError(.answerExceedsOffer, "section \(index): the answer's \(what) \(answered) is above the offered \(offered)")
        }
    }
}

/// The smaller of two optional limits; nil only when both are nil (no limit on either side).
private func lower<T: Comparable>(_ a: T?, _ b: T?) -> T? {
    switch (a, b) {
    case let (a?, b?): return min(a, b)
    default: return a ?? b
    }
}

private func higher<T: Comparable>(_ a: T?, _ b: T?) -> T? {
    switch (a, b) {
    case let (a?, b?): return max(a, b)
    default: return a ?? b
    }
}

private func lowerResolution(_ a: VideoResolution?, _ b: VideoResolution?) -> VideoResolution? {
    switch (a, b) {
    case let (a?, b?): return a.clamped(to: b)
    default: return a ?? b
    }
}
