import ParleyProtocol

/// Which remote candidates an `IceTransport` hands to libnice.
///
/// The grammar is ParleyProtocol's `IceCandidateAttribute.parse` (RFC 8839 with Parley's
/// rules, the one the call core applies to every trickled blob): libnice 0.1.21's
/// `nice_agent_parse_remote_candidate_sdp` accepts almost anything (a missing transport
/// reaches `g_ascii_strcasecmp(NULL, …)`, component 0 or 7 is taken as is), so it only
/// ever sees the canonical text of a candidate that parsed.
///
/// On top of the grammar, the transport's own rules (Signalling/PROTOCOL.md, "ICE",
/// "Candidate form"): the value comes without "a=", as `localCandidate` events give it; a
/// line that is well formed but names another component or transport, or an address
/// that is a hostname or an mDNS name, is `unsupportedCandidate` (ignored) rather than
/// `malformedCandidate`; a TCP candidate needs ICE-TCP. The cap is the transport's.
enum RemoteCandidatePolicy {
    /// The candidate `attribute` (an RFC 8839 attribute value, `candidate:...`) describes,
    /// if the transport may use it; `iceTCP` says whether TCP candidates are usable.
    static func admit(_ attribute: String, iceTCP: Bool) throws(IceError) -> IceCandidateAttribute {
        guard !attribute.hasPrefix("a=") else { throw malformed("pass the attribute value without the \"a=\" prefix") }
        let candidate: IceCandidateAttribute
        do throws(SDPError) {
            candidate = try IceCandidateAttribute.parse(attribute)
        } catch {
            throw classify(error, attribute)
        }
        if candidate.transport == .tcp && !iceTCP {
            throw unsupported("a TCP candidate while ICE-TCP is off")
        }
        return candidate
    }

    /// Tells a well-formed candidate Parley does not use from a malformed one, for a line
    /// the grammar refused.
    private static func classify(_ error: SDPError, _ attribute: String) -> IceError {
        var fields = attribute.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        if isUnresolvedName(error, fields) {
            return unsupported("hostname and mDNS (.local) addresses are not resolved")
        }
        guard error.kind == .malformedCandidate, fields.count > 2 else { return malformed(error.reason) }
        // The grammar takes component 1 and UDP or TCP only. A line that parses once those
        // two fields are made usable is RFC 8839 for a component or transport Parley does not use.
        var unused: String?
        if isDecimal(fields[1]), let component = Int(fields[1]), (2...256).contains(component) {
            fields[1] = "1"
            unused = "component \(component) (Parley uses component 1 only)"
        }
        if !["udp", "tcp"].contains(fields[2].lowercased()) {
            unused = "transport \"\(fields[2].prefix(16))\" (only UDP and TCP)"
            fields[2] = "UDP"
        }
        guard let unused else { return malformed(error.reason) }
        do throws(SDPError) {
            _ = try IceCandidateAttribute.parse(fields.joined(separator: " "))
        } catch {
            guard isUnresolvedName(error, fields) else { return malformed(error.reason) }
        }
        return unsupported(unused)
    }

    /// The grammar refused a host name, and it is the candidate's address (not `raddr`)
    /// and a plausible hostname: letters, digits, `+ / . -`.
    private static func isUnresolvedName(_ error: SDPError, _ fields: [String]) -> Bool {
        guard error.kind == .candidateAddressRefused, fields.count > 4, CandidateAddress(fields[4]) == nil else { return false }
        return fields[4].utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "+"), UInt8(ascii: "/"), UInt8(ascii: "."), UInt8(ascii: "-"):
                return true
            default:
                return false
            }
        }
    }

    /// 1 to 3 decimal digits, no sign.
    private static func isDecimal(_ token: String) -> Bool {
        (1...3).contains(token.utf8.count) && token.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    private static func malformed(_ why: String) -> IceError {
        IceError(.malformedCandidate, "remote candidate refused: \(why)")
    }

    private static func unsupported(_ why: String) -> IceError {
        IceError(.unsupportedCandidate, "remote candidate ignored: \(why)")
    }
}
