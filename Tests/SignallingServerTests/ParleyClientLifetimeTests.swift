import Foundation
import Parley
import ParleyCrypto
import Synchronization
import XCTest

/// A `ParleyClient` that its owner drops without `stop()` (an error path that throws past
/// it) must not crash, and must not leave its threads behind.
final class ParleyClientLifetimeTests: CallTestCase {
    private func threadCount() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? 0
    }

    /// Waits (at most 10 s) until this process has no more threads than `limit`.
    private func waitForThreads(atMost limit: Int) async throws {
        try await waitUntil("the client's threads ended (\(threadCount()) threads, expected at most \(limit))",
                            within: .seconds(10)) { self.threadCount() <= limit }
    }

    func testAClientReleasedWithoutStartOrStopEndsItsThreads() async throws {
        let before = threadCount()
        do {
            let client = try ParleyClient(configuration: clientConfiguration(), identity: DeviceIdentity(), logger: Self.quietLogger)
            XCTAssertGreaterThan(threadCount(), before, "the client has threads of its own")
            _ = client.deviceID
        }
        try await waitForThreads(atMost: before)
    }

    func testAnOnlineClientReleasedWithoutStopEndsItsThreadsAndGoesOffline() async throws {
        let watcher = try await startClient()
        let before = threadCount()
        var departed: DeviceID?
        do {
            let client = try ParleyClient(configuration: clientConfiguration(), identity: DeviceIdentity(), logger: Self.quietLogger)
            try client.start()
            try await waitUntil("the client is online") { client.connectionState.isOnline }
            try await waitUntil("the watcher sees it") { watcher.onlinePeers.contains(client.deviceID) }
            departed = client.deviceID
        }
        try await waitForThreads(atMost: before)
        let id = try XCTUnwrap(departed)
        try await waitUntil("the watcher sees it leave") { !watcher.onlinePeers.contains(id) }
    }

    /// Runs `body` on a thread of its own and fails (instead of hanging the suite) when it
    /// has not returned within `limit`.
    private func returns(within limit: Double, _ what: String, _ body: @escaping @Sendable () -> Void) {
        let done = DispatchSemaphore(value: 0)
        Thread { body(); done.signal() }.start()
        XCTAssertEqual(done.wait(timeout: .now() + limit), .success, "\(what) did not return within \(limit) s")
    }

    func testACallHandleKeepsItsDroppedClientAliveAndStillHangsUp() async throws {
        let bob = try await startClient()
        var kept: Call?
        var answered: Call?
        do {
            let alice = try ParleyClient(configuration: clientConfiguration(), identity: DeviceIdentity(), logger: Self.quietLogger)
            try alice.start()
            try await waitUntil("alice is online") { alice.connectionState.isOnline }
            (kept, answered) = try await connectedCall(alice, bob, callerCode: nil, calleeCode: nil)
        }
        // Only the call handle holds alice's client now.
        let call = try XCTUnwrap(kept)
        kept = nil
        XCTAssertEqual(call.state, .connected)
        try call.send(message: Array("still here".utf8))
        returns(within: 10, "hangUp() on a call whose client was dropped") { call.hangUp() }
        XCTAssertEqual(call.end, .hungUpLocally)
        try await waitUntil("bob sees the hang-up") { answered?.end != nil }
        XCTAssertEqual(answered?.end, .hungUpByPeer)
    }

    func testACallUsedAfterItsClientStoppedAnswersInsteadOfWaitingForever() async throws {
        let bob = try await startClient()
        let alice = try ParleyClient(configuration: clientConfiguration(), identity: DeviceIdentity(), logger: Self.quietLogger)
        try alice.start()
        try await waitUntil("alice is online") { alice.connectionState.isOnline }
        let (call, _) = try await connectedCall(alice, bob, callerCode: nil, calleeCode: nil)
        alice.stop()
        XCTAssertEqual(call.end, .hungUpLocally, "stop() hangs up every call")

        returns(within: 10, "hangUp() after the client stopped") { call.hangUp() }
        let acceptFailed = Mutex(false)
        returns(within: 10, "accept() after the client stopped") {
            do { try call.accept() } catch { acceptFailed.withLock { $0 = true } }
        }
        XCTAssertTrue(acceptFailed.withLock { $0 }, "accepting an ended call fails")
        let finished = Mutex(false)
        let waiter = Task {
            do { try await call.connected() } catch {}
            finished.withLock { $0 = true }
        }
        try await waitUntil("connected() after the client stopped returned") { finished.withLock { $0 } }
        waiter.cancel()
        XCTAssertThrowsError(try call.send(message: [1]), "no path after the end")
    }
}
