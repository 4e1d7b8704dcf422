import ParleyProtocol
import Prometheus
import SignallingCore
import Synchronization

/// Renders `ServerMetricsSnapshot`s as Prometheus text exposition format (the body of
/// `GET /metrics`), through swift-prometheus's registry.
///
/// Counters (all `_total`, monotonic):
///
/// | metric | labels | from |
/// |---|---|---|
/// | `parley_signal_connections_accepted_total` | | `statistics.connectionsAccepted` |
/// | `parley_signal_authentications_total` | | `statistics.authenticated` |
/// | `parley_signal_calls_connected_total` | | `statistics.callsConnected` |
/// | `parley_signal_calls_total` | `outcome` (CallOutcome case name) | `statistics.callsByOutcome` |
/// | `parley_signal_messages_relayed_total` | `type` | `statistics.relayedByType` |
/// | `parley_signal_rejections_total` | `reason` (SignalErrorCode case name) | `statistics.rejectionsByReason` |
/// | `parley_signal_messages_received_total` | `type` | `messagesReceivedByType` |
/// | `parley_signal_messages_sent_total` | `type` | `messagesSentByType` |
/// | `parley_signal_queue_drops_total` | | `queueDrops` |
/// | `parley_signal_sockets_refused_total` | | `socketsRefused` |
///
/// Gauges: `parley_signal_connections`, `parley_signal_devices`, `parley_signal_sockets`,
/// `parley_signal_calls`, `parley_signal_queued_bytes`.
///
/// The snapshots are cumulative; each counter is increased by the difference from the
/// previous snapshot this exporter rendered. A value lower than before (a new server
/// instance in the same process) resets the counter, which Prometheus reads as a restart.
/// Every rejection reason and call outcome is exported from the start (at 0), so rates
/// and alerts see the series before the first event. Thread-safe (one render at a time).
public final class MetricsExporter: Sendable {
    private let registry = PrometheusCollectorRegistry()
    private let state = Mutex(State())

    private struct State {
        var previous: [String: Int] = [:]
    }

    public init() {
        for code in SignalErrorCode.allCases { _ = counter(Self.rejections, "reason", "\(code)") }
        for outcome in CallOutcome.allCases { _ = counter(Self.calls, "outcome", "\(outcome)") }
    }

    /// The exposition text for `snapshot`.
    public func render(_ snapshot: ServerMetricsSnapshot) -> String {
        state.withLock { state in
            let statistics = snapshot.statistics
            var values: [(Metric, label: (String, String)?, value: Int)] = [
                (Self.connectionsAccepted, nil, statistics.connectionsAccepted),
                (Self.authentications, nil, statistics.authenticated),
                (Self.callsConnected, nil, statistics.callsConnected),
                (Self.queueDrops, nil, snapshot.queueDrops),
                (Self.socketsRefused, nil, snapshot.socketsRefused),
            ]
            values += statistics.callsByOutcome.map { (Self.calls, ("outcome", $0.key), $0.value) }
            values += statistics.relayedByType.map { (Self.relayed, ("type", $0.key), $0.value) }
            values += statistics.rejectionsByReason.map { (Self.rejections, ("reason", "\($0.key)"), $0.value) }
            values += snapshot.messagesReceivedByType.map { (Self.received, ("type", $0.key), $0.value) }
            values += snapshot.messagesSentByType.map { (Self.sent, ("type", $0.key), $0.value) }
            for (metric, label, value) in values {
                let counter = label.map { self.counter(metric, $0.0, $0.1) } ?? registry.makeCounter(descriptor: metric.descriptor)
                let key = metric.descriptor.name + (label.map { "{\($0.0)=\($0.1)}" } ?? "")
                let previous = state.previous[key] ?? 0
                if value < previous {
                    counter.reset()
                    counter.increment(by: Int64(max(0, value)))
                } else if value > previous {
                    counter.increment(by: Int64(value - previous))
                }
                state.previous[key] = max(0, value)
            }
            for (metric, value) in [(Self.connections, snapshot.connections), (Self.devices, snapshot.devices),
                                        (Self.sockets, snapshot.sockets), (Self.callsNow, snapshot.calls),
                                        (Self.queuedBytes, snapshot.queuedBytes)] {
                registry.makeGauge(descriptor: metric.descriptor).set(to: Double(value))
            }
            return registry.emitToString()
        }
    }

    private func counter(_ metric: Metric, _ label: String, _ value: String) -> Counter {
        registry.makeCounter(descriptor: metric.descriptor, labels: [(label, value)])
    }

    // MARK: Names

    /// A metric's name parts and help (MetricNameDescriptor itself is not Sendable).
    private struct Metric: Sendable {
        let name: String
        let unit: String
        let help: String
        var descriptor: MetricNameDescriptor {
            MetricNameDescriptor(namespace: "parley_signal", metricName: name, unitName: unit, helpText: help)
        }
    }

    private static func metric(_ name: String, _ unit: String, _ help: String) -> Metric {
        Metric(name: name, unit: unit, help: help)
    }

    private static let connectionsAccepted = metric("connections_accepted", "total", "WebSocket connections accepted by the signalling core.")
    private static let authentications = metric("authentications", "total", "Devices authenticated.")
    private static let callsConnected = metric("calls_connected", "total", "Calls accepted by the callee.")
    private static let calls = metric("calls", "total", "Calls ended, by outcome.")
    private static let relayed = metric("messages_relayed", "total", "Messages relayed between devices, by envelope type.")
    private static let rejections = metric("rejections", "total", "Error replies sent to devices, by signalling error code.")
    private static let received = metric("messages_received", "total", "Messages received from devices, by envelope type.")
    private static let sent = metric("messages_sent", "total", "Messages sent to devices, by envelope type.")
    private static let queueDrops = metric("queue_drops", "total", "Connections closed because their send queue overflowed.")
    private static let socketsRefused = metric("sockets_refused", "total", "TCP connections refused before TLS at the socket limit.")
    private static let connections = metric("connections", "", "WebSocket connections open.")
    private static let devices = metric("devices", "", "Authenticated devices connected.")
    private static let sockets = metric("sockets", "", "TCP sockets open, handshakes included.")
    private static let callsNow = metric("calls", "", "Calls ringing or connected.")
    private static let queuedBytes = metric("queued_bytes", "", "Bytes waiting in all send queues.")
}
