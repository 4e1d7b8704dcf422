import ParleyCrypto
import ParleyProtocol
import ParleyTesting
import XCTest

/// Two devices in a `CallSimulation` on a virtual clock, and the assertions the call
/// tests share.
class CallSimulationTestCase: XCTestCase {
    var simulation: CallSimulation!
    var alice: SimulatedDevice!
    var bob: SimulatedDevice!

    override func setUpWithError() throws {
        simulation = CallSimulation()
        alice = try simulation.addDevice(name: "alice")
        bob = try simulation.addDevice(name: "bob")
    }

    override func tearDown() {
        simulation = nil
        alice = nil
        bob = nil
    }

    /// Bob (or `callee`) answers every call with this code after ringing 500 ms.
    func answer(_ callee: SimulatedDevice? = nil, code: String?, media: MediaPreferences = .default,
                policy: PeerIdentityPolicy = .requireDeviceID) {
        (callee ?? bob).onIncomingCall = { _ in .accept(securityCode: code, media: media, policy: policy) }
    }

    /// Runs until both calls ended or connected, at most `limit` of virtual time.
    @discardableResult
    func runUntilSettled(_ calls: [CallCore?], limit: Duration = .seconds(120)) -> Bool {
        simulation.run(for: limit) {
            calls.allSatisfy { call in call.map { $0.state.isEnded || $0.state == .connected } ?? false }
        }
    }

    func calleeCall(of caller: CallCore, on device: SimulatedDevice? = nil) -> CallCore? {
        (device ?? bob).call(caller.callID)
    }

    func assertEnded(_ call: CallCore?, _ end: CallEnd, _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(call?.state, .ended(end), message, file: file, line: line)
        XCTAssertEqual(call?.holdsNoSecrets, true, "an ended call must hold no key", file: file, line: line)
        XCTAssertNil(call?.frameSealer, "an ended call must not offer a frame sealer", file: file, line: line)
    }

    func securedEvents(_ device: SimulatedDevice) -> [ShortAuthenticationString] {
        device.events.compactMap { if case let .secured(sas, _) = $0.event { return sas } else { return nil } }
    }
}
