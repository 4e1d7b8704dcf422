import Foundation
import ParleyProtocol
import SignallingCore
import SignallingServer
import XCTest

/// /metrics: Prometheus text format, monotonic counters fed from cumulative snapshots.
final class MetricsExporterTests: XCTestCase {
    /// A parsed exposition: samples by "name{label="value"}" (or bare name), and TYPE lines.
    private struct Exposition {
        var samples: [String: Double] = [:]
        var types: [String: String] = [:]
    }

    private func parse(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> Exposition {
        var result = Exposition()
        let sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*\})? (-?[0-9.e+]+|NaN|[+-]Inf)$/
        XCTAssertTrue(text.hasSuffix("\n"), file: file, line: line)
        for row in text.split(separator: "\n") {
            if row.hasPrefix("# TYPE ") {
                let parts = row.split(separator: " ")
                XCTAssertEqual(parts.count, 4, String(row), file: file, line: line)
                XCTAssertNil(result.types[String(parts[2])], "one TYPE line per metric: \(row)", file: file, line: line)
                result.types[String(parts[2])] = String(parts[3])
            } else if row.hasPrefix("# HELP ") {
                continue
            } else if let match = try? sample.wholeMatch(in: String(row)) {
                let key = String(match.1) + String(match.2 ?? "")
                XCTAssertNil(result.samples[key], "one sample per series: \(row)", file: file, line: line)
                result.samples[key] = Double(match.3)
            } else {
                XCTFail("not exposition format: \(row.debugDescription)", file: file, line: line)
            }
        }
        return result
    }

    private static func snapshot(relayed signals: Int = 0, rejections: [SignalErrorCode: Int] = [:], accepted: Int = 0,
                                 connections: Int = 0) -> ServerMetricsSnapshot {
        var snapshot = ServerMetricsSnapshot()
        snapshot.statistics.connectionsAccepted = accepted
        snapshot.statistics.relayedByType = ["signal": signals, "invite": signals / 2]
        snapshot.statistics.rejectionsByReason = rejections
        snapshot.connections = connections
        return snapshot
    }

    func testEveryCounterAndGaugeIsRenderedWithItsLabels() {
        var snapshot = ServerMetricsSnapshot()
        snapshot.statistics = ServerStatistics()
        snapshot.statistics.connectionsAccepted = 10
        snapshot.statistics.authenticated = 9
        snapshot.statistics.callsConnected = 3
        snapshot.statistics.callsByOutcome = ["hungUp": 2, "busy": 1]
        snapshot.statistics.relayedByType = ["signal": 40, "accept": 3]
        snapshot.statistics.rejectionsByReason = [.rateLimited: 2, .notEnrolled: 1]
        snapshot.connections = 7
        snapshot.devices = 6
        snapshot.sockets = 8
        snapshot.calls = 1
        snapshot.queuedBytes = 512
        snapshot.queueDrops = 4
        snapshot.socketsRefused = 5
        snapshot.messagesReceivedByType = ["auth": 9, "ping": 20]
        snapshot.messagesSentByType = ["challenge": 10, "pong": 20]
        let exposition = parse(MetricsExporter().render(snapshot))
        let expected: [String: Double] = [
            "parley_signal_connections_accepted_total": 10, "parley_signal_authentications_total": 9,
            "parley_signal_calls_connected_total": 3, "parley_signal_queue_drops_total": 4, "parley_signal_sockets_refused_total": 5,
            #"parley_signal_calls_total{outcome="hungUp"}"#: 2, #"parley_signal_calls_total{outcome="busy"}"#: 1,
            #"parley_signal_messages_relayed_total{type="signal"}"#: 40, #"parley_signal_messages_relayed_total{type="accept"}"#: 3,
            #"parley_signal_rejections_total{reason="rateLimited"}"#: 2, #"parley_signal_rejections_total{reason="notEnrolled"}"#: 1,
            #"parley_signal_messages_received_total{type="auth"}"#: 9, #"parley_signal_messages_received_total{type="ping"}"#: 20,
            #"parley_signal_messages_sent_total{type="challenge"}"#: 10, #"parley_signal_messages_sent_total{type="pong"}"#: 20,
            "parley_signal_connections": 7, "parley_signal_devices": 6, "parley_signal_sockets": 8, "parley_signal_calls": 1,
            "parley_signal_queued_bytes": 512,
        ]
        for (series, value) in expected { XCTAssertEqual(exposition.samples[series], value, series) }
        for name in ["parley_signal_connections", "parley_signal_devices", "parley_signal_sockets", "parley_signal_calls", "parley_signal_queued_bytes"] {
            XCTAssertEqual(exposition.types[name], "gauge", name)
        }
        for (name, type) in exposition.types where name.hasSuffix("_total") { XCTAssertEqual(type, "counter", name) }
    }

    func testEveryRejectionReasonAndCallOutcomeIsExportedFromTheStart() {
        let exposition = parse(MetricsExporter().render(ServerMetricsSnapshot()))
        for code in SignalErrorCode.allCases {
            XCTAssertEqual(exposition.samples["parley_signal_rejections_total{reason=\"\(code)\"}"], 0, "\(code)")
        }
        for outcome in CallOutcome.allCases {
            XCTAssertEqual(exposition.samples["parley_signal_calls_total{outcome=\"\(outcome)\"}"], 0, "\(outcome)")
        }
    }

    func testCountersAdvanceByTheDifferenceBetweenSnapshotsAndGaugesFollow() {
        let exporter = MetricsExporter()
        _ = exporter.render(Self.snapshot(relayed: 10, rejections: [.idleTimeout: 1], accepted: 4, connections: 5))
        _ = exporter.render(Self.snapshot(relayed: 10, rejections: [.idleTimeout: 1], accepted: 4, connections: 5))
        let third = parse(exporter.render(Self.snapshot(relayed: 25, rejections: [.idleTimeout: 3, .replaced: 1], accepted: 5, connections: 2)))
        XCTAssertEqual(third.samples[#"parley_signal_messages_relayed_total{type="signal"}"#], 25, "rendering the same snapshot twice adds nothing")
        XCTAssertEqual(third.samples[#"parley_signal_messages_relayed_total{type="invite"}"#], 12)
        XCTAssertEqual(third.samples[#"parley_signal_rejections_total{reason="idleTimeout"}"#], 3)
        XCTAssertEqual(third.samples[#"parley_signal_rejections_total{reason="replaced"}"#], 1)
        XCTAssertEqual(third.samples["parley_signal_connections_accepted_total"], 5)
        XCTAssertEqual(third.samples["parley_signal_connections"], 2, "a gauge goes down with the snapshot")
    }

    func testACounterThatGoesBackwardsResetsInsteadOfTrapping() {
        let exporter = MetricsExporter()
        _ = exporter.render(Self.snapshot(relayed: 100))
        let restarted = parse(exporter.render(Self.snapshot(relayed: 4)))
        XCTAssertEqual(restarted.samples[#"parley_signal_messages_relayed_total{type="signal"}"#], 4)
        let later = parse(exporter.render(Self.snapshot(relayed: 9)))
        XCTAssertEqual(later.samples[#"parley_signal_messages_relayed_total{type="signal"}"#], 9)
    }

    func testLabelValuesAreEscaped() {
        var snapshot = ServerMetricsSnapshot()
        snapshot.messagesReceivedByType = ["we\"ird\\type\n": 1]
        let exposition = parse(MetricsExporter().render(snapshot))
        XCTAssertEqual(exposition.samples[#"parley_signal_messages_received_total{type="we\"ird\\type\n"}"#], 1)
    }

    func testConcurrentRendersAreSafe() {
        let exporter = MetricsExporter()
        DispatchQueue.concurrentPerform(iterations: 8) { index in
            for step in 0..<50 { _ = exporter.render(Self.snapshot(relayed: step * 8 + index, connections: index)) }
        }
        let final = parse(exporter.render(Self.snapshot(relayed: 1000)))
        XCTAssertEqual(final.samples[#"parley_signal_messages_relayed_total{type="signal"}"#], 1000)
    }
}
