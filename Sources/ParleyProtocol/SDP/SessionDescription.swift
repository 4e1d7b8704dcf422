/// A media section's direction attribute (RFC 8866 section 6.7), from the point of view
/// of the side that wrote the section.
public enum MediaDirection: String, Equatable, Sendable, CaseIterable {
    case sendrecv
    case sendonly
    case recvonly
    case inactive

    public var sends: Bool { self == .sendrecv || self == .sendonly }
    public var receives: Bool { self == .sendrecv || self == .recvonly }

    public init(sends: Bool, receives: Bool) {
        switch (sends, receives) {
        case (true, true): self = .sendrecv
        case (true, false): self = .sendonly
        case (false, true): self = .recvonly
        case (false, false): self = .inactive
        }
    }

    /// The same direction seen from the other side (sendonly <-> recvonly).
    public var reversed: MediaDirection { MediaDirection(sends: receives, receives: sends) }
}

/// A video picture size in pixels.
public struct VideoResolution: Equatable, Sendable {
    public var width: UInt16
    public var height: UInt16

    public init(width: UInt16, height: UInt16) {
        self.width = width
        self.height = height
    }

    /// The smaller width and the smaller height of the two.
    func clamped(to other: VideoResolution) -> VideoResolution {
        VideoResolution(width: min(width, other.width), height: min(height, other.height))
    }
}

/// One `m=` section of a Parley SDP.
public struct MediaSection: Equatable, Sendable {
    /// The media type of an `m=` line.
    public enum Kind: String, Equatable, Sendable, CaseIterable {
        case audio
        case video
        /// Parley messages (reliable, ordered; PROTOCOL.md "Frames").
        case application
    }

    public var kind: Kind
    /// `a=mid`: 1-16 token characters, unique in the description.
    public var mid: String
    /// True when the `m=` port is 0: the section is offered as disabled, or refused by the answer.
    public var isRejected: Bool
    public var direction: MediaDirection
    /// Audio and video: the codecs in `m=` order, most preferred first. Empty for application.
    public var codecs: [MediaCodec]
    /// `b=TIAS`: the most the writer wants to receive in this section, in bits per second.
    public var maxBitrate: UInt32?
    /// Audio `a=ptime`: the packet duration the writer prefers to receive, in milliseconds.
    public var packetTime: UInt16?
    /// Video `a=imageattr:* recv [x=W,y=H]`: the largest picture the writer wants to receive.
    public var maxResolution: VideoResolution?
    /// Video `a=framerate`: the highest frame rate the writer wants to receive.
    public var maxFrameRate: UInt16?
    /// Application `a=max-message-size`: the largest Parley message the writer accepts, in bytes.
    public var maxMessageSize: UInt32?

    public init(kind: Kind, mid: String, isRejected: Bool = false, direction: MediaDirection = .sendrecv,
                codecs: [MediaCodec] = [], maxBitrate: UInt32? = nil, packetTime: UInt16? = nil,
                maxResolution: VideoResolution? = nil, maxFrameRate: UInt16? = nil, maxMessageSize: UInt32? = nil) {
        self.kind = kind
        self.mid = mid
        self.isRejected = isRejected
        self.direction = direction
        self.codecs = codecs
        self.maxBitrate = maxBitrate
        self.packetTime = packetTime
        self.maxResolution = maxResolution
        self.maxFrameRate = maxFrameRate
        self.maxMessageSize = maxMessageSize
    }
}

/// A Parley SDP offer or answer (RFC 8866, with the RFC 8839 ICE attributes): the ICE
/// credentials of the one bundled ICE stream, up to three media sections and, rarely,
/// candidates written into the SDP (with trickle they travel in their own blobs).
///
/// `serialized()` writes the profile of Signalling/spec-drafts/sdp.md; `parse` accepts
/// exactly that profile and refuses anything else with an `SDPError`. For every value
/// `parse` returns, `parse(value.serialized()) == value` (checked by the fuzz target
/// FuzzSessionDescription). `description` shows no ICE password.
public struct SessionDescription: Equatable, Sendable, CustomStringConvertible {
    /// `o=` sess-id, chosen by the caller of the API.
    public var sessionID: UInt64
    /// `o=` sess-version.
    public var version: UInt64
    /// Session-level `a=ice-ufrag` and `a=ice-pwd`.
    public var ice: IceCredentials
    public var media: [MediaSection]
    /// `a=candidate` lines, written in the BUNDLE-tagged section (the first accepted one).
    public var candidates: [IceCandidateAttribute]
    /// `a=end-of-candidates` in the BUNDLE-tagged section.
    public var endOfCandidates: Bool

    public init(sessionID: UInt64, version: UInt64, ice: IceCredentials, media: [MediaSection],
                candidates: [IceCandidateAttribute] = [], endOfCandidates: Bool = false) {
        self.sessionID = sessionID
        self.version = version
        self.ice = ice
        self.media = media
        self.candidates = candidates
        self.endOfCandidates = endOfCandidates
    }

    /// The sections that are not rejected, in order: the members of `a=group:BUNDLE`.
    public var acceptedMedia: [MediaSection] { media.filter { !$0.isRejected } }

    public var description: String {
        let sections = media.map { "\($0.kind.rawValue)(\($0.mid)\($0.isRejected ? ", rejected" : ""))" }.joined(separator: ", ")
        return "SessionDescription(id: \(sessionID), version: \(version), \(ice), media: [\(sections)], "
            + "candidates: \(candidates.count)\(endOfCandidates ? ", end" : ""))"
    }
}
