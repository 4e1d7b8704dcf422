import ParleyProtocol
import XCTest

/// The exact text Parley writes, and that what it writes parses back to the same value.
final class SDPSerializationTests: XCTestCase {
    private typealias F = SDPFixtures

    func testOfferForAudioVideoMessagesIsTheGoldenText() {
        let offer = F.offer(.audioVideoMessages)
        XCTAssertEqual(offer.serializedText(), F.goldenOffer)
        XCTAssertEqual(offer.serialized(), Array(F.goldenOffer.utf8))
    }

    func testGoldenTextParsesToTheOfferValue() throws {
        XCTAssertEqual(try SessionDescription.parse(F.goldenOffer), F.offer(.audioVideoMessages))
    }

    func testEveryPresetOfferRoundTrips() throws {
        for preferences in [MediaPreferences.default, .audioOnly, .messagesOnly, .audioVideoMessages] {
            let offer = F.offer(preferences)
            XCTAssertEqual(try SessionDescription.parse(offer.serialized()), offer, "\(preferences)")
        }
    }

    func testDescriptionWithEveryOptionalFieldRoundTrips() throws {
        let host = try IceCandidateAttribute.parse("a=candidate:1 1 UDP 2015363327 192.168.1.20 54321 typ host")
        let relay = try IceCandidateAttribute.parse("a=candidate:7 1 UDP 16777215 2001:db8::7 3478 typ relay raddr 203.0.113.9 rport 61000")
        let description = SessionDescription(
            sessionID: .max, version: 0, ice: F.calleeIce,
            media: [
                MediaSection(kind: .audio, mid: "a", isRejected: true, direction: .inactive, codecs: [.pcmu]),
                MediaSection(kind: .video, mid: "v-1", direction: .recvonly, codecs: [.h264, .vp8], maxBitrate: .max,
                             maxResolution: VideoResolution(width: 16384, height: 1), maxFrameRate: 240),
                MediaSection(kind: .application, mid: "m.2", direction: .sendonly, maxMessageSize: .max),
            ],
            candidates: [host, relay], endOfCandidates: true)
        let text = description.serializedText()
        XCTAssertTrue(text.contains("m=audio 0 UDP/PARLEY 0\r\n"))
        XCTAssertTrue(text.contains("a=group:BUNDLE v-1 m.2\r\n"))
        XCTAssertTrue(text.contains("a=imageattr:* recv [x=16384,y=1]\r\na=" + host.attributeValue + "\r\na=" + relay.attributeValue
                                        + "\r\na=end-of-candidates\r\nm=application"),
                      "candidates go in the first accepted section, after its other attributes")
        XCTAssertEqual(try SessionDescription.parse(description.serialized()), description)
    }

    func testDescriptionWithEverySectionRejectedHasNoBundleGroupAndRoundTrips() throws {
        let description = SessionDescription(sessionID: 0, version: 0, ice: F.callerIce,
                                             media: [MediaSection(kind: .application, mid: "0", isRejected: true)])
        XCTAssertFalse(description.serializedText().contains("a=group"))
        XCTAssertEqual(try SessionDescription.parse(description.serialized()), description)
    }

    func testEveryDirectionRoundTrips() throws {
        for direction in MediaDirection.allCases {
            var offer = F.offer(.audioOnly)
            offer.media[0].direction = direction
            XCTAssertTrue(offer.serializedText().contains("a=\(direction.rawValue)\r\n"))
            XCTAssertEqual(try SessionDescription.parse(offer.serialized()), offer)
        }
    }

    func testAbsentDirectionMeansSendrecv() throws {
        let parsed = try SessionDescription.parse(F.replacing("a=sendrecv", with: []))
        XCTAssertEqual(parsed.media[0].direction, .sendrecv)
    }

    func testStaticPayloadTypeWithoutRtpmapGetsTheRFC3551Codec() throws {
        let text = F.text(F.goldenOfferLines.filter { $0 != "a=rtpmap:0 PCMU/8000" }.map {
            $0 == "m=audio 9 UDP/PARLEY 111 0" ? "m=audio 9 UDP/PARLEY 111 0 8 9" : $0
        })
        let parsed = try SessionDescription.parse(text)
        XCTAssertEqual(parsed.media[0].codecs.map(\.payloadType), [111, 0, 8, 9])
        XCTAssertEqual(Array(parsed.media[0].codecs.dropFirst()), [.pcmu, .pcma, .g722])
    }

    func testUnknownAttributesAndInformationLinesAreIgnored() throws {
        let text = F.text(Array(F.goldenOfferLines[0...2]) + ["i=a call", "u=https://example.com", "e=a@example.com", "p=+1 555"]
            + Array(F.goldenOfferLines[3...8]) + ["a=msid-semantic: WMS", "a=ice-lite2"]
            + Array(F.goldenOfferLines[9...11]) + ["a=rtcp-mux", "a=setup:actpass", "a=fingerprint:sha-256 AB:CD"]
            + Array(F.goldenOfferLines[12...]) + ["a=x-parley-future:1"])
        XCTAssertEqual(try SessionDescription.parse(text), F.offer(.audioVideoMessages))
    }

    func testBandwidthTypesOtherThanTIASAreIgnored() throws {
        let text = F.inserting(["b=AS:64"], after: "b=TIAS:64000")
        XCTAssertEqual(try SessionDescription.parse(text).media[0].maxBitrate, 64_000)
        let sessionLevel = F.inserting(["b=AS:2000"], after: "c=IN IP4 0.0.0.0")
        XCTAssertEqual(try SessionDescription.parse(sessionLevel), F.offer(.audioVideoMessages))
    }

    func testConnectionLineMayBeInEverySectionInsteadOfTheSession() throws {
        var lines = F.goldenOfferLines.filter { $0 != "c=IN IP4 0.0.0.0" }
        for (index, line) in lines.enumerated().reversed() where line.hasPrefix("m=") {
            lines.insert(index == 9 ? "c=IN IP6 ::" : "c=IN IP4 192.0.2.1", at: index + 1)
        }
        XCTAssertEqual(try SessionDescription.parse(F.text(lines)), F.offer(.audioVideoMessages))
    }

    func testFmtpWithASpaceAfterTheSemicolonParsesToTheSameParameters() throws {
        let text = F.replacing("a=fmtp:111 minptime=10;useinbandfec=1", with: ["a=fmtp:111 minptime=10; useinbandfec=1"])
        XCTAssertEqual(try SessionDescription.parse(text), F.offer(.audioVideoMessages))
    }

    func testCandidatesInTheSDPAreParsedInOrderWithEndOfCandidates() throws {
        let lines = [
            "a=candidate:1 1 UDP 2015363327 127.0.0.1 54321 typ host",
            "a=candidate:2 1 TCP 1015021823 127.0.0.1 9 typ host tcptype active",
            "a=end-of-candidates",
        ]
        let parsed = try SessionDescription.parse(F.inserting(lines, after: "a=ptime:20"))
        XCTAssertEqual(parsed.candidates.map(\.text), Array(lines.prefix(2)))
        XCTAssertTrue(parsed.endOfCandidates)
        XCTAssertEqual(try SessionDescription.parse(parsed.serialized()), parsed)
    }

    func testStringAndByteParsersAgree() throws {
        XCTAssertEqual(try SessionDescription.parse(F.goldenOffer), try SessionDescription.parse(Array(F.goldenOffer.utf8)))
    }

    func testDescriptionNeverShowsTheIcePassword() {
        let offer = F.offer()
        XCTAssertFalse(offer.description.contains(F.callerIce.password))
        XCTAssertFalse(String(describing: offer).contains(F.callerIce.password))
    }
}
