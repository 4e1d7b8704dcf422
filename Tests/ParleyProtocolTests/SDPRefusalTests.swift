import ParleyProtocol
import XCTest

/// Hostile and malformed SDPs: each is refused with its documented code (and line), never
/// a crash, and no error text repeats the SDP or an ICE password.
final class SDPRefusalTests: XCTestCase {
    private typealias F = SDPFixtures
    private typealias Kind = SDPError.Kind

    private func assertRefused(_ kind: Kind, line: Int? = nil, _ what: String, _ text: String,
                               file: StaticString = #filePath, sourceLine: UInt = #line) {
        F.assertRefused(kind, line: line, what, file: file, sourceLine: sourceLine) { () throws(SDPError) in
            try SessionDescription.parse(text)
        }
    }

    private func assertRefused(_ kind: Kind, line: Int? = nil, _ what: String, bytes: [UInt8],
                               file: StaticString = #filePath, sourceLine: UInt = #line) {
        F.assertRefused(kind, line: line, what, file: file, sourceLine: sourceLine) { () throws(SDPError) in
            try SessionDescription.parse(bytes)
        }
    }

    // MARK: Text

    func testInputOverTheSizeLimitIsRefusedBeforeItIsRead() {
        assertRefused(.tooLarge, "16 KiB + 1 of NULs", bytes: [UInt8](repeating: 0, count: SDPLimits.maxBytes + 1))
        let padded = F.goldenOffer + String(repeating: "a=x\r\n", count: (SDPLimits.maxBytes - F.goldenOffer.utf8.count) / 5 + 1)
        assertRefused(.tooLarge, "golden offer padded past 16 KiB", padded)
    }

    func testTooManyLinesIsRefused() {
        assertRefused(.tooManyLines, line: 257, "257 lines", F.goldenOffer + String(repeating: "a=x\r\n", count: 257 - F.goldenOfferLines.count))
    }

    func testLineOverTheLengthLimitIsRefused() {
        assertRefused(.lineTooLong, line: 3, "1025-byte s= line", F.replacing("s=-", with: ["s=" + String(repeating: "x", count: 1023)]))
    }

    func testLineAtTheLengthLimitIsAccepted() throws {
        _ = try SessionDescription.parse(F.replacing("s=-", with: ["s=" + String(repeating: "x", count: 1022)]))
    }

    func testNulNonASCIIAndControlBytesAreRefusedWithTheirLine() {
        assertRefused(.invalidCharacter, line: 3, "NUL", F.replacing("s=-", with: ["s=a\u{0}b"]))
        assertRefused(.invalidCharacter, line: 3, "UTF-8", F.replacing("s=-", with: ["s=caf\u{e9}"]))
        assertRefused(.invalidCharacter, line: 3, "tab", F.replacing("s=-", with: ["s=a\tb"]))
        assertRefused(.invalidCharacter, line: 3, "DEL", F.replacing("s=-", with: ["s=a\u{7f}"]))
        assertRefused(.invalidCharacter, line: 1, "lone 0xff", bytes: [0xff])
    }

    func testEveryLineMustEndInCRLF() {
        assertRefused(.badLineEnding, line: 1, "bare LF endings", F.goldenOfferLines.map { $0 + "\n" }.joined())
        assertRefused(.badLineEnding, line: 3, "lone CR", F.replacing("s=-", with: ["s=a\rb"]))
        assertRefused(.badLineEnding, line: 31, "last line without CRLF", F.goldenOffer + "a=x")
        assertRefused(.badLineEnding, "CR at the very end", bytes: Array(F.goldenOffer.utf8) + [0x0d])
    }

    // MARK: Lines

    func testLinesThatAreNotTypeEqualsValueAreMalformed() {
        assertRefused(.malformedLine, line: 4, "empty line", F.inserting([""], after: "s=-"))
        assertRefused(.malformedLine, line: 4, "no =", F.inserting(["a"], after: "s=-"))
        assertRefused(.malformedLine, line: 4, "upper-case type", F.inserting(["A=x"], after: "s=-"))
        assertRefused(.malformedLine, line: 4, "space before =", F.inserting(["a =x"], after: "s=-"))
        assertRefused(.malformedLine, line: 3, "empty s=", F.replacing("s=-", with: ["s="]))
    }

    func testUnknownAndUnsupportedLineTypesAreRefused() {
        assertRefused(.unknownLineType, line: 4, "q=", F.inserting(["q=1"], after: "s=-"))
        assertRefused(.unsupportedLine, line: 6, "r=", F.inserting(["r=7d 1h 0 25h"], after: "t=0 0"))
        assertRefused(.unsupportedLine, line: 6, "z=", F.inserting(["z=2882844526 -1h"], after: "t=0 0"))
        assertRefused(.unsupportedLine, line: 6, "k=", F.inserting(["k=clear:secret"], after: "t=0 0"))
    }

    func testLinesOutOfTheRFC8866OrderAreRefused() {
        assertRefused(.lineOutOfOrder, line: 6, "c= after t=", F.inserting(["c=IN IP4 0.0.0.0"], after: "t=0 0"))
        assertRefused(.lineOutOfOrder, line: 4, "second s=", F.inserting(["s=again"], after: "s=-"))
        assertRefused(.lineOutOfOrder, line: 6, "second t=", F.inserting(["t=0 0"], after: "t=0 0"))
        assertRefused(.lineOutOfOrder, line: 13, "b= after a= in a section", F.inserting(["b=TIAS:1"], after: "a=mid:0"))
        assertRefused(.lineOutOfOrder, line: 11, "v= inside a section", F.inserting(["v=0"], after: "m=audio 9 UDP/PARLEY 111 0"))
        assertRefused(.lineOutOfOrder, line: 11, "t= inside a section", F.inserting(["t=0 0"], after: "m=audio 9 UDP/PARLEY 111 0"))
        assertRefused(.lineOutOfOrder, line: 12, "second c= in a section",
                      F.inserting(["c=IN IP4 0.0.0.0", "c=IN IP4 0.0.0.0"], after: "m=audio 9 UDP/PARLEY 111 0"))
    }

    func testMandatoryLinesMustBePresent() {
        assertRefused(.missingLine, line: 1, "empty input", bytes: [])
        assertRefused(.missingLine, line: 1, "no v=", F.text(Array(F.goldenOfferLines.dropFirst())))
        assertRefused(.missingLine, line: 2, "no o=", F.replacing("o=- 4611731400430051336 1 IN IP4 0.0.0.0", with: []))
        assertRefused(.missingLine, line: 5, "no t=", F.replacing("t=0 0", with: []))
        assertRefused(.missingLine, "no m=", F.text(Array(F.goldenOfferLines.prefix(9))))
        assertRefused(.missingLine, "no ice-ufrag", F.replacing("a=ice-ufrag:Xy7q", with: []))
        assertRefused(.missingLine, "no ice-pwd", F.replacing("a=ice-pwd:abcdefghijklmnopqrstuv", with: []))
        assertRefused(.missingLine, "no ice-options", F.replacing("a=ice-options:trickle", with: []))
        assertRefused(.missingLine, line: 10, "no mid", F.replacing("a=mid:0", with: []))
        assertRefused(.missingLine, line: 27, "no max-message-size", F.replacing("a=max-message-size:1048576", with: []))
        assertRefused(.missingLine, line: 9, "no c= anywhere", F.replacing("c=IN IP4 0.0.0.0", with: []))
    }

    func testOnlyVersionZeroIsAccepted() {
        assertRefused(.unsupportedVersion, line: 1, "v=1", F.replacing("v=0", with: ["v=1"]))
        assertRefused(.unsupportedVersion, line: 1, "v=00", F.replacing("v=0", with: ["v=00"]))
    }

    func testMalformedOriginsAreRefused() {
        let origin = "o=- 4611731400430051336 1 IN IP4 0.0.0.0"
        assertRefused(.malformedOrigin, line: 2, "5 fields", F.replacing(origin, with: ["o=- 1 1 IN IP4"]))
        assertRefused(.malformedOrigin, line: 2, "letters in sess-id", F.replacing(origin, with: ["o=- 12ab 1 IN IP4 0.0.0.0"]))
        assertRefused(.malformedOrigin, line: 2, "leading zero", F.replacing(origin, with: ["o=- 012 1 IN IP4 0.0.0.0"]))
        assertRefused(.malformedOrigin, line: 2, "nettype", F.replacing(origin, with: ["o=- 1 1 ATM NSAP 0.0.0.0"]))
        assertRefused(.malformedOrigin, line: 2, "double space", F.replacing(origin, with: ["o=-  1 1 IN IP4 0.0.0.0"]))
        assertRefused(.numberOutOfRange, line: 2, "sess-id 2^64", F.replacing(origin, with: ["o=- 18446744073709551616 1 IN IP4 0.0.0.0"]))
    }

    func testOnlyUnboundedTimingIsAccepted() {
        assertRefused(.unsupportedTiming, line: 5, "t=1 2", F.replacing("t=0 0", with: ["t=3034423619 3042462419"]))
    }

    func testMalformedConnectionLinesAreRefused() {
        for value in ["IN IP4 0.0.0.0/127", "IN IP4 ::1", "IN IP6 10.0.0.1", "IN IP4 host.example", "IN IP4 010.0.0.1", "IN IP4"] {
            assertRefused(.malformedConnection, line: 4, value, F.replacing("c=IN IP4 0.0.0.0", with: ["c=" + value]))
        }
    }

    // MARK: Media lines

    func testMalformedMediaLinesAreRefused() {
        let audio = "m=audio 9 UDP/PARLEY 111 0"
        assertRefused(.malformedMediaLine, line: 10, "no format", F.replacing(audio, with: ["m=audio 9 UDP/PARLEY"]))
        assertRefused(.malformedMediaLine, line: 10, "port count", F.replacing(audio, with: ["m=audio 9/2 UDP/PARLEY 111 0"]))
        assertRefused(.malformedMediaLine, line: 10, "trailing space", F.replacing(audio, with: [audio + " "]))
        assertRefused(.malformedMediaLine, line: 27, "application format", F.replacing("m=application 9 UDP/PARLEY parley",
                                                                                          with: ["m=application 9 UDP/PARLEY webrtc-datachannel"]))
        assertRefused(.numberOutOfRange, line: 10, "port 65536", F.replacing(audio, with: ["m=audio 65536 UDP/PARLEY 111 0"]))
    }

    func testUnknownMediaAndSecondSectionOfAKindAreRefused() {
        assertRefused(.unsupportedMedia, line: 10, "text", F.replacing("m=audio 9 UDP/PARLEY 111 0", with: ["m=text 9 UDP/PARLEY 111 0"]))
        assertRefused(.unsupportedMedia, line: 18, "second audio", F.replacing("m=video 9 UDP/PARLEY 96 97", with: ["m=audio 9 UDP/PARLEY 96 97"]))
    }

    func testOnlyTheParleyProtoIsAccepted() {
        for proto in ["RTP/AVP", "UDP/TLS/RTP/SAVPF", "udp/parley", "UDP/DTLS/SCTP"] {
            assertRefused(.unsupportedProto, line: 10, proto, F.replacing("m=audio 9 UDP/PARLEY 111 0", with: ["m=audio 9 \(proto) 111 0"]))
        }
    }

    func testBadPayloadTypesAreRefused() {
        let audio = "m=audio 9 UDP/PARLEY 111 0"
        assertRefused(.badPayloadType, line: 10, "200", F.replacing(audio, with: ["m=audio 9 UDP/PARLEY 111 200"]))
        assertRefused(.badPayloadType, line: 10, "unknown static 18", F.replacing(audio, with: ["m=audio 9 UDP/PARLEY 111 18"]))
        assertRefused(.badPayloadType, line: 10, "listed twice", F.replacing(audio, with: ["m=audio 9 UDP/PARLEY 111 0 111"]))
        assertRefused(.badPayloadType, line: 10, "not a number", F.replacing(audio, with: ["m=audio 9 UDP/PARLEY 111 opus"]))
        assertRefused(.badPayloadType, line: 10, "dynamic without rtpmap", F.replacing("a=rtpmap:111 opus/48000/2", with: []))
        assertRefused(.badPayloadType, line: 10, "static 0 as another codec",
                      F.replacing("a=rtpmap:0 PCMU/8000", with: ["a=rtpmap:0 opus/48000/2"]))
        assertRefused(.badPayloadType, line: 17, "rtpmap for a type not on m=", F.inserting(["a=rtpmap:98 L16/8000"], after: "a=rtpmap:0 PCMU/8000"))
        assertRefused(.badPayloadType, line: 17, "fmtp for a type not on m=", F.inserting(["a=fmtp:98 a=1"], after: "a=rtpmap:0 PCMU/8000"))
    }

    func testMoreThanThreeSectionsIsRefused() {
        assertRefused(.tooManyMediaSections, line: 31, "fourth section",
                      F.goldenOffer + F.text(["m=audio 9 UDP/PARLEY 0", "a=mid:3"]))
    }

    func testMoreCodecsThanTheLimitIsRefused() {
        let formats = (0..<17).map { String(96 + $0) }.joined(separator: " ")
        assertRefused(.tooManyCodecs, line: 10, "17 payload types", F.replacing("m=audio 9 UDP/PARLEY 111 0", with: ["m=audio 9 UDP/PARLEY " + formats]))
    }

    // MARK: Attributes

    func testMidsMustBeUniqueTokensOfAtMost16Bytes() {
        assertRefused(.duplicateMid, line: 20, "mid 0 twice", F.replacing("a=mid:1", with: ["a=mid:0"]))
        assertRefused(.invalidMid, line: 12, "17 bytes", F.replacing("a=mid:0", with: ["a=mid:" + String(repeating: "m", count: 17)]))
        assertRefused(.invalidMid, line: 12, "slash", F.replacing("a=mid:0", with: ["a=mid:a/b"]))
        assertRefused(.malformedAttribute, line: 12, "empty", F.replacing("a=mid:0", with: ["a=mid:"]))
    }

    func testMalformedAttributeValuesAreRefused() {
        assertRefused(.malformedAttribute, line: 17, "ptime letters", F.replacing("a=ptime:20", with: ["a=ptime:20ms"]))
        assertRefused(.malformedAttribute, line: 13, "flag with value", F.replacing("a=sendrecv", with: ["a=sendrecv:yes"]))
        assertRefused(.malformedAttribute, line: 15, "fmtp without =", F.replacing("a=fmtp:111 minptime=10;useinbandfec=1", with: ["a=fmtp:111 0-15"]))
        assertRefused(.malformedAttribute, line: 15, "fmtp empty value", F.replacing("a=fmtp:111 minptime=10;useinbandfec=1", with: ["a=fmtp:111 minptime="]))
        assertRefused(.duplicateAttribute, line: 15, "fmtp name twice", F.replacing("a=fmtp:111 minptime=10;useinbandfec=1", with: ["a=fmtp:111 a=1;A=2"]))
        assertRefused(.malformedAttribute, line: 14, "rtpmap without clock", F.replacing("a=rtpmap:111 opus/48000/2", with: ["a=rtpmap:111 opus"]))
        assertRefused(.malformedAttribute, line: 18, "video channels", F.replacing("a=rtpmap:96 VP8/90000", with: ["a=rtpmap:96 VP8/90000/2"]))
        assertRefused(.malformedAttribute, line: 18, "H264 profile not hex",
                      F.replacing("a=fmtp:97 packetization-mode=1;profile-level-id=42e01f", with: ["a=fmtp:97 profile-level-id=42e0zz"]))
        assertRefused(.malformedAttribute, line: 18, "H264 mode 3",
                      F.replacing("a=fmtp:97 packetization-mode=1;profile-level-id=42e01f", with: ["a=fmtp:97 packetization-mode=3"]))
        assertRefused(.malformedAttribute, line: 26, "imageattr send form",
                      F.replacing("a=imageattr:* recv [x=1280,y=720]", with: ["a=imageattr:97 send [x=[320:16:640],y=240]"]))
        assertRefused(.malformedAttribute, line: 25, "fractional framerate", F.replacing("a=framerate:30", with: ["a=framerate:29.97"]))
        assertRefused(.malformedAttribute, line: 9, "ice-options without trickle", F.replacing("a=ice-options:trickle", with: ["a=ice-options:ice2"]))
        assertRefused(.malformedAttribute, line: 13, "attribute name with space", F.replacing("a=sendrecv", with: ["a=send recv"]))
    }

    func testAbsurdNumbersAreRefused() {
        assertRefused(.numberOutOfRange, line: 11, "TIAS 2^32", F.replacing("b=TIAS:64000", with: ["b=TIAS:4294967296"]))
        assertRefused(.malformedLine, line: 11, "hex bitrate", F.replacing("b=TIAS:64000", with: ["b=TIAS:0x10"]))
        assertRefused(.numberOutOfRange, line: 11, "TIAS 0", F.replacing("b=TIAS:64000", with: ["b=TIAS:0"]))
        assertRefused(.numberOutOfRange, line: 11, "TIAS of 30 digits", F.replacing("b=TIAS:64000", with: ["b=TIAS:" + String(repeating: "9", count: 20)]))
        assertRefused(.numberOutOfRange, line: 17, "ptime 0", F.replacing("a=ptime:20", with: ["a=ptime:0"]))
        assertRefused(.numberOutOfRange, line: 17, "ptime 121", F.replacing("a=ptime:20", with: ["a=ptime:121"]))
        assertRefused(.numberOutOfRange, line: 25, "framerate 241", F.replacing("a=framerate:30", with: ["a=framerate:241"]))
        assertRefused(.numberOutOfRange, line: 26, "width 16385", F.replacing("a=imageattr:* recv [x=1280,y=720]", with: ["a=imageattr:* recv [x=16385,y=720]"]))
        assertRefused(.numberOutOfRange, line: 30, "max-message-size 0", F.replacing("a=max-message-size:1048576", with: ["a=max-message-size:0"]))
        assertRefused(.numberOutOfRange, line: 30, "max-message-size 2^32", F.replacing("a=max-message-size:1048576", with: ["a=max-message-size:4294967296"]))
        assertRefused(.numberOutOfRange, line: 14, "clock rate 0", F.replacing("a=rtpmap:111 opus/48000/2", with: ["a=rtpmap:111 opus/0/2"]))
        assertRefused(.numberOutOfRange, line: 14, "9 channels", F.replacing("a=rtpmap:111 opus/48000/2", with: ["a=rtpmap:111 opus/48000/9"]))
    }

    func testIceCredentialsOutsideRFC8839AreRefusedWithoutShowingThem() {
        let ufrag = "a=ice-ufrag:Xy7q", pwd = "a=ice-pwd:abcdefghijklmnopqrstuv"
        assertRefused(.invalidIceCredentials, line: 7, "ufrag of 3", F.replacing(ufrag, with: ["a=ice-ufrag:Xy7"]))
        assertRefused(.invalidIceCredentials, line: 7, "ufrag with -", F.replacing(ufrag, with: ["a=ice-ufrag:Xy-7q"]))
        assertRefused(.invalidIceCredentials, line: 7, "ufrag of 257", F.replacing(ufrag, with: ["a=ice-ufrag:" + String(repeating: "u", count: 257)]))
        assertRefused(.invalidIceCredentials, line: 8, "pwd of 21", F.replacing(pwd, with: ["a=ice-pwd:abcdefghijklmnopqrstu"]))
        let secret = "secretpasswordwithbad!char"
        do {
            _ = try SessionDescription.parse(F.replacing(pwd, with: ["a=ice-pwd:" + secret]))
            XCTFail("accepted a password with !")
        } catch {
            XCTAssertEqual(error.kind, .invalidIceCredentials)
            XCTAssertFalse(error.description.contains("secretpassword"), "the error shows the password: \(error)")
        }
    }

    func testDuplicateSingleAttributesAreRefused() {
        assertRefused(.duplicateAttribute, line: 8, "ice-ufrag twice", F.inserting(["a=ice-ufrag:Xy7q"], after: "a=ice-ufrag:Xy7q"))
        assertRefused(.duplicateAttribute, line: 9, "ice-pwd twice", F.inserting(["a=ice-pwd:abcdefghijklmnopqrstuv"], after: "a=ice-pwd:abcdefghijklmnopqrstuv"))
        assertRefused(.duplicateAttribute, line: 7, "BUNDLE twice", F.inserting(["a=group:BUNDLE 0 1 2"], after: "a=group:BUNDLE 0 1 2"))
        assertRefused(.duplicateAttribute, line: 13, "mid twice", F.inserting(["a=mid:0"], after: "a=mid:0"))
        assertRefused(.duplicateAttribute, line: 14, "two directions", F.inserting(["a=recvonly"], after: "a=sendrecv"))
        assertRefused(.duplicateAttribute, line: 12, "TIAS twice", F.inserting(["b=TIAS:1"], after: "b=TIAS:64000"))
        assertRefused(.duplicateAttribute, line: 15, "rtpmap twice", F.inserting(["a=rtpmap:111 opus/48000/2"], after: "a=rtpmap:111 opus/48000/2"))
        assertRefused(.duplicateAttribute, line: 18, "ptime twice", F.inserting(["a=ptime:40"], after: "a=ptime:20"))
    }

    func testAttributesAtTheWrongLevelOrInTheWrongSectionAreRefused() {
        assertRefused(.misplacedAttribute, line: 10, "mid at session level", F.inserting(["a=mid:9"], after: "a=ice-options:trickle"))
        assertRefused(.misplacedAttribute, line: 10, "direction at session level", F.inserting(["a=sendonly"], after: "a=ice-options:trickle"))
        assertRefused(.misplacedAttribute, line: 10, "candidate at session level",
                      F.inserting(["a=candidate:1 1 UDP 1 127.0.0.1 1 typ host"], after: "a=ice-options:trickle"))
        assertRefused(.misplacedAttribute, line: 13, "ice-ufrag in a section", F.inserting(["a=ice-ufrag:abcd"], after: "a=mid:0"))
        assertRefused(.misplacedAttribute, line: 21, "ptime in video", F.inserting(["a=ptime:20"], after: "a=mid:1"))
        assertRefused(.misplacedAttribute, line: 13, "framerate in audio", F.inserting(["a=framerate:30"], after: "a=mid:0"))
        assertRefused(.misplacedAttribute, line: 29, "rtpmap in application", F.inserting(["a=rtpmap:96 VP8/90000"], after: "a=mid:2"))
        assertRefused(.misplacedAttribute, line: 13, "max-message-size in audio", F.inserting(["a=max-message-size:10"], after: "a=mid:0"))
        assertRefused(.misplacedAttribute, line: 27, "candidate outside the BUNDLE-tagged section",
                      F.inserting(["a=candidate:1 1 UDP 1 127.0.0.1 1 typ host"], after: "a=imageattr:* recv [x=1280,y=720]"))
    }

    func testBundleGroupMustListTheAcceptedMidsInOrder() {
        let group = "a=group:BUNDLE 0 1 2"
        assertRefused(.bundleMismatch, "missing section", F.replacing(group, with: ["a=group:BUNDLE 0 1"]))
        assertRefused(.bundleMismatch, "reordered", F.replacing(group, with: ["a=group:BUNDLE 1 0 2"]))
        assertRefused(.bundleMismatch, "no group", F.replacing(group, with: []))
        assertRefused(.bundleMismatch, "rejected section listed", F.replacing("m=video 9 UDP/PARLEY 96 97", with: ["m=video 0 UDP/PARLEY 96 97"]))
        assertRefused(.bundleMismatch, line: 6, "empty BUNDLE", F.replacing(group, with: ["a=group:BUNDLE"]))
    }

    func testCandidateLimitsAndRulesApplyInsideTheSDP() {
        let candidate = "a=candidate:1 1 UDP 2015363327 127.0.0.1 54321 typ host"
        let many = [String](repeating: candidate, count: SDPLimits.maxCandidates + 1)
        assertRefused(.tooManyCandidates, line: 17 + SDPLimits.maxCandidates + 1, "33 candidates", F.inserting(many, after: "a=ptime:20"))
        assertRefused(.malformedCandidate, line: 18, "garbage candidate", F.inserting(["a=candidate:garbage"], after: "a=ptime:20"))
        assertRefused(.candidateAddressRefused, line: 18, "mDNS candidate",
                      F.inserting(["a=candidate:1 1 UDP 2015363327 4b1c2e3f.local 54321 typ host"], after: "a=ptime:20"))
        assertRefused(.lineOutOfOrder, line: 19, "candidate after end-of-candidates",
                      F.inserting(["a=end-of-candidates", candidate], after: "a=ptime:20"))
        assertRefused(.duplicateAttribute, line: 19, "end-of-candidates twice",
                      F.inserting(["a=end-of-candidates", "a=end-of-candidates"], after: "a=ptime:20"))
    }

    func testIgnoredLinesAreBounded() {
        let unknown = (0...SDPLimits.maxIgnoredLines).map { "a=x-unknown-\($0)" }
        assertRefused(.tooManyIgnoredLines, line: 10 + SDPLimits.maxIgnoredLines, "65 unknown attributes", F.inserting(unknown, after: "a=ice-options:trickle"))
    }

    func testErrorsNameTheLineButNeverRepeatTheSDP() {
        do {
            _ = try SessionDescription.parse(F.replacing("m=audio 9 UDP/PARLEY 111 0", with: ["m=audio 9 RTP/AVP" + String(repeating: "X", count: 500) + " 0"]))
            XCTFail("accepted")
        } catch {
            XCTAssertEqual(error.code, 4016)
            XCTAssertEqual(error.line, 10)
            XCTAssertLessThan(error.description.utf8.count, 200, "\(error)")
            XCTAssertFalse(error.description.contains("ice-pwd"))
        }
    }

    func testErrorCodesAreStableAndInTheSDPRange() {
        XCTAssertTrue(Kind.allCases.allSatisfy { (4001...4099).contains($0.rawValue) })
        XCTAssertEqual(Set(Kind.allCases.map(\.rawValue)).count, Kind.allCases.count)
        XCTAssertEqual(Kind.tooLarge.rawValue, 4001)
        XCTAssertEqual(Kind.candidateAddressRefused.rawValue, 4030)
        XCTAssertEqual(Kind.nothingInCommon.rawValue, 4041)
        XCTAssertEqual(Kind.invalidPreferences.rawValue, 4047)
    }
}
