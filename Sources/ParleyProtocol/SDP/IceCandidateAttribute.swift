/// One ICE candidate attribute (RFC 8839 section 5.1, with the RFC 6544 `tcptype`):
///
///     candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type>
///               [raddr <address> rport <port>] [tcptype active|passive|so] *(<name> <value>)
///
/// `text` is the form libnice's `nice_agent_parse_remote_candidate_sdp` takes and
/// `nice_agent_generate_local_candidate_sdp` produces: the whole attribute line with its
/// `a=` prefix and without CRLF, e.g. `a=candidate:1 1 UDP 2015363327 127.0.0.1 54321 typ host`.
/// `parse` accepts that form and the bare attribute (`candidate:...`, as in RFC 8839).
/// A line libnice generated parses and writes back byte for byte.
///
/// Parley's rules on top of RFC 8839: component 1 only (one bundled component); transport
/// UDP or TCP (TCP needs a tcptype, UDP must not have one); the address and related
/// address are IP literals: host names, including mDNS `.local` names, are refused
/// (`candidateAddressRefused`), because libnice 0.1.21 only takes numeric addresses and a
/// Parley peer never sends names; a host candidate has no raddr/rport.
public struct IceCandidateAttribute: Equatable, Sendable, CustomStringConvertible {
    public enum Transport: String, Equatable, Sendable, CaseIterable {
        case udp = "UDP"
        case tcp = "TCP"
    }

    public enum CandidateType: String, Equatable, Sendable, CaseIterable {
        case host
        case serverReflexive = "srflx"
        case peerReflexive = "prflx"
        case relayed = "relay"
    }

    /// RFC 6544 TCP candidate types.
    public enum TCPType: String, Equatable, Sendable, CaseIterable {
        case active
        case passive
        case simultaneousOpen = "so"
    }

    /// An extension name/value pair after the known fields (e.g. `generation 0`), kept in order.
    public struct Extension: Equatable, Sendable {
        public var name: String
        public var value: String

        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    /// 1-32 ice-chars (ALPHA / DIGIT / `+` / `/`).
    public var foundation: String
    /// Always 1 in Parley.
    public var component: UInt16
    public var transport: Transport
    /// 1 to 2^31 - 1.
    public var priority: UInt32
    public var address: CandidateAddress
    /// 1-65535 (libnice writes 9 for an active TCP candidate).
    public var port: UInt16
    public var type: CandidateType
    /// `raddr` and `rport`, present together or not at all; never on a host candidate.
    public var relatedAddress: CandidateAddress?
    public var relatedPort: UInt16?
    /// Present exactly when `transport` is TCP.
    public var tcpType: TCPType?
    public var extensions: [Extension]

    public init(foundation: String, component: UInt16 = 1, transport: Transport, priority: UInt32,
                address: CandidateAddress, port: UInt16, type: CandidateType,
                relatedAddress: CandidateAddress? = nil, relatedPort: UInt16? = nil,
                tcpType: TCPType? = nil, extensions: [Extension] = []) {
        self.foundation = foundation
        self.component = component
        self.transport = transport
        self.priority = priority
        self.address = address
        self.port = port
        self.type = type
        self.relatedAddress = relatedAddress
        self.relatedPort = relatedPort
        self.tcpType = tcpType
        self.extensions = extensions
    }

    /// The attribute as libnice takes it: `a=candidate:...`, no CRLF.
    public var text: String { "a=" + attributeValue }

    /// The attribute as it follows `a=` on an SDP line: `candidate:...`.
    public var attributeValue: String {
        var text = "candidate:\(foundation) \(component) \(transport.rawValue) \(priority) \(address.text) \(port) typ \(type.rawValue)"
        if let relatedAddress, let relatedPort {
            text += " raddr \(relatedAddress.text) rport \(relatedPort)"
        }
        if let tcpType {
            text += " tcptype \(tcpType.rawValue)"
        }
        for item in extensions {
            text += " \(item.name) \(item.value)"
        }
        return text
    }

    /// Candidates are not secret (they travel sealed, but say only where a peer listens).
    public var description: String { "IceCandidate(\(type.rawValue) \(transport.rawValue) \(address.text):\(port))" }

    /// Parses `a=candidate:...` or `candidate:...` (no CRLF, single spaces, printable
    /// ASCII, at most `SDPLimits.maxCandidateBytes`). Errors: `lineTooLong`,
    /// `malformedCandidate`, `numberOutOfRange`, `candidateAddressRefused`.
    public static func parse(_ text: String) throws(SDPError) -> IceCandidateAttribute {
        let utf8 = Array(text.utf8)
        guard utf8.count <= SDPLimits.maxCandidateBytes else {
            throw SDPError(.lineTooLong, "candidate attribute of \(utf8.count) bytes exceeds the limit of \(SDPLimits.maxCandidateBytes)")
        }
        var body = utf8[...]
        if body.starts(with: "a=".utf8) { body = body.dropFirst(2) }
        guard body.starts(with: "candidate:".utf8) else {
            throw SDPError(.malformedCandidate, "a candidate attribute starts with \"a=candidate:\" or \"candidate:\"")
        }
        body = body.dropFirst(10)
        guard body.allSatisfy({ (0x20..<0x7f).contains($0) }) else {
            throw SDPError(.malformedCandidate, "a candidate attribute is printable ASCII only (no tab, CR, LF or byte above 0x7e)")
        }
        let tokens = body.split(separator: 0x20, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        guard !tokens.contains(where: \.isEmpty) else {
            throw SDPError(.malformedCandidate, "candidate fields are separated by exactly one space, with none at the start or end")
        }
        let maxTokens = 8 + 4 + 2 + 2 * SDPLimits.maxCandidateExtensions
        guard tokens.count <= maxTokens else {
            throw SDPError(.malformedCandidate, "candidate has \(tokens.count) fields, more than the \(maxTokens) allowed")
        }
        guard tokens.count >= 8 else {
            throw SDPError(.malformedCandidate, "candidate has \(tokens.count) fields; it needs at least 8 (foundation to typ <type>)")
        }
        return try parseFields(tokens)
    }

    private static func parseFields(_ tokens: [String]) throws(SDPError) -> IceCandidateAttribute {
        let foundation = tokens[0]
        guard SDPLimits.candidateFoundationBytes.contains(foundation.utf8.count), foundation.utf8.allSatisfy(SDPText.isIceChar) else {
            throw SDPError(.malformedCandidate, "foundation must be 1-32 characters of A-Z a-z 0-9 + /")
        }
        let component = try SDPNumber.parse(tokens[1], max: 256, "candidate component", malformed: .malformedCandidate)
        guard component == 1 else {
            throw SDPError(.malformedCandidate, "component \(component): Parley uses one ICE component, 1")
        }
        let transport: Transport
        switch SDPText.lowercased(tokens[2]) {
        case "udp": transport = .udp
        case "tcp": transport = .tcp
        default: throw SDPError(.malformedCandidate, "transport \(SDPText.quoted(tokens[2])) is not UDP or TCP")
        }
        let priority = try SDPNumber.parse(tokens[3], max: UInt64(SDPLimits.maxCandidatePriority), "candidate priority", malformed: .malformedCandidate)
        guard priority >= 1 else { throw SDPError(.numberOutOfRange, "candidate priority must be at least 1") }
        let address = try candidateAddress(tokens[4], "address")
        let port = try SDPNumber.parse(tokens[5], max: 65535, "candidate port", malformed: .malformedCandidate)
        guard port >= 1 else { throw SDPError(.numberOutOfRange, "candidate port must be 1-65535") }
        guard tokens[6] == "typ" else {
            throw SDPError(.malformedCandidate, "the seventh candidate field must be \"typ\"")
        }
        guard let type = CandidateType(rawValue: tokens[7]) else {
            throw SDPError(.malformedCandidate, "candidate type \(SDPText.quoted(tokens[7])) is not host, srflx, prflx or relay")
        }
        var candidate = IceCandidateAttribute(foundation: foundation, transport: transport, priority: UInt32(priority),
                                              address: address, port: UInt16(port), type: type)
        var index = 8
        if index < tokens.count, tokens[index] == "raddr" {
            guard type != .host else {
                throw SDPError(.malformedCandidate, "a host candidate has no raddr/rport")
            }
            guard index + 3 < tokens.count, tokens[index + 2] == "rport" else {
                throw SDPError(.malformedCandidate, "raddr must be followed by an address, then rport and a port")
            }
            candidate.relatedAddress = try candidateAddress(tokens[index + 1], "raddr")
            candidate.relatedPort = UInt16(try SDPNumber.parse(tokens[index + 3], max: 65535, "candidate rport", malformed: .malformedCandidate))
            index += 4
        }
        guard (tokens.count - index) % 2 == 0 else {
            throw SDPError(.malformedCandidate, "candidate extensions come in name/value pairs; the last name has no value")
        }
        while index < tokens.count {
            let name = tokens[index], value = tokens[index + 1]
            index += 2
            switch name {
            case "tcptype":
                guard candidate.tcpType == nil else { throw SDPError(.malformedCandidate, "tcptype appears twice") }
                guard let tcpType = TCPType(rawValue: SDPText.lowercased(value)) else {
                    throw SDPError(.malformedCandidate, "tcptype \(SDPText.quoted(value)) is not active, passive or so")
                }
                candidate.tcpType = tcpType
            case "typ", "raddr", "rport":
                throw SDPError(.malformedCandidate, "\(name) appears out of place (typ once, then raddr and rport right after the type)")
            default:
                guard candidate.extensions.count < SDPLimits.maxCandidateExtensions else {
                    throw SDPError(.malformedCandidate, "more than \(SDPLimits.maxCandidateExtensions) candidate extensions")
                }
                guard name.utf8.count <= SDPLimits.maxCandidateExtensionBytes, value.utf8.count <= SDPLimits.maxCandidateExtensionBytes else {
                    throw SDPError(.malformedCandidate, "a candidate extension name or value is longer than \(SDPLimits.maxCandidateExtensionBytes) bytes")
                }
                candidate.extensions.append(Extension(name, value))
            }
        }
        switch (transport, candidate.tcpType) {
        case (.tcp, nil): throw SDPError(.malformedCandidate, "a TCP candidate needs tcptype active, passive or so")
        case (.udp, .some): throw SDPError(.malformedCandidate, "a UDP candidate has no tcptype")
        default: break
        }
        return candidate
    }

    private static func candidateAddress(_ token: String, _ what: String) throws(SDPError) -> CandidateAddress {
        if let address = CandidateAddress(token) { return address }
        let looksLikeName = token.utf8.contains { !SDPText.isDigit($0) && $0 != UInt8(ascii: ".") && $0 != UInt8(ascii: ":") }
            && !token.utf8.contains(UInt8(ascii: ":")) && !token.utf8.contains(UInt8(ascii: "%"))
        if looksLikeName {
            let mdns = SDPText.lowercased(token).hasSuffix(".local")
            throw SDPError(.candidateAddressRefused,
                           "candidate \(what) is a host name\(mdns ? " (mDNS .local)" : ""): Parley takes IPv4 or IPv6 literals only")
        }
        throw SDPError(.malformedCandidate, "candidate \(what) is not a valid IPv4 or IPv6 address (no zone, no leading zeros)")
    }
}
