import ParleyCrypto
import ParleyProtocol
import XCTest

/// Consent on the sealed path, on explicit time: keepalives after a second of silence,
/// expiry exactly at the timeout, and nothing before the path connected.
final class PathConsentTests: XCTestCase {
    private let start = Timestamp(nanoseconds: 5_000_000_000)

    func testNothingIsDueAndNothingExpiresBeforeThePathConnected() {
        var consent = PathConsent(timeout: .seconds(30))
        consent.frameOpened(now: start)
        consent.frameSent(now: start)
        XCTAssertFalse(consent.isStarted)
        XCTAssertNil(consent.nextDeadline)
        XCTAssertFalse(consent.keepaliveDue(now: start + .seconds(3600)))
        XCTAssertFalse(consent.expired(now: start + .seconds(3600)))
    }

    func testConsentExpiresExactlyAtTheTimeoutWithoutAnOpenedFrame() {
        var consent = PathConsent(timeout: CallTimeouts.default.pathConsent)
        consent.start(now: start)
        XCTAssertEqual(CallTimeouts.default.pathConsent, .seconds(30), "RFC 7675's consent lifetime")
        XCTAssertFalse(consent.expired(now: start + (.seconds(30) - .nanoseconds(1))))
        XCTAssertTrue(consent.expired(now: start + .seconds(30)))
    }

    func testAnOpenedFrameRefreshesConsentButSendingDoesNot() {
        var consent = PathConsent(timeout: .seconds(10))
        consent.start(now: start)
        consent.frameOpened(now: start + .seconds(9))
        XCTAssertFalse(consent.expired(now: start + .seconds(18)))
        XCTAssertTrue(consent.expired(now: start + .seconds(19)))

        var onlySending = PathConsent(timeout: .seconds(10))
        onlySending.start(now: start)
        for second in 1...9 { onlySending.frameSent(now: start + .seconds(second)) }
        XCTAssertTrue(onlySending.expired(now: start + .seconds(10)), "our own traffic proves nothing about the peer")
    }

    func testAKeepaliveIsDueAfterOneSecondWithoutSendingAndSendingPostponesIt() {
        var consent = PathConsent(timeout: .seconds(10))
        consent.start(now: start)
        XCTAssertEqual(CallSpec.keepaliveInterval, .seconds(1))
        XCTAssertFalse(consent.keepaliveDue(now: start + .milliseconds(999)))
        XCTAssertTrue(consent.keepaliveDue(now: start + .seconds(1)))
        consent.frameSent(now: start + .milliseconds(800))
        XCTAssertFalse(consent.keepaliveDue(now: start + .milliseconds(1799)))
        XCTAssertTrue(consent.keepaliveDue(now: start + .milliseconds(1800)))
        consent.frameOpened(now: start + .seconds(5))
        XCTAssertTrue(consent.keepaliveDue(now: start + .seconds(5)), "receiving does not replace sending a keepalive")
    }

    func testTheNextDeadlineIsTheEarlierOfKeepaliveAndExpiry() {
        var consent = PathConsent(timeout: .seconds(3))
        consent.start(now: start)
        XCTAssertEqual(consent.nextDeadline, start + .seconds(1))
        consent.frameSent(now: start + .milliseconds(2500))
        XCTAssertEqual(consent.nextDeadline, start + .seconds(3), "expiry comes before the next keepalive")
        consent.frameOpened(now: start + .seconds(2))
        XCTAssertEqual(consent.nextDeadline, start + .milliseconds(3500))
    }

    func testAKeepaliveControlFrameRoundTripsAndIsNotAGoodbye() {
        XCTAssertEqual(ControlFrame.keepalive.encoded, [0x02])
        XCTAssertEqual(ControlFrame.decode([0x02]), .keepalive)
        XCTAssertNil(ControlFrame.decode([0x02, 0x00]), "a keepalive is exactly one byte")
        XCTAssertNil(ControlFrame.decode([0x03]), "reserved control types are ignored")
        XCTAssertEqual(ControlFrame.decode([0x01, 0x13, 0x90]), .goodbye(code: 5008))
    }
}
