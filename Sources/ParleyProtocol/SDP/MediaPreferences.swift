/// What a side wants for audio: codecs in order of preference and the most it wants to receive.
public struct AudioPreferences: Equatable, Sendable {
    /// Most preferred first; each codec's payload type is the one this side offers.
    public var codecs: [MediaCodec]
    /// Packet duration to receive, in milliseconds (`a=ptime`).
    public var packetTime: UInt16?
    /// Most bits per second to receive (`b=TIAS`).
    public var maxBitrate: UInt32?
    public var direction: MediaDirection

    public init(codecs: [MediaCodec] = [.opus, .pcmu], packetTime: UInt16? = 20, maxBitrate: UInt32? = 64_000,
                direction: MediaDirection = .sendrecv) {
        self.codecs = codecs
        self.packetTime = packetTime
        self.maxBitrate = maxBitrate
        self.direction = direction
    }

    /// Opus (48 kHz, in-band FEC) then PCMU, 20 ms packets, at most 64 kbit/s.
    public static let `default` = AudioPreferences()
}

/// What a side wants for video: codecs in order of preference and the most it wants to receive.
public struct VideoPreferences: Equatable, Sendable {
    public var codecs: [MediaCodec]
    /// Most bits per second to receive (`b=TIAS`).
    public var maxBitrate: UInt32?
    /// Largest picture to receive (`a=imageattr:* recv [x=W,y=H]`).
    public var maxResolution: VideoResolution?
    /// Highest frame rate to receive (`a=framerate`).
    public var maxFrameRate: UInt16?
    public var direction: MediaDirection

    public init(codecs: [MediaCodec] = [.vp8, .h264], maxBitrate: UInt32? = 1_500_000,
                maxResolution: VideoResolution? = VideoResolution(width: 1280, height: 720), maxFrameRate: UInt16? = 30,
                direction: MediaDirection = .sendrecv) {
        self.codecs = codecs
        self.maxBitrate = maxBitrate
        self.maxResolution = maxResolution
        self.maxFrameRate = maxFrameRate
        self.direction = direction
    }

    /// VP8 then H264 constrained baseline, 1280x720 at 30 fps, at most 1.5 Mbit/s.
    public static let `default` = VideoPreferences()
}

/// What a side wants for Parley messages.
public struct MessagePreferences: Equatable, Sendable {
    /// Largest message this side accepts, in bytes (`a=max-message-size`), at least 1.
    public var maxMessageSize: UInt32

    public init(maxMessageSize: UInt32 = 1_048_576) {
        self.maxMessageSize = maxMessageSize
    }

    /// Messages up to 1 MiB.
    public static let `default` = MessagePreferences()
}

/// The media a side wants in a call; nil leaves a media type out of the offer, or
/// rejects it in the answer (port 0).
public struct MediaPreferences: Equatable, Sendable {
    public var audio: AudioPreferences?
    public var video: VideoPreferences?
    public var messages: MessagePreferences?

    public init(audio: AudioPreferences? = nil, video: VideoPreferences? = nil, messages: MessagePreferences? = nil) {
        self.audio = audio
        self.video = video
        self.messages = messages
    }

    public static let audioOnly = MediaPreferences(audio: .default)
    public static let messagesOnly = MediaPreferences(messages: .default)
    public static let audioVideoMessages = MediaPreferences(audio: .default, video: .default, messages: .default)
    /// Audio and messages.
    public static let `default` = MediaPreferences(audio: .default, messages: .default)

    /// Checks that every preference can be written into an SDP a peer accepts: at least one
    /// media type; per media at least one and at most `SDPLimits.maxCodecsPerSection`
    /// codecs with distinct payload types, each following the rtpmap/fmtp rules; numbers
    /// within `SDPLimits`; and the offer built from them (with the longest credentials)
    /// accepted by `SessionDescription.parse` (size, line length, line count).
    /// `SessionNegotiation.offer` trusts its input: call this on preferences that did not
    /// come from the presets. Throws `invalidPreferences` naming the problem.
    public func validate() throws(SDPError) {
        do {
            try check()
        } catch {
            throw SDPError(.invalidPreferences, "\(error.kind) (\(error.code)): \(error.reason)")
        }
    }

    private func check() throws(SDPError) {
        guard audio != nil || video != nil || messages != nil else {
            throw SDPError(.nothingInCommon, "no media type is wanted")
        }
        if let audio {
            try MediaPreferences.checkCodecs(audio.codecs, kind: .audio)
            if let packetTime = audio.packetTime, !(1...SDPLimits.maxPacketTimeMilliseconds).contains(packetTime) {
                throw SDPError(.numberOutOfRange, "audio packet time must be 1-\(SDPLimits.maxPacketTimeMilliseconds) ms")
            }
            try MediaPreferences.checkBitrate(audio.maxBitrate)
        }
        if let video {
            try MediaPreferences.checkCodecs(video.codecs, kind: .video)
            try MediaPreferences.checkBitrate(video.maxBitrate)
            if let resolution = video.maxResolution {
                let range = 1...SDPLimits.maxVideoDimension
                guard range.contains(resolution.width), range.contains(resolution.height) else {
                    throw SDPError(.numberOutOfRange, "video width and height must be 1-\(SDPLimits.maxVideoDimension)")
                }
            }
            if let frameRate = video.maxFrameRate, !(1...SDPLimits.maxFrameRate).contains(frameRate) {
                throw SDPError(.numberOutOfRange, "video frame rate must be 1-\(SDPLimits.maxFrameRate)")
            }
        }
        if let messages, messages.maxMessageSize == 0 {
            throw SDPError(.numberOutOfRange, "maximum message size must be at least 1")
        }
        let placeholder = IceCredentials(usernameFragment: String(repeating: "u", count: SDPLimits.iceUfragBytes.upperBound),
                                         password: String(repeating: "p", count: SDPLimits.icePasswordBytes.upperBound))
        let offer = SessionNegotiation.offer(preferences: self, ice: placeholder, sessionID: .max)
        do {
            _ = try SessionDescription.parse(offer.serialized())
        } catch {
            throw SDPError(error.kind, "an offer with these preferences would be refused\(error.line.map { " at its line \($0)" } ?? ""): \(error.reason)")
        }
    }

    private static func checkCodecs(_ codecs: [MediaCodec], kind: MediaSection.Kind) throws(SDPError) {
        guard !codecs.isEmpty else { throw SDPError(.missingLine, "\(kind.rawValue) has no codec") }
        guard codecs.count <= SDPLimits.maxCodecsPerSection else {
            throw SDPError(.tooManyCodecs, "\(kind.rawValue) has \(codecs.count) codecs; at most \(SDPLimits.maxCodecsPerSection)")
        }
        var seen: Set<UInt8> = []
        for codec in codecs {
            try SDPGrammar.checkCodec(codec, kind: kind)
            guard seen.insert(codec.payloadType).inserted else {
                throw SDPError(.badPayloadType, "\(kind.rawValue) payload type \(codec.payloadType) is used twice")
            }
        }
    }

    private static func checkBitrate(_ bitrate: UInt32?) throws(SDPError) {
        if bitrate == 0 { throw SDPError(.numberOutOfRange, "maximum bitrate must be at least 1 bit/s") }
    }
}
