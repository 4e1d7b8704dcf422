/// Bounded validation of a remote RFC 8839 candidate attribute before libnice parses it.
///
/// libnice 0.1.21's `nice_agent_parse_remote_candidate_sdp` accepts almost anything (a
/// missing transport or address reaches `g_ascii_strcasecmp(NULL, …)`, component 0 or 7 is
/// taken as is), so Parley checks the grammar first and lets libnice build the candidate
/// from a line known to be well formed.
///
/// The accepted form is the attribute value without "a=" and without line end:
///
///     candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type>
///               [raddr <address> rport <port>] [tcptype <active|passive|so>] [<name> <value>]...
struct IceCandidateAttribute: Equatable {
    var foundation: Substring
    var componentID: UInt32
    var transport: IceCandidateTransport
    var priority: UInt32
    var address: Substring
    var port: UInt16
    var type: IceCandidateType

    static let prefix = "candidate:"

    /// Parses `text`; `iceTCP` says whether TCP candidates are usable.
    static func parse(_ text: String, iceTCP: Bool) throws(IceError) -> IceCandidateAttribute {
        func malformed(_ why: String) -> IceError { IceError(.malformedCandidate, "remote candidate refused: \(why)") }
        func unsupported(_ why: String) -> IceError { IceError(.unsupportedCandidate, "remote candidate ignored: \(why)") }

        let bytes = text.utf8
        guard bytes.count <= IceConstants.maxCandidateAttributeBytes else {
            throw malformed("\(bytes.count) bytes, the limit is \(IceConstants.maxCandidateAttributeBytes)")
        }
        guard bytes.allSatisfy({ $0 >= 0x20 && $0 <= 0x7E }) else {
            throw malformed("only printable ASCII and spaces are allowed (no line ends, no control bytes)")
        }
        if text.hasPrefix("a=") {
            throw malformed("pass the attribute value without the \"a=\" prefix")
        }
        guard text.hasPrefix(prefix) else { throw malformed("it does not start with \"candidate:\"") }
        let tokens = text.dropFirst(prefix.utf8.count).split(separator: " ", omittingEmptySubsequences: false)
        guard !tokens.contains(where: \.isEmpty) else { throw malformed("fields must be separated by single spaces") }
        guard tokens.count >= 8, tokens[6] == "typ" else {
            throw malformed("expected \"<foundation> <component> <transport> <priority> <address> <port> typ <type>\"")
        }
        guard tokens[0].utf8.count <= 32, tokens[0].utf8.allSatisfy(isIceChar) else {
            throw malformed("the foundation must be 1 to 32 ice-chars")
        }
        guard let component = number(tokens[1], maxDigits: 3), (1...256).contains(component) else {
            throw malformed("the component ID must be 1 to 256")
        }
        guard let priority = number(tokens[3], maxDigits: 10), (1...UInt64(UInt32.max)).contains(priority) else {
            throw malformed("the priority must be 1 to 4294967295")
        }
        guard let port = number(tokens[5], maxDigits: 5), (1...65535).contains(port) else {
            throw malformed("the port must be 1 to 65535")
        }
        guard let type = IceCandidateType(rawValue: String(tokens[7])) else {
            throw malformed("the type must be host, srflx, prflx or relay")
        }
        var tcpType: Substring?
        var index = 8
        while index < tokens.count {
            guard index + 1 < tokens.count else { throw malformed("extension \"\(tokens[index].prefix(32))\" has no value") }
            let name = tokens[index], value = tokens[index + 1]
            switch name {
            case "raddr":
                guard IceConfiguration.isNumericAddress(String(value)) else { throw malformed("raddr must be a numeric address") }
            case "rport":
                guard let related = number(value, maxDigits: 5), related <= 65535 else { throw malformed("rport must be 0 to 65535") }
            case "tcptype":
                guard ["active", "passive", "so"].contains(value) else { throw malformed("tcptype must be active, passive or so") }
                tcpType = value
            default:
                break
            }
            index += 2
        }
        let transport: IceCandidateTransport
        switch tokens[2].uppercased() {
        case "UDP":
            transport = .udp
        case "TCP":
            switch tcpType {
            case "active": transport = .tcpActive
            case "passive": transport = .tcpPassive
            case "so": transport = .tcpSimultaneousOpen
            default: throw malformed("a TCP candidate needs a tcptype")
            }
        default:
            throw unsupported("transport \"\(tokens[2].prefix(16))\" (only UDP and TCP)")
        }
        guard IceConfiguration.isNumericAddress(String(tokens[4])) else {
            if tokens[4].utf8.allSatisfy({ isIceChar($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }) {
                throw unsupported("hostname and mDNS (.local) addresses are not resolved")
            }
            throw malformed("the address is neither an IP address nor a hostname")
        }
        guard component == UInt64(IceConstants.componentID) else {
            throw unsupported("component \(component) (Parley uses component 1 only)")
        }
        if transport != .udp && !iceTCP {
            throw unsupported("a TCP candidate while ICE-TCP is off")
        }
        return IceCandidateAttribute(foundation: tokens[0], componentID: UInt32(component), transport: transport,
                                     priority: UInt32(priority), address: tokens[4], port: UInt16(port), type: type)
    }

    /// RFC 8839 ice-char: ALPHA / DIGIT / "+" / "/".
    static func isIceChar(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "/"):
            return true
        default:
            return false
        }
    }

    /// A decimal number of 1 to `maxDigits` digits, no sign or leading "+".
    private static func number(_ token: Substring, maxDigits: Int) -> UInt64? {
        guard (1...maxDigits).contains(token.utf8.count),
              token.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        return UInt64(token)
    }
}
