#if canImport(Glibc)
import Glibc
#endif
import ParleyProtocol
import XCTest

/// RFC 8839 candidate attributes: lines libnice writes come back byte for byte, and
/// everything outside Parley's rules is refused with its code.
final class SDPCandidateTests: XCTestCase {
    private typealias F = SDPFixtures

    /// Lines in the form `nice_agent_generate_local_candidate_sdp` (libnice 0.1.21) writes.
    private let libniceLines = [
        "a=candidate:1 1 UDP 2015363327 127.0.0.1 54321 typ host",
        "a=candidate:2 1 UDP 1679819007 203.0.113.7 61234 typ srflx raddr 192.168.1.20 rport 54321",
        "a=candidate:3 1 UDP 8388607 198.51.100.3 49152 typ relay raddr 203.0.113.7 rport 61234",
        "a=candidate:4 1 TCP 1015021823 192.168.1.20 9 typ host tcptype active",
        "a=candidate:5 1 TCP 1010827519 192.168.1.20 40001 typ host tcptype passive",
        "a=candidate:6 1 TCP 1019216383 192.168.1.20 40002 typ host tcptype so",
        "a=candidate:7 1 UDP 2015363583 2001:db8::1f 54322 typ host",
        "a=candidate:8 1 UDP 2015363583 fe80::a00:27ff:fe4e:66a1 54323 typ host",
        "a=candidate:9 1 UDP 1862270975 2001:db8:0:1::5 50000 typ prflx raddr 2001:db8::1f rport 54322",
        "a=candidate:10 1 TCP 645922815 203.0.113.7 9 typ srflx raddr 192.168.1.20 rport 9 tcptype active",
    ]

    func testLibniceLinesRoundTripByteForByte() throws {
        for line in libniceLines {
            let candidate = try IceCandidateAttribute.parse(line)
            XCTAssertEqual(candidate.text, line)
            XCTAssertEqual(candidate.attributeValue, String(line.dropFirst(2)))
            XCTAssertEqual(try IceCandidateAttribute.parse(candidate.attributeValue), candidate, "the bare form parses the same")
        }
    }

    func testFieldsOfHostSrflxRelayTCPAndIPv6Candidates() throws {
        let host = try IceCandidateAttribute.parse(libniceLines[0])
        XCTAssertEqual(host, IceCandidateAttribute(foundation: "1", transport: .udp, priority: 2_015_363_327,
                                                   address: CandidateAddress("127.0.0.1")!, port: 54321, type: .host))
        let srflx = try IceCandidateAttribute.parse(libniceLines[1])
        XCTAssertEqual(srflx.type, .serverReflexive)
        XCTAssertEqual(srflx.relatedAddress, CandidateAddress("192.168.1.20"))
        XCTAssertEqual(srflx.relatedPort, 54321)
        XCTAssertEqual(try IceCandidateAttribute.parse(libniceLines[2]).type, .relayed)
        let active = try IceCandidateAttribute.parse(libniceLines[3])
        XCTAssertEqual(active.transport, .tcp)
        XCTAssertEqual(active.tcpType, .active)
        XCTAssertEqual(active.port, 9)
        XCTAssertEqual(try IceCandidateAttribute.parse(libniceLines[4]).tcpType, .passive)
        XCTAssertEqual(try IceCandidateAttribute.parse(libniceLines[5]).tcpType, .simultaneousOpen)
        let v6 = try IceCandidateAttribute.parse(libniceLines[6])
        XCTAssertTrue(v6.address.isIPv6)
        XCTAssertEqual(v6.address.bytes, [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [0x1f])
        XCTAssertEqual(try IceCandidateAttribute.parse(libniceLines[8]).type, .peerReflexive)
    }

    func testBrowserStyleExtensionsAreKeptInOrder() throws {
        let line = "candidate:842163049 1 udp 1686052607 1.2.3.4 46154 typ srflx raddr 10.0.0.17 rport 46154 generation 0 ufrag EEtu network-id 3 network-cost 10"
        let candidate = try IceCandidateAttribute.parse(line)
        XCTAssertEqual(candidate.extensions.map(\.name), ["generation", "ufrag", "network-id", "network-cost"])
        XCTAssertEqual(candidate.transport, .udp)
        XCTAssertEqual(candidate.text, "a=" + line.replacingUDP(), "transport is written upper case, the rest as given")
        XCTAssertEqual(try IceCandidateAttribute.parse(candidate.text), candidate)
    }

    func testPrivacyRelatedAddressWithPortZeroIsAccepted() throws {
        let candidate = try IceCandidateAttribute.parse("a=candidate:2 1 UDP 1679819007 203.0.113.7 61234 typ srflx raddr 0.0.0.0 rport 0")
        XCTAssertEqual(candidate.relatedPort, 0)
    }

    func testRefusedCandidatesGiveTheirCode() {
        let cases: [(String, SDPError.Kind, String)] = [
            ("", .malformedCandidate, "empty"),
            ("a=candidat:1 1 UDP 1 127.0.0.1 1 typ host", .malformedCandidate, "wrong prefix"),
            ("a=candidate:1 1 UDP 1 127.0.0.1 1 typ", .malformedCandidate, "no type"),
            ("a=candidate:1 1 UDP 1 127.0.0.1 1 type host", .malformedCandidate, "type instead of typ"),
            ("a=candidate:1 1 UDP 1 127.0.0.1 1 typ HOST", .malformedCandidate, "type in capitals"),
            ("a=candidate:1 1 UDP 1 127.0.0.1 1 typ relayed", .malformedCandidate, "unknown type"),
            ("a=candidate:1 2 UDP 1 127.0.0.1 1 typ host", .malformedCandidate, "component 2"),
            ("a=candidate:1 1 SCTP 1 127.0.0.1 1 typ host", .malformedCandidate, "transport SCTP"),
            ("a=candidate:1 1 UDP 0 127.0.0.1 1 typ host", .numberOutOfRange, "priority 0"),
            ("a=candidate:1 1 UDP 2147483648 127.0.0.1 1 typ host", .numberOutOfRange, "priority 2^31"),
            ("a=candidate:1 1 UDP 99999999999999999999999 127.0.0.1 1 typ host", .malformedCandidate, "priority of 23 digits"),
            ("a=candidate:1 1 UDP 01 127.0.0.1 1 typ host", .malformedCandidate, "leading zero"),
            ("a=candidate:1 1 UDP 1 127.0.0.1 0 typ host", .numberOutOfRange, "port 0"),
            ("a=candidate:1 1 UDP 1 127.0.0.1 65536 typ host", .numberOutOfRange, "port 65536"),
            ("a=candidate:1 1 UDP 1 4b1c2e3f-8e1d.local 1 typ host", .candidateAddressRefused, "mDNS name"),
            ("a=candidate:1 1 UDP 1 turn.example.com 1 typ relay", .candidateAddressRefused, "FQDN"),
            ("a=candidate:1 1 UDP 1 fe80::1%eth0 1 typ host", .malformedCandidate, "IPv6 zone"),
            ("a=candidate:1 1 UDP 1 127.000.0.1 1 typ host", .malformedCandidate, "IPv4 leading zeros"),
            ("a=candidate:1 1 UDP 1 256.0.0.1 1 typ host", .malformedCandidate, "IPv4 octet 256"),
            ("a=candidate:1 1 UDP 1 1::2::3 1 typ host", .malformedCandidate, "two ::"),
            ("a=candidate:1 1 UDP 1 [::1] 1 typ host", .malformedCandidate, "brackets"),
            ("a=candidate:1 1 TCP 1 127.0.0.1 9 typ host", .malformedCandidate, "TCP without tcptype"),
            ("a=candidate:1 1 UDP 1 127.0.0.1 1 typ host tcptype active", .malformedCandidate, "UDP with tcptype"),
            ("a=candidate:1 1 TCP 1 127.0.0.1 9 typ host tcptype sideways", .malformedCandidate, "unknown tcptype"),
            ("a=candidate:1 1 TCP 1 127.0.0.1 9 typ host tcptype active tcptype passive", .malformedCandidate, "tcptype twice"),
            ("a=candidate:1 1 UDP 1 127.0.0.1 1 typ host raddr 10.0.0.1 rport 5", .malformedCandidate, "host with raddr"),
            ("a=candidate:1 1 UDP 1 1.2.3.4 1 typ srflx raddr 10.0.0.1", .malformedCandidate, "raddr without rport"),
            ("a=candidate:1 1 UDP 1 1.2.3.4 1 typ srflx raddr host.lan rport 5", .candidateAddressRefused, "raddr name"),
            ("a=candidate:1 1 UDP 1 1.2.3.4 1 typ srflx generation 0 rport 5", .malformedCandidate, "rport out of place"),
            ("a=candidate:1 1 UDP 1 127.0.0.1 1 typ host generation", .malformedCandidate, "extension without value"),
            ("a=candidate:1 1 UDP 1 127.0.0.1 1 typ host typ host", .malformedCandidate, "typ twice"),
            ("a=candidate:1  1 UDP 1 127.0.0.1 1 typ host", .malformedCandidate, "double space"),
            ("a=candidate:1 1 UDP 1 127.0.0.1 1 typ host ", .malformedCandidate, "trailing space"),
            ("a=candidate:1 1 UDP 1 127.0.0.1 1 typ host\r\n", .malformedCandidate, "CRLF"),
            ("a=candidate:1\t1 UDP 1 127.0.0.1 1 typ host", .malformedCandidate, "tab"),
            ("a=candidate:f\u{f6}o 1 UDP 1 127.0.0.1 1 typ host", .malformedCandidate, "non-ASCII"),
            ("a=candidate:" + String(repeating: "f", count: 33) + " 1 UDP 1 127.0.0.1 1 typ host", .malformedCandidate, "foundation of 33"),
            ("a=candidate:a-b 1 UDP 1 127.0.0.1 1 typ host", .malformedCandidate, "foundation with -"),
            ("a=candidate:1 1 UDP 1 127.0.0.1 1 typ host" + String(repeating: " x y", count: 9), .malformedCandidate, "9 extensions"),
            ("a=candidate:1 1 UDP 1 127.0.0.1 1 typ host x " + String(repeating: "y", count: 65), .malformedCandidate, "extension value of 65"),
            ("a=candidate:1 1 UDP 1 127.0.0.1 1 typ host x " + String(repeating: "y", count: 500), .lineTooLong, "over 512 bytes"),
        ]
        for (text, kind, what) in cases {
            F.assertRefused(kind, what) { () throws(SDPError) in try IceCandidateAttribute.parse(text) }
        }
    }

    func testAddressFormattingMatchesInetNtop() throws {
        let addresses = [
            "::", "::1", "1::", "2001:db8::1", "2001:db8:0:0:1:0:0:1", "2001:0:0:1:0:0:0:1", "fe80::a00:27ff:fe4e:66a1",
            "::ffff:192.0.2.1", "::192.0.2.1", "::ffff:0:1", "1:2:3:4:5:6:7:8", "0:1:0:1:0:1:0:1", "2001:DB8::ABCD",
            "1:2:3:4:5:6:1.2.3.4", "::0:1", "64:ff9b::1.2.3.4", "0.0.0.0", "255.255.255.255", "10.0.0.1",
        ]
        for text in addresses {
            let address = try XCTUnwrap(CandidateAddress(text), text)
            XCTAssertEqual(address.text, inetNtop(address.bytes), "\(text)")
            XCTAssertEqual(address.bytes, inetPton(text, ipv6: address.isIPv6), "\(text)")
        }
        for text in ["", ":", ":::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "12345::", "::g", "1.2.3", "1.2.3.4.5", "01.2.3.4",
                     "1.2.3.4::", "::1.2.3", "fe80::1%1", " 1.2.3.4", "1:2:3:4:5:6:7::8:9"] {
            XCTAssertNil(CandidateAddress(text), "\(text) parsed")
        }
    }

    private func inetNtop(_ bytes: [UInt8]) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        let family = bytes.count == 16 ? AF_INET6 : AF_INET
        _ = bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func inetPton(_ text: String, ipv6: Bool) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: ipv6 ? 16 : 4)
        let result = bytes.withUnsafeMutableBytes { inet_pton(ipv6 ? AF_INET6 : AF_INET, text, $0.baseAddress) }
        XCTAssertEqual(result, 1, "inet_pton refused \(text)")
        return bytes
    }
}

private extension String {
    /// The sample line with its lower-case transport written the way `text` writes it.
    func replacingUDP() -> String {
        var parts = split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        parts[2] = parts[2].uppercased()
        return parts.joined(separator: " ")
    }
}
