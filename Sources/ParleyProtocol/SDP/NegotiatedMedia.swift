/// What an offer and its answer agreed, seen from one side (`direction` is that side's).
/// A nil member means the media type was not offered or was rejected.
public struct NegotiatedMedia: Equatable, Sendable {
    public var audio: NegotiatedAudio?
    public var video: NegotiatedVideo?
    public var messages: NegotiatedMessages?

    public init(audio: NegotiatedAudio? = nil, video: NegotiatedVideo? = nil, messages: NegotiatedMessages? = nil) {
        self.audio = audio
        self.video = video
        self.messages = messages
    }
}

/// Agreed audio. Both sides send with `codecs[0]` (the answer's first codec) and accept
/// any of `codecs`; a sender keeps below `maxBitrate` and packs `packetTime` ms per packet.
public struct NegotiatedAudio: Equatable, Sendable {
    public var mid: String
    /// Index of the section in the offer (and answer): media frames name their stream by it.
    public var sectionIndex: Int
    /// This side's direction: `sends` means this side may send audio.
    public var direction: MediaDirection
    /// The answer's codecs: offered payload types, in the offerer's order.
    public var codecs: [MediaCodec]
    /// The answer's `a=ptime` (the larger of the two sides'), else the offer's.
    public var packetTime: UInt16?
    /// The smaller of the two sides' `b=TIAS`, nil when neither set one.
    public var maxBitrate: UInt32?

    public init(mid: String, sectionIndex: Int, direction: MediaDirection, codecs: [MediaCodec], packetTime: UInt16?, maxBitrate: UInt32?) {
        self.mid = mid
        self.sectionIndex = sectionIndex
        self.direction = direction
        self.codecs = codecs
        self.packetTime = packetTime
        self.maxBitrate = maxBitrate
    }
}

/// Agreed video; limits are the smaller of the two sides' (nil when neither set one).
public struct NegotiatedVideo: Equatable, Sendable {
    public var mid: String
    public var sectionIndex: Int
    public var direction: MediaDirection
    public var codecs: [MediaCodec]
    public var maxBitrate: UInt32?
    public var maxResolution: VideoResolution?
    public var maxFrameRate: UInt16?

    public init(mid: String, sectionIndex: Int, direction: MediaDirection, codecs: [MediaCodec], maxBitrate: UInt32?,
                maxResolution: VideoResolution?, maxFrameRate: UInt16?) {
        self.mid = mid
        self.sectionIndex = sectionIndex
        self.direction = direction
        self.codecs = codecs
        self.maxBitrate = maxBitrate
        self.maxResolution = maxResolution
        self.maxFrameRate = maxFrameRate
    }
}

/// Agreed messages: neither side sends a message above `maxMessageSize` bytes.
public struct NegotiatedMessages: Equatable, Sendable {
    public var mid: String
    public var sectionIndex: Int
    public var direction: MediaDirection
    /// The smaller of the two sides' `a=max-message-size`.
    public var maxMessageSize: UInt32

    public init(mid: String, sectionIndex: Int, direction: MediaDirection, maxMessageSize: UInt32) {
        self.mid = mid
        self.sectionIndex = sectionIndex
        self.direction = direction
        self.maxMessageSize = maxMessageSize
    }
}
