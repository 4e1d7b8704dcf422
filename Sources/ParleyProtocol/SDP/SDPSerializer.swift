extension SessionDescription {
    /// The SDP text, every line ended by CRLF, in the order of Signalling/spec-drafts/sdp.md
    /// ("Lines Parley writes"). It writes what the value holds and checks nothing: a
    /// description made by `SessionNegotiation` from validated preferences and credentials,
    /// or returned by `parse`, is always accepted by `parse` (within `SDPLimits`).
    public func serialized() -> [UInt8] {
        Array(serializedText().utf8)
    }

    /// The same text as a String.
    public func serializedText() -> String {
        var lines: [String] = [
            "v=0",
            "o=- \(sessionID) \(version) IN IP4 0.0.0.0",
            "s=-",
            "c=IN IP4 0.0.0.0",
            "t=0 0",
        ]
        let accepted = acceptedMedia.map(\.mid)
        if !accepted.isEmpty {
            lines.append("a=group:BUNDLE " + accepted.joined(separator: " "))
        }
        lines.append("a=ice-ufrag:" + ice.usernameFragment)
        lines.append("a=ice-pwd:" + ice.password)
        lines.append("a=ice-options:trickle")
        let tagged = media.firstIndex { !$0.isRejected }
        for (index, section) in media.enumerated() {
            section.appendLines(to: &lines)
            if index == tagged {
                lines += candidates.map { "a=" + $0.attributeValue }
                if endOfCandidates { lines.append("a=end-of-candidates") }
            }
        }
        return lines.map { $0 + "\r\n" }.joined()
    }
}

extension MediaSection {
    fileprivate func appendLines(to lines: inout [String]) {
        let port = isRejected ? 0 : SDPLimits.activePort
        let formats = kind == .application ? SDPLimits.applicationFormat : codecs.map { String($0.payloadType) }.joined(separator: " ")
        lines.append("m=\(kind.rawValue) \(port) \(SDPLimits.proto) \(formats)")
        if let maxBitrate { lines.append("b=TIAS:\(maxBitrate)") }
        lines.append("a=mid:" + mid)
        lines.append("a=" + direction.rawValue)
        for codec in codecs {
            let channels = codec.channels.map { "/\($0)" } ?? ""
            lines.append("a=rtpmap:\(codec.payloadType) \(codec.name)/\(codec.clockRate)\(channels)")
            if !codec.parameters.isEmpty {
                lines.append("a=fmtp:\(codec.payloadType) " + codec.parameters.map { "\($0.name)=\($0.value)" }.joined(separator: ";"))
            }
        }
        if let packetTime { lines.append("a=ptime:\(packetTime)") }
        if let maxFrameRate { lines.append("a=framerate:\(maxFrameRate)") }
        if let maxResolution { lines.append("a=imageattr:* recv [x=\(maxResolution.width),y=\(maxResolution.height)]") }
        if let maxMessageSize { lines.append("a=max-message-size:\(maxMessageSize)") }
    }
}
