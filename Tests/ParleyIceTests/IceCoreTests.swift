import CNice
@testable import Parley
import ParleyProtocol
import XCTest

/// The parts of the transport that need no sockets: the remote candidate policy and the state tracker.
final class IceCoreTests: XCTestCase {
    func testCandidatePolicyAcceptsLibniceAndRFC8839FormsAndReadsEveryField() throws {
        let host = try RemoteCandidatePolicy.admit("candidate:1 1 UDP 2015363327 127.0.0.1 40000 typ host", iceTCP: false)
        XCTAssertEqual(host.foundation, "1")
        XCTAssertEqual(host.component, 1)
        XCTAssertEqual(host.transport, .udp)
        XCTAssertEqual(host.priority, 2_015_363_327)
        XCTAssertEqual(host.address.text, "127.0.0.1")
        XCTAssertEqual(host.port, 40000)
        XCTAssertEqual(host.type, .host)
        XCTAssertEqual(host.text, "a=candidate:1 1 UDP 2015363327 127.0.0.1 40000 typ host", "libnice gets the canonical text")
        let relay = try RemoteCandidatePolicy.admit(
            "candidate:a+/Z 1 udp 16777215 2001:db8::1 3478 typ relay raddr 192.0.2.1 rport 50000 generation 0", iceTCP: false)
        XCTAssertEqual(relay.type, .relayed)
        XCTAssertEqual(relay.address.text, "2001:db8::1")
        XCTAssertEqual(relay.relatedPort, 50000)
        let tcp = try RemoteCandidatePolicy.admit("candidate:5 1 TCP 1015021823 192.0.2.5 9 typ host tcptype active", iceTCP: true)
        XCTAssertEqual(tcp.transport, .tcp)
        XCTAssertEqual(tcp.tcpType, .active)
    }

    func testCandidatePolicyRefusesEveryMalformationWithItsCode() {
        let malformed = [
            "", "candidate:", "candidate:1 1 UDP 1 127.0.0.1 1 typ",
            "candidate:1  1 UDP 1 127.0.0.1 1 typ host",                 // double space
            "candidate:1 1 UDP 1 127.0.0.1 1 type host",                 // "type"
            "candidate:1 1 UDP 0 127.0.0.1 1 typ host",                  // priority 0
            "candidate:1 1 UDP 4294967296 127.0.0.1 1 typ host",         // priority overflow
            "candidate:1 1 UDP 1 127.0.0.1 0 typ host",                  // port 0
            "candidate:1 1 UDP 1 127.0.0.1 +80 typ host",                // sign
            "candidate:1 0 UDP 1 127.0.0.1 1 typ host",                  // component 0
            "candidate:1 257 UDP 1 127.0.0.1 1 typ host",                // component beyond RFC 8839's 256
            "candidate:1 2 UDP 1 127.0.0.1 0 typ host",                  // another component, but port 0
            "candidate:1 1 SCTP 1 127.0.0.1 1 typ nat",                  // another transport, but an unknown type
            "candidate:1 1 UDP 1 127.0.0.1 1 typ nat",                   // unknown type
            "candidate:1 1 UDP 1 127.0.0.1 1 typ host raddr",            // extension without value
            "candidate:1 1 UDP 1 127.0.0.1 1 typ host raddr x.y rport 1",
            "candidate:1 1 UDP 1 203.0.113.7 1 typ srflx raddr peer.local rport 1", // raddr a name
            "candidate:1 1 TCP 1 127.0.0.1 1 typ host",                  // TCP without tcptype
            "candidate:1 1 UDP 1 127.0.0.1 1 typ host\n",
            "candidate:1 1 UDP 1 127.0.0.1 1 typ host\u{0}",
            "candidate:\(String(repeating: "f", count: 33)) 1 UDP 1 127.0.0.1 1 typ host",
            "candidate:1 1 UDP 1 127.0.0.1 1 typ host " + String(repeating: "x", count: 600),
            "candidate:1 1 UDP 1 1_2 1 typ host",                        // neither address nor hostname
            "a=candidate:1 1 UDP 1 127.0.0.1 1 typ host",
        ]
        for line in malformed {
            XCTAssertThrowsError(try RemoteCandidatePolicy.admit(line, iceTCP: true), line) { error in
                XCTAssertEqual((error as? IceError)?.code, .malformedCandidate, line)
                XCTAssertTrue((error as? IceError)?.message.hasPrefix("remote candidate refused: ") == true, "\(error)")
            }
        }
        let unsupported = [
            "candidate:1 2 UDP 1 127.0.0.1 1 typ host",
            "candidate:1 256 UDP 1 127.0.0.1 1 typ host",
            "candidate:1 1 SCTP 1 127.0.0.1 1 typ host",
            "candidate:1 1 UDP 1 peer.local 1 typ host",
            "candidate:1 2 UDP 1 peer.local 1 typ host",
        ]
        for line in unsupported {
            XCTAssertThrowsError(try RemoteCandidatePolicy.admit(line, iceTCP: false), line) { error in
                XCTAssertEqual((error as? IceError)?.code, .unsupportedCandidate, line)
                XCTAssertTrue((error as? IceError)?.message.hasPrefix("remote candidate ignored: ") == true, "\(error)")
            }
        }
        XCTAssertThrowsError(try RemoteCandidatePolicy.admit("candidate:1 1 TCP 1 127.0.0.1 1 typ host tcptype so", iceTCP: false)) { error in
            XCTAssertEqual((error as? IceError)?.code, .unsupportedCandidate)
        }
    }

    func testTrackerMovesForwardOnlyAndReportsEachStateOnce() {
        var tracker = IceConnectionTracker()
        XCTAssertEqual(tracker.gatheringStarted(), .gathering)
        XCTAssertNil(tracker.gatheringStarted())
        XCTAssertNil(tracker.componentStateChanged(NICE_COMPONENT_STATE_GATHERING))
        XCTAssertEqual(tracker.componentStateChanged(NICE_COMPONENT_STATE_CONNECTING), .connecting)
        XCTAssertNil(tracker.componentStateChanged(NICE_COMPONENT_STATE_CONNECTING))
        XCTAssertEqual(tracker.componentStateChanged(NICE_COMPONENT_STATE_CONNECTED), .connected)
        XCTAssertNil(tracker.componentStateChanged(NICE_COMPONENT_STATE_READY))
        XCTAssertNil(tracker.componentStateChanged(NICE_COMPONENT_STATE_CONNECTING))
        XCTAssertNil(tracker.connectTimedOut(after: .seconds(1)), "a connected transport does not time out")
    }

    func testTrackerReportsFailureAfterConnectedAsConsentLostAndBeforeAsChecksFailed() {
        var connected = IceConnectionTracker()
        _ = connected.componentStateChanged(NICE_COMPONENT_STATE_READY)
        XCTAssertEqual(connected.componentStateChanged(NICE_COMPONENT_STATE_FAILED).map(\.code), .consentLost)
        XCTAssertNil(connected.componentStateChanged(NICE_COMPONENT_STATE_READY), "terminal: no way back")

        var connecting = IceConnectionTracker()
        _ = connecting.componentStateChanged(NICE_COMPONENT_STATE_CONNECTING)
        XCTAssertNil(connecting.componentStateChanged(NICE_COMPONENT_STATE_DISCONNECTED))
        XCTAssertEqual(connecting.componentStateChanged(NICE_COMPONENT_STATE_FAILED).map(\.code), .connectivityChecksFailed)
        XCTAssertNil(connecting.connectTimedOut(after: .seconds(1)))

        var slow = IceConnectionTracker()
        _ = slow.gatheringStarted()
        XCTAssertEqual(slow.connectTimedOut(after: .seconds(1)).map(\.code), .connectTimeout)
        XCTAssertNil(slow.componentStateChanged(NICE_COMPONENT_STATE_CONNECTED), "a timed-out transport stays failed")

        var closed = IceConnectionTracker()
        closed.closed()
        XCTAssertNil(closed.componentStateChanged(NICE_COMPONENT_STATE_CONNECTED))
        XCTAssertEqual(closed.state, .closed)
    }
}

private extension IceTransportState {
    var code: IceError.Code? {
        switch self {
        case let .failed(error), let .disconnected(error): return error.code
        default: return nil
        }
    }
}
