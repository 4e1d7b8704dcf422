import Foundation
import Parley
import ParleyCrypto
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
}
