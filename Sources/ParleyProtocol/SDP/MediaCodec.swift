/// One `name=value` pair of an `a=fmtp` line, in the order written.
public struct FormatParameter: Equatable, Sendable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// A codec of an audio or video section: its payload type on the `m=` line, its
/// `a=rtpmap` (encoding name, clock rate, channels) and its `a=fmtp` parameters.
/// Parley frames carry the payload type to name the codec of each media frame.
public struct MediaCodec: Equatable, Sendable {
    /// 0, 8, 9 (the static PCMU, PCMA and G722) or 96-127 (dynamic).
    public var payloadType: UInt8
    /// Encoding name as written (`opus`, `PCMU`, `VP8`, `H264`); compared case-insensitively.
    public var name: String
    /// RTP clock rate in Hz (timestamps of the media frames count in this unit).
    public var clockRate: UInt32
    /// Audio channels as written in `a=rtpmap`; nil when omitted (meaning 1). Always nil for video.
    public var channels: UInt8?
    /// The `a=fmtp` parameters; empty when the codec has no `a=fmtp` line.
    public var parameters: [FormatParameter]

    public init(payloadType: UInt8, name: String, clockRate: UInt32, channels: UInt8? = nil, parameters: [FormatParameter] = []) {
        self.payloadType = payloadType
        self.name = name
        self.clockRate = clockRate
        self.channels = channels
        self.parameters = parameters
    }

    /// Opus, 48 kHz stereo-capable, dynamic payload type 111, with in-band FEC and 10 ms
    /// minimum packet time (RFC 7587).
    public static let opus = MediaCodec(payloadType: 111, name: "opus", clockRate: 48_000, channels: 2,
                                        parameters: [FormatParameter("minptime", "10"), FormatParameter("useinbandfec", "1")])
    /// G.711 mu-law, static payload type 0.
    public static let pcmu = MediaCodec(payloadType: 0, name: "PCMU", clockRate: 8000)
    /// G.711 A-law, static payload type 8.
    public static let pcma = MediaCodec(payloadType: 8, name: "PCMA", clockRate: 8000)
    /// G.722, static payload type 9 (its RTP clock rate is 8000 by RFC 3551, although it samples at 16 kHz).
    public static let g722 = MediaCodec(payloadType: 9, name: "G722", clockRate: 8000)
    /// VP8, dynamic payload type 96 (RFC 7741).
    public static let vp8 = MediaCodec(payloadType: 96, name: "VP8", clockRate: 90_000)
    /// H.264 constrained baseline, level 3.1, non-interleaved mode, dynamic payload type 97 (RFC 6184).
    public static let h264 = MediaCodec(payloadType: 97, name: "H264", clockRate: 90_000,
                                        parameters: [FormatParameter("packetization-mode", "1"), FormatParameter("profile-level-id", "42e01f")])

    /// The value of the parameter `name` (compared case-insensitively), if present.
    public func parameter(_ name: String) -> String? {
        parameters.first { SDPText.lowercased($0.name) == SDPText.lowercased(name) }?.value
    }

    /// Channels with the RFC 8866 default applied (1 when omitted).
    var effectiveChannels: UInt8 { channels ?? 1 }

    var isH264: Bool { SDPText.lowercased(name) == "h264" }

    /// Whether a codec of the other side is the same codec for negotiation: same encoding
    /// name (case-insensitive), clock rate and channels; for H264 also the same
    /// packetization mode (absent = 0) and the same profile (the first 4 hex digits of
    /// profile-level-id, absent = 42000a). The level may differ (see `h264Level`).
    func isCompatible(with other: MediaCodec) -> Bool {
        guard SDPText.lowercased(name) == SDPText.lowercased(other.name), clockRate == other.clockRate,
              effectiveChannels == other.effectiveChannels else { return false }
        if isH264 {
            return h264PacketizationMode == other.h264PacketizationMode && h264Profile == other.h264Profile
        }
        return true
    }

    var h264PacketizationMode: String { parameter("packetization-mode") ?? "0" }

    /// profile_idc and profile-iop, lowercased hex (RFC 6184 default 42000a when absent).
    var h264Profile: String { String(SDPText.lowercased(parameter("profile-level-id") ?? "42000a").prefix(4)) }

    /// level_idc from profile-level-id (the parser guarantees 6 hex digits when present).
    var h264Level: UInt8 {
        let text = SDPText.lowercased(parameter("profile-level-id") ?? "42000a")
        return UInt8(text.dropFirst(4), radix: 16) ?? 0
    }

    /// This codec with its profile-level-id level replaced by `level` (H264 only).
    func withH264Level(_ level: UInt8) -> MediaCodec {
        var codec = self
        let value = h264Profile + (level < 16 ? "0" : "") + String(level, radix: 16)
        if let index = codec.parameters.firstIndex(where: { SDPText.lowercased($0.name) == "profile-level-id" }) {
            codec.parameters[index].value = value
        } else {
            codec.parameters.append(FormatParameter("profile-level-id", value))
        }
        return codec
    }
}
