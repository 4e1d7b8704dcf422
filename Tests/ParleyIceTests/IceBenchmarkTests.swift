import Glibc
import Parley
import Synchronization
import XCTest

/// Figures, printed and never asserted (machines are noisy). They run only with
/// PARLEY_ICE_BENCH=1:
///
///     PARLEY_ICE_BENCH=1 swift test --filter IceBenchmarkTests
final class IceBenchmarkTests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(getenv("PARLEY_ICE_BENCH") != nil, "set PARLEY_ICE_BENCH=1 to run the ICE benchmarks")
    }

    func testPrintsTimeFromGatherToConnectedAtTwentyAndFiveMillisecondPacing() throws {
        let loop = IceLoop()
        try loop.start()
        defer { loop.stop() }
        for (pacing, nomination) in [(20, IceNomination.aggressive), (5, .aggressive), (20, .regular)] {
            var samples: [Duration] = []
            for _ in 0..<21 {
                var configuration = IceCall.loopbackConfiguration(pacing: .milliseconds(pacing))
                configuration.nomination = nomination
                let call = try IceCall(configuration: configuration, loop: loop)
                let start = ContinuousClock.now
                try call.start()
                guard waitUntil(timeout: .seconds(5), { call.a.transport.state == .connected && call.b.transport.state == .connected }) else {
                    call.close()
                    continue
                }
                let connectedA = call.a.log.firstTime { $0 == .stateChanged(.connected) }!
                let connectedB = call.b.log.firstTime { $0 == .stateChanged(.connected) }!
                samples.append(max(connectedA, connectedB) - start)
                call.close()
            }
            samples.sort()
            let median = samples.isEmpty ? .zero : samples[samples.count / 2]
            print("ICE gather → both connected, loopback, \(pacing) ms pacing, \(nomination) nomination: median \(median) "
                + "of \(samples.count) runs (min \(samples.first ?? .zero), max \(samples.last ?? .zero))")
        }
    }

    func testPrintsDatagramsPerSecondWithSingleAndBatchSends() throws {
        let call = try IceCall()
        defer { call.stop() }
        try call.start()
        XCTAssertTrue(waitUntil(timeout: .seconds(10)) { call.a.transport.state == .connected && call.b.transport.state == .connected })
        let size = 1200, total = 200_000, batch = 32
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size * batch, alignment: 8)
        defer { buffer.deallocate() }
        for index in 0..<batch { Datagram.fill(UnsafeMutableRawBufferPointer(rebasing: buffer[(index * size)..<((index + 1) * size)]), sequence: UInt32(index)) }
        let datagrams = (0..<batch).map { UnsafeRawBufferPointer(rebasing: buffer[($0 * size)..<(($0 + 1) * size)]) }

        for mode in ["single", "batch of \(batch)"] {
            let receivedBefore = call.b.received.intact.load(ordering: .relaxed)
            let statsBefore = call.a.transport.stats
            let start = ContinuousClock.now
            var attempted = 0
            while attempted < total {
                if mode == "single" {
                    for datagram in datagrams { _ = call.a.transport.send(datagram) }
                } else {
                    _ = datagrams.withUnsafeBufferPointer { call.a.transport.send(batch: $0) }
                }
                attempted += batch
            }
            let elapsed = ContinuousClock.now - start
            usleep(200_000)
            let stats = call.a.transport.stats
            let sent = stats.packetsSent - statsBefore.packetsSent
            let received = call.b.received.intact.load(ordering: .relaxed) - receivedBefore
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            print("IceTransport \(mode), \(size) B unsealed, loopback: \(Int(Double(sent) / seconds)) datagrams/s sent "
                + "(\(Double(Int(Double(sent) * Double(size) * 8 / seconds / 1e7)) / 100) Gbit/s), "
                + "\(received) of \(sent) received, \(stats.sendDropsWouldBlock - statsBefore.sendDropsWouldBlock) dropped at send")
        }
    }
}
