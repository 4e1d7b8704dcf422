/// Decimal numbers as SDP writes them: 1-20 ASCII digits, no sign, no leading zero
/// (RFC 8866 `integer`), so every number has exactly one spelling.
enum SDPNumber {
    static func parse<S: StringProtocol>(_ text: S, max: UInt64, _ what: String,
                                         malformed: SDPError.Kind = .malformedAttribute) throws(SDPError) -> UInt64 {
        let utf8 = text.utf8
        guard !utf8.isEmpty, utf8.count <= 20, utf8.allSatisfy(SDPText.isDigit) else {
            throw SDPError(malformed, "\(what) must be a decimal number")
        }
        guard utf8.count == 1 || utf8.first != UInt8(ascii: "0") else {
            throw SDPError(malformed, "\(what) must not have leading zeros")
        }
        var value: UInt64 = 0
        for byte in utf8 {
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { throw SDPError(.numberOutOfRange, "\(what) is larger than \(max)") }
            value = sum
        }
        guard value <= max else { throw SDPError(.numberOutOfRange, "\(what) \(value) is larger than \(max)") }
        return value
    }

    /// A number in `range`; `numberOutOfRange` outside it.
    static func parse<S: StringProtocol>(_ text: S, in range: ClosedRange<UInt64>, _ what: String,
                                         malformed: SDPError.Kind = .malformedAttribute) throws(SDPError) -> UInt64 {
        let value = try parse(text, max: range.upperBound, what, malformed: malformed)
        guard value >= range.lowerBound else {
            throw SDPError(.numberOutOfRange, "\(what) must be \(range.lowerBound)-\(range.upperBound), got \(value)")
        }
        return value
    }
}

/// Field checks shared by the parser and by `MediaPreferences.validate()`, so a preference
/// that passes can always be written into an SDP the peer accepts.
enum SDPGrammar {
    /// The static payload types Parley knows (RFC 3551), with their implied rtpmap.
    static let staticCodecs: [UInt8: MediaCodec] = [0: .pcmu, 8: .pcma, 9: .g722]

    static func checkMid(_ mid: String) throws(SDPError) {
        guard (1...SDPLimits.maxMidBytes).contains(mid.utf8.count), SDPText.isToken(mid) else {
            throw SDPError(.invalidMid, "a mid is 1-\(SDPLimits.maxMidBytes) token characters")
        }
    }

    static func checkPayloadType(_ payloadType: UInt64) throws(SDPError) {
        let isStatic = payloadType <= 127 && staticCodecs[UInt8(payloadType)] != nil
        let isDynamic = (UInt64(SDPLimits.firstDynamicPayloadType)...UInt64(SDPLimits.maxPayloadType)).contains(payloadType)
        guard isStatic || isDynamic else {
            throw SDPError(.badPayloadType, "payload type \(payloadType) is neither static 0, 8, 9 nor dynamic 96-127")
        }
    }

    /// The rules every codec of a section follows: payload type, rtpmap fields, fmtp
    /// parameters, and the H264 parameters negotiation relies on.
    static func checkCodec(_ codec: MediaCodec, kind: MediaSection.Kind) throws(SDPError) {
        let pt = codec.payloadType
        try checkPayloadType(UInt64(pt))
        if let known = staticCodecs[pt] {
            guard SDPText.lowercased(codec.name) == SDPText.lowercased(known.name), codec.clockRate == known.clockRate,
                  codec.effectiveChannels == 1 else {
                throw SDPError(.badPayloadType, "static payload type \(pt) is \(known.name)/\(known.clockRate), not another codec")
            }
        }
        guard kind != .application else {
            throw SDPError(.misplacedAttribute, "the application section has no codecs")
        }
        guard (1...SDPLimits.maxEncodingNameBytes).contains(codec.name.utf8.count), SDPText.isToken(codec.name) else {
            throw SDPError(.malformedAttribute, "encoding name of payload type \(pt) must be 1-\(SDPLimits.maxEncodingNameBytes) token characters")
        }
        guard codec.clockRate >= 1 else { throw SDPError(.numberOutOfRange, "clock rate of payload type \(pt) must be at least 1") }
        if let channels = codec.channels {
            guard kind == .audio else { throw SDPError(.malformedAttribute, "video payload type \(pt) has a channel count") }
            guard (1...SDPLimits.maxChannels).contains(channels) else {
                throw SDPError(.numberOutOfRange, "channels of payload type \(pt) must be 1-\(SDPLimits.maxChannels)")
            }
        }
        try checkParameters(codec.parameters, payloadType: pt)
        if codec.isH264 {
            if let mode = codec.parameter("packetization-mode"), !["0", "1", "2"].contains(mode) {
                throw SDPError(.malformedAttribute, "H264 packetization-mode of payload type \(pt) must be 0, 1 or 2")
            }
            if let profile = codec.parameter("profile-level-id"), profile.utf8.count != 6 || !profile.utf8.allSatisfy({ SDPText.hexValue($0) != nil }) {
                throw SDPError(.malformedAttribute, "H264 profile-level-id of payload type \(pt) must be 6 hex digits")
            }
        }
    }

    static func checkParameters(_ parameters: [FormatParameter], payloadType: UInt8) throws(SDPError) {
        guard parameters.count <= SDPLimits.maxFormatParameters else {
            throw SDPError(.malformedAttribute, "fmtp of payload type \(payloadType) has more than \(SDPLimits.maxFormatParameters) parameters")
        }
        var names: [String] = []
        for parameter in parameters {
            guard (1...SDPLimits.maxFormatParameterNameBytes).contains(parameter.name.utf8.count),
                  parameter.name.utf8.allSatisfy(isParameterNameChar) else {
                throw SDPError(.malformedAttribute,
                               "fmtp parameter names of payload type \(payloadType) are 1-\(SDPLimits.maxFormatParameterNameBytes) characters of A-Z a-z 0-9 - _ .")
            }
            guard (1...SDPLimits.maxFormatParameterValueBytes).contains(parameter.value.utf8.count),
                  parameter.value.utf8.allSatisfy({ (0x21..<0x7f).contains($0) && $0 != UInt8(ascii: ";") }) else {
                throw SDPError(.malformedAttribute,
                               "fmtp parameter \(parameter.name) of payload type \(payloadType) needs a value of 1-\(SDPLimits.maxFormatParameterValueBytes) visible characters without ;")
            }
            let lower = SDPText.lowercased(parameter.name)
            guard !names.contains(lower) else {
                throw SDPError(.duplicateAttribute, "fmtp parameter \(parameter.name) of payload type \(payloadType) appears twice")
            }
            names.append(lower)
        }
    }

    /// `name=value;name=value` (one optional space after each `;`).
    static func parseParameters(_ text: Substring, payloadType: UInt8) throws(SDPError) -> [FormatParameter] {
        var parameters: [FormatParameter] = []
        for var item in text.split(separator: ";", omittingEmptySubsequences: false) {
            if parameters.count > 0, item.first == " " { item = item.dropFirst() }
            guard let equals = item.firstIndex(of: "=") else {
                throw SDPError(.malformedAttribute, "fmtp of payload type \(payloadType): every parameter is name=value")
            }
            parameters.append(FormatParameter(String(item[..<equals]), String(item[item.index(after: equals)...])))
            guard parameters.count <= SDPLimits.maxFormatParameters else {
                throw SDPError(.malformedAttribute, "fmtp of payload type \(payloadType) has more than \(SDPLimits.maxFormatParameters) parameters")
            }
        }
        try checkParameters(parameters, payloadType: payloadType)
        return parameters
    }

    static func checkCredentials(_ ice: IceCredentials) throws(SDPError) {
        guard SDPLimits.iceUfragBytes.contains(ice.usernameFragment.utf8.count), ice.usernameFragment.utf8.allSatisfy(SDPText.isIceChar) else {
            throw SDPError(.invalidIceCredentials, "ice-ufrag must be \(SDPLimits.iceUfragBytes.lowerBound)-\(SDPLimits.iceUfragBytes.upperBound) characters of A-Z a-z 0-9 + /")
        }
        guard SDPLimits.icePasswordBytes.contains(ice.password.utf8.count), ice.password.utf8.allSatisfy(SDPText.isIceChar) else {
            throw SDPError(.invalidIceCredentials, "ice-pwd must be \(SDPLimits.icePasswordBytes.lowerBound)-\(SDPLimits.icePasswordBytes.upperBound) characters of A-Z a-z 0-9 + /")
        }
    }
}

private func isParameterNameChar(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
         UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
        return true
    default:
        return false
    }
}

extension IceCredentials {
    /// Checks the RFC 8839 rules: ufrag 4-256 and password 22-256 ice-chars
    /// (`invalidIceCredentials`; the error never shows the password).
    public func validate() throws(SDPError) {
        try SDPGrammar.checkCredentials(self)
    }
}
