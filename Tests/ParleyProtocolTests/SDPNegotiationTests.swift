import ParleyProtocol
import XCTest

/// Offer/answer: what the answer keeps of the offer, and what `complete` refuses as an answer.
final class SDPNegotiationTests: XCTestCase {
    private typealias F = SDPFixtures

    private func answer(_ offer: SessionDescription, _ preferences: MediaPreferences) throws -> (answer: SessionDescription, negotiated: NegotiatedMedia) {
        try SessionNegotiation.answer(to: offer, preferences: preferences, ice: F.calleeIce, sessionID: 99)
    }

    /// The offerer's view of an agreement equals the answerer's with directions reversed.
    private func offererView(_ negotiated: NegotiatedMedia) -> NegotiatedMedia {
        var view = negotiated
        view.audio?.direction = negotiated.audio?.direction.reversed ?? .inactive
        view.video?.direction = negotiated.video?.direction.reversed ?? .inactive
        view.messages?.direction = negotiated.messages?.direction.reversed ?? .inactive
        return view
    }

    // MARK: Answers

    func testDefaultCallAgreesOnOpusFirstAndMessagesOnBothSidesOverTheWire() throws {
        let offer = F.offer(.default)
        let receivedOffer = try SessionDescription.parse(offer.serialized())
        let (answer, calleeView) = try answer(receivedOffer, .default)
        let receivedAnswer = try SessionDescription.parse(answer.serialized())
        let callerView = try SessionNegotiation.complete(offer: offer, answer: receivedAnswer)

        XCTAssertEqual(callerView, offererView(calleeView))
        XCTAssertEqual(callerView.audio?.codecs.first, .opus)
        XCTAssertEqual(callerView.audio?.codecs.map(\.payloadType), [111, 0])
        XCTAssertEqual(callerView.audio?.sectionIndex, 0)
        XCTAssertEqual(callerView.audio?.mid, "0")
        XCTAssertEqual(callerView.audio?.packetTime, 20)
        XCTAssertEqual(callerView.audio?.maxBitrate, 64_000)
        XCTAssertEqual(callerView.messages, NegotiatedMessages(mid: "1", sectionIndex: 1, direction: .sendrecv, maxMessageSize: 1_048_576))
        XCTAssertNil(callerView.video)
        XCTAssertEqual(answer.ice, F.calleeIce)
        XCTAssertEqual(answer.sessionID, 99)
        XCTAssertTrue(answer.candidates.isEmpty)
    }

    func testAnswerKeepsCommonCodecsInTheOfferersOrderWithTheOfferersPayloadTypes() throws {
        var offerPreferences = MediaPreferences.audioOnly
        offerPreferences.audio?.codecs = [.opus, .pcmu, .g722]
        var calleeOpus = MediaCodec.opus
        calleeOpus.payloadType = 109
        calleeOpus.parameters = [FormatParameter("stereo", "1")]
        var answerPreferences = MediaPreferences.audioOnly
        answerPreferences.audio?.codecs = [.g722, calleeOpus]

        let (answer, negotiated) = try answer(F.offer(offerPreferences), answerPreferences)
        XCTAssertEqual(answer.media[0].codecs.map(\.payloadType), [111, 9], "offer order, offer payload types, PCMU dropped")
        XCTAssertEqual(answer.media[0].codecs[0].parameters, [FormatParameter("stereo", "1")], "the answerer's fmtp")
        XCTAssertEqual(negotiated.audio?.codecs, answer.media[0].codecs)
    }

    func testAnswerTakesTheLowerLimitsAndTheLongerPacketTime() throws {
        var offerPreferences = MediaPreferences.audioVideoMessages
        offerPreferences.audio?.maxBitrate = 32_000
        offerPreferences.audio?.packetTime = 20
        offerPreferences.video?.maxBitrate = 2_000_000
        offerPreferences.video?.maxResolution = VideoResolution(width: 1920, height: 1080)
        offerPreferences.video?.maxFrameRate = 24
        offerPreferences.messages?.maxMessageSize = 65_536
        var answerPreferences = MediaPreferences.audioVideoMessages
        answerPreferences.audio?.maxBitrate = 48_000
        answerPreferences.audio?.packetTime = 40
        answerPreferences.video?.maxBitrate = 500_000
        answerPreferences.video?.maxResolution = VideoResolution(width: 640, height: 1200)
        answerPreferences.video?.maxFrameRate = 60
        answerPreferences.messages?.maxMessageSize = 1_000_000

        let offer = F.offer(offerPreferences)
        let (answer, negotiated) = try answer(offer, answerPreferences)
        XCTAssertEqual(negotiated.audio?.maxBitrate, 32_000)
        XCTAssertEqual(negotiated.audio?.packetTime, 40)
        XCTAssertEqual(negotiated.video?.maxBitrate, 500_000)
        XCTAssertEqual(negotiated.video?.maxResolution, VideoResolution(width: 640, height: 1080))
        XCTAssertEqual(negotiated.video?.maxFrameRate, 24)
        XCTAssertEqual(negotiated.messages?.maxMessageSize, 65_536)
        XCTAssertEqual(try SessionNegotiation.complete(offer: offer, answer: try SessionDescription.parse(answer.serialized())),
                       offererView(negotiated))
    }

    func testLimitSetOnOneSideOnlyIsKept() throws {
        var offerPreferences = MediaPreferences.audioVideoMessages
        offerPreferences.audio?.maxBitrate = nil
        offerPreferences.video?.maxResolution = nil
        var answerPreferences = MediaPreferences.audioVideoMessages
        answerPreferences.video?.maxFrameRate = nil
        let (_, negotiated) = try answer(F.offer(offerPreferences), answerPreferences)
        XCTAssertEqual(negotiated.audio?.maxBitrate, 64_000)
        XCTAssertEqual(negotiated.video?.maxResolution, VideoResolution(width: 1280, height: 720))
        XCTAssertEqual(negotiated.video?.maxFrameRate, 30)
    }

    func testH264NeedsTheSameProfileAndGetsTheLowerLevel() throws {
        var offerPreferences = MediaPreferences(video: .default)
        offerPreferences.video?.codecs = [.h264]
        var level30 = MediaCodec.h264
        level30.parameters = [FormatParameter("profile-level-id", "42E01E"), FormatParameter("packetization-mode", "1")]
        var answerPreferences = MediaPreferences(video: .default)
        answerPreferences.video?.codecs = [level30]
        let (answer, _) = try answer(F.offer(offerPreferences), answerPreferences)
        XCTAssertEqual(answer.media[0].codecs.first?.parameter("profile-level-id"), "42e01e")

        var high = MediaCodec.h264
        high.parameters = [FormatParameter("profile-level-id", "640c1f"), FormatParameter("packetization-mode", "1")]
        var mode0 = MediaCodec.h264
        mode0.parameters = [FormatParameter("profile-level-id", "42e01f")]
        for codec in [high, mode0] {
            answerPreferences.video?.codecs = [codec]
            F.assertRefused(.nothingInCommon, "H264 \(codec.parameters)") { () throws(SDPError) in
                try SessionNegotiation.answer(to: F.offer(offerPreferences), preferences: answerPreferences, ice: F.calleeIce, sessionID: 1)
            }
        }
    }

    func testUnwantedSectionIsAnsweredWithPortZeroInItsPlace() throws {
        let (answer, negotiated) = try answer(F.offer(.audioVideoMessages), .default)
        XCTAssertEqual(answer.media.map(\.kind), [.audio, .video, .application])
        XCTAssertEqual(answer.media.map(\.mid), ["0", "1", "2"])
        XCTAssertEqual(answer.media.map(\.isRejected), [false, true, false])
        let text = answer.serializedText()
        XCTAssertTrue(text.contains("m=video 0 UDP/PARLEY 96 97\r\n"))
        XCTAssertTrue(text.contains("a=group:BUNDLE 0 2\r\n"))
        XCTAssertNil(negotiated.video)
        XCTAssertEqual(negotiated.messages?.sectionIndex, 2)
    }

    func testSectionWithoutACommonCodecIsRejected() throws {
        var answerPreferences = MediaPreferences.default
        answerPreferences.audio?.codecs = [.pcma]
        let (answer, negotiated) = try answer(F.offer(.default), answerPreferences)
        XCTAssertTrue(answer.media[0].isRejected)
        XCTAssertNil(negotiated.audio)
        XCTAssertNotNil(negotiated.messages)
    }

    func testNothingInCommonIsAnError() {
        F.assertRefused(.nothingInCommon, "messages offered, audio wanted") { () throws(SDPError) in
            try SessionNegotiation.answer(to: F.offer(.messagesOnly), preferences: .audioOnly, ice: F.calleeIce, sessionID: 1)
        }
        var answerPreferences = MediaPreferences.audioOnly
        answerPreferences.audio?.codecs = [.g722]
        F.assertRefused(.nothingInCommon, "no common codec") { () throws(SDPError) in
            try SessionNegotiation.answer(to: F.offer(.audioOnly), preferences: answerPreferences, ice: F.calleeIce, sessionID: 1)
        }
    }

    func testSectionDisabledInTheOfferStaysRejected() throws {
        var offer = F.offer(.default)
        offer.media[0].isRejected = true
        let (answer, negotiated) = try answer(try SessionDescription.parse(offer.serialized()), .default)
        XCTAssertTrue(answer.media[0].isRejected)
        XCTAssertNil(negotiated.audio)
    }

    func testDirectionsFollowRFC3264() throws {
        let cases: [(offered: MediaDirection, wanted: MediaDirection, answered: MediaDirection)] = [
            (.sendrecv, .sendrecv, .sendrecv), (.sendonly, .sendrecv, .recvonly), (.recvonly, .sendrecv, .sendonly),
            (.inactive, .sendrecv, .inactive), (.sendrecv, .recvonly, .recvonly), (.sendonly, .sendonly, .inactive),
        ]
        for item in cases {
            var offerPreferences = MediaPreferences.audioOnly
            offerPreferences.audio?.direction = item.offered
            var answerPreferences = MediaPreferences.audioOnly
            answerPreferences.audio?.direction = item.wanted
            let offer = F.offer(offerPreferences)
            let (answer, negotiated) = try answer(offer, answerPreferences)
            XCTAssertEqual(answer.media[0].direction, item.answered, "\(item)")
            XCTAssertEqual(negotiated.audio?.direction, item.answered)
            XCTAssertEqual(try SessionNegotiation.complete(offer: offer, answer: answer).audio?.direction, item.answered.reversed)
        }
    }

    func testAnswerRefusesInvalidPreferencesAndCredentialsOfItsOwnSide() {
        var bad = MediaPreferences.default
        bad.audio?.codecs = [MediaCodec(payloadType: 50, name: "opus", clockRate: 48_000)]
        F.assertRefused(.invalidPreferences, "payload type 50") { () throws(SDPError) in
            try SessionNegotiation.answer(to: F.offer(.default), preferences: bad, ice: F.calleeIce, sessionID: 1)
        }
        F.assertRefused(.invalidIceCredentials, "short password") { () throws(SDPError) in
            try SessionNegotiation.answer(to: F.offer(.default), preferences: .default,
                                          ice: IceCredentials(usernameFragment: "abcd", password: "short"), sessionID: 1)
        }
    }

    func testPresetsAreValidAndInvalidPreferencesAreNamed() throws {
        for preferences in [MediaPreferences.default, .audioOnly, .messagesOnly, .audioVideoMessages] {
            XCTAssertNoThrow(try preferences.validate(), "\(preferences)")
        }
        let cases: [(String, MediaPreferences)] = [
            ("nothing", MediaPreferences()),
            ("no audio codec", MediaPreferences(audio: AudioPreferences(codecs: []))),
            ("duplicate payload type", MediaPreferences(audio: AudioPreferences(codecs: [.opus, .opus]))),
            ("bad encoding name", MediaPreferences(audio: AudioPreferences(codecs: [MediaCodec(payloadType: 100, name: "op us", clockRate: 1)]))),
            ("video channels", MediaPreferences(video: VideoPreferences(codecs: [MediaCodec(payloadType: 100, name: "VP9", clockRate: 90_000, channels: 2)]))),
            ("ptime 0", MediaPreferences(audio: AudioPreferences(packetTime: 0))),
            ("bitrate 0", MediaPreferences(audio: AudioPreferences(maxBitrate: 0))),
            ("frame rate 500", MediaPreferences(video: VideoPreferences(maxFrameRate: 500))),
            ("message size 0", MediaPreferences(messages: MessagePreferences(maxMessageSize: 0))),
            ("offer over 16 KiB", MediaPreferences(audio: AudioPreferences(codecs: (0..<16).map { index in
                MediaCodec(payloadType: UInt8(96 + index), name: "X", clockRate: 8000,
                           parameters: (0..<16).map { FormatParameter("p\($0)", String(repeating: "v", count: 100)) })
            }))),
        ]
        for (what, preferences) in cases {
            F.assertRefused(.invalidPreferences, what) { () throws(SDPError) in try preferences.validate() }
        }
    }

    // MARK: complete() refusals

    private func assertAnswerRefused(_ kind: SDPError.Kind, _ what: String, offer: SessionDescription = SDPFixtures.offer(.audioVideoMessages),
                                     file: StaticString = #filePath, line: UInt = #line, _ edit: (inout SessionDescription) -> Void) throws {
        var (answer, _) = try answer(offer, .audioVideoMessages)
        edit(&answer)
        F.assertRefused(kind, what, file: file, sourceLine: line) { () throws(SDPError) in
            try SessionNegotiation.complete(offer: offer, answer: answer)
        }
    }

    func testCompleteRefusesAnswersWithOtherSections() throws {
        try assertAnswerRefused(.answerSectionsMismatch, "one section fewer") { $0.media.removeLast() }
        try assertAnswerRefused(.answerSectionsMismatch, "one section more") { answer in
            answer.media.append(MediaSection(kind: .audio, mid: "9", isRejected: true, codecs: [.pcmu]))
        }
        try assertAnswerRefused(.answerSectionsMismatch, "sections swapped") { $0.media.swapAt(0, 1) }
        try assertAnswerRefused(.answerMidChanged, "mid changed") { $0.media[2].mid = "m" }
        var offer = F.offer(.audioVideoMessages)
        offer.media[1].isRejected = true
        try assertAnswerRefused(.answerSectionsMismatch, "accepting a disabled section", offer: offer) { answer in
            answer.media[1] = F.offer(.audioVideoMessages).media[1]
        }
        try assertAnswerRefused(.nothingInCommon, "every section rejected") { answer in
            for index in answer.media.indices { answer.media[index].isRejected = true }
        }
    }

    func testCompleteRefusesCodecsThatWereNotOffered() throws {
        try assertAnswerRefused(.answerCodecNotOffered, "payload type not offered") { $0.media[0].codecs[0].payloadType = 120 }
        try assertAnswerRefused(.answerCodecNotOffered, "offered type, other codec") { answer in
            answer.media[0].codecs[0] = MediaCodec(payloadType: 111, name: "G722", clockRate: 8000)
        }
        try assertAnswerRefused(.answerCodecNotOffered, "other clock rate") { $0.media[0].codecs[0].clockRate = 16_000 }
        try assertAnswerRefused(.answerCodecNotOffered, "mono where stereo was offered") { $0.media[0].codecs[0].channels = 1 }
        try assertAnswerRefused(.answerCodecNotOffered, "no codec") { $0.media[1].codecs = [] }
        try assertAnswerRefused(.answerCodecNotOffered, "payload type twice") { $0.media[0].codecs.append($0.media[0].codecs[0]) }
        try assertAnswerRefused(.answerCodecNotOffered, "H264 profile changed") { answer in
            answer.media[1].codecs[1].parameters = [FormatParameter("packetization-mode", "1"), FormatParameter("profile-level-id", "640c1f")]
        }
    }

    func testCompleteRefusesParametersAboveTheOffer() throws {
        try assertAnswerRefused(.answerExceedsOffer, "audio bitrate") { $0.media[0].maxBitrate = 64_001 }
        try assertAnswerRefused(.answerExceedsOffer, "video bitrate") { $0.media[1].maxBitrate = .max }
        try assertAnswerRefused(.answerExceedsOffer, "width") { $0.media[1].maxResolution = VideoResolution(width: 1281, height: 720) }
        try assertAnswerRefused(.answerExceedsOffer, "height") { $0.media[1].maxResolution = VideoResolution(width: 1280, height: 721) }
        try assertAnswerRefused(.answerExceedsOffer, "frame rate") { $0.media[1].maxFrameRate = 31 }
        try assertAnswerRefused(.answerExceedsOffer, "message size") { $0.media[2].maxMessageSize = 1_048_577 }
        try assertAnswerRefused(.answerExceedsOffer, "H264 level") { answer in
            answer.media[1].codecs[1].parameters = [FormatParameter("packetization-mode", "1"), FormatParameter("profile-level-id", "42e020")]
        }
    }

    func testCompleteRefusesDirectionsTheOfferDoesNotAllow() throws {
        var offer = F.offer(.audioVideoMessages)
        offer.media[0].direction = .sendonly
        try assertAnswerRefused(.answerDirectionInvalid, "both send only", offer: offer) { $0.media[0].direction = .sendonly }
        offer.media[0].direction = .inactive
        try assertAnswerRefused(.answerDirectionInvalid, "answer receives what is never sent", offer: offer) { $0.media[0].direction = .recvonly }
    }

    func testCompleteAcceptsAnAnswerThatOmitsOptionalLimits() throws {
        let offer = F.offer(.audioVideoMessages)
        var (answer, _) = try answer(offer, .audioVideoMessages)
        answer.media[0].maxBitrate = nil
        answer.media[1].maxResolution = nil
        let negotiated = try SessionNegotiation.complete(offer: offer, answer: answer)
        XCTAssertEqual(negotiated.audio?.maxBitrate, 64_000, "the offer's limit still applies")
        XCTAssertEqual(negotiated.video?.maxResolution, VideoResolution(width: 1280, height: 720))
    }
}
