import CNice
import CParleyShims
import CWebSockets
import XCTest

/// Proves the system-library plumbing works on this machine: the Debian packages
/// that `make deps` installs are found through pkg-config, their headers import,
/// they link, and the C shim reaches GLib's signal macro. The peer library and
/// the signalling server stand on exactly these modules.
final class NativeLibrariesTests: XCTestCase {
    func testLibniceAgentIsCreatedAndTheShimConnectsItsSignals() throws {
        let context = try XCTUnwrap(g_main_context_new())
        defer { g_main_context_unref(context) }
        let agent = try XCTUnwrap(nice_agent_new(context, NICE_COMPATIBILITY_RFC5245))
        defer { g_object_unref(UnsafeMutableRawPointer(agent)) }
        let handler: @convention(c) (UnsafeMutableRawPointer?, guint, UnsafeMutableRawPointer?) -> Void = { _, _, _ in }
        let handlerID = CParleyShims_g_signal_connect(UnsafeMutableRawPointer(agent), "candidate-gathering-done",
                                                      unsafeBitCast(handler, to: GCallback.self), nil)
        XCTAssertGreaterThan(handlerID, 0, "g_signal_connect through the shim returned no handler")
        XCTAssertEqual(g_signal_handler_is_connected(UnsafeMutableRawPointer(agent), handlerID), 1)
        let streamID = nice_agent_add_stream(agent, 1)
        XCTAssertGreaterThan(streamID, 0)
    }

    func testLibwebsocketsIsTheExpectedMajorVersion() {
        let version = String(cString: lws_get_library_version())
        XCTAssertTrue(version.hasPrefix("4."), "libwebsockets \(version): Parley is written against 4.x")
    }
}
