import Foundation

/// Everything `parley-bench connections` measured, as printed and encoded for `--json`.
/// Memory is in KiB as /proc gives it; the table prints MB (10^6 B) and KB (10^3 B).
struct ConnectionsReport: Codable, JSONReport {
    struct Settings: Codable {
        let processes: Int
        let rate: Double
        let pendingPerWorker: Int
        let settleSeconds: Double
        let holdSeconds: Double
        let maxConnections: Int
        let refusalHeadroom: Int
        let hardOpenFileLimit: Int?
        let ephemeralPorts: String?
        let server: String
    }

    struct Measurement: Codable {
        let connections: Int
        let workers: Int
        /// The server up, no connection yet.
        let emptyServer: ProcFS.Memory
        /// All connections online, after the settle time.
        let loadedServer: ProcFS.Memory
        /// After the hold time.
        let heldServer: ProcFS.Memory
        let serverDescriptors: Int?
        /// Soft/hard RLIMIT_NOFILE of the running server.
        let serverOpenFileLimit: String?
        let rampSeconds: Double
        /// Server CPU from the first connection to the last one online: TLS, WebSocket and auth handshakes.
        let serverCPUSecondsDuringRamp: Double
        /// Server CPU while the connections were held idle (their pings), % of one core.
        let serverCPUPercentWhileHeld: Double
        /// VmRSS of all workers together, after the hold.
        let clientResidentKiB: Int
        let clients: WorkerStatus
        /// The first reasons connections were retried or dropped, per worker.
        let clientNotes: [String]
        let serverLog: [String]

        /// Server RSS added per connection, in bytes.
        var serverBytesPerConnection: Double {
            Double(loadedServer.residentKiB - emptyServer.residentKiB) * 1024 / Double(connections)
        }
    }

    /// The issue's goal, and the comparison it states (measured elsewhere, not here).
    static let goalBytesPerConnection = 20_000.0
    static let reference = "gorilla/websocket server in Go (issue text, not measured here): about 24-30 KB per idle TLS connection"

    let environment: CryptoReport.Environment
    /// /proc/loadavg when the run started: other work on the machine shows here.
    let loadAverage: String?
    let settings: Settings
    var notes: [String]
    var measurements: [Measurement] = []
}

extension ConnectionsReport {
    var table: String {
        typealias C = TextColumns
        func megabytes(_ kib: Int) -> String { C.fixed(Double(kib) * 1024 / 1e6, 1) }
        var lines: [String] = []
        lines.append("parley-bench connections: idle authenticated TLS WebSocket connections held by parley-signal; clients in "
                     + "\(settings.processes) worker processes (one SignallingLoop each), one realm per device, opened at up to "
                     + "\(Int(settings.rate))/s with at most \(settings.pendingPerWorker) handshakes in progress per worker")
        lines.append("\(environment.date), \(environment.processors) processors, \(environment.cpuModel ?? "unknown CPU"), "
                     + "libsodium \(environment.libsodium), load average \(loadAverage ?? "unknown")")
        lines.append("server: \(settings.server); max_connections \(settings.maxConnections), refusal_headroom "
                     + "\(settings.refusalHeadroom); hard RLIMIT_NOFILE of this process \(settings.hardOpenFileLimit.map(String.init) ?? "unlimited") "
                     + "(server and workers raise their soft limit to it)")
        lines.append("addresses: worker n connects from 127.0.0.(2+n) to 127.0.0.1, each source with its own ephemeral ports "
                     + "(\(settings.ephemeralPorts ?? "unknown"))")
        if !environment.optimizedBuild {
            lines.append("WARNING: debug build; these figures are meaningless. Use: swift run -c release parley-bench connections")
        }
        lines.append(contentsOf: notes.map { "note: " + $0 })
        lines.append("")
        lines.append(C.right("connections", 11) + C.right("empty MB", 10) + C.right("loaded MB", 11) + C.right("KB/conn", 9)
                     + C.right("held MB", 9) + C.right("VmHWM MB", 10) + C.right("fds", 7) + C.right("fd limit", 13)
                     + C.right("ramp s", 8) + C.right("ms/handshake", 14) + C.right("idle CPU", 10) + C.right("clients MB", 12) + C.right("retries", 9)
                     + C.right("lost", 6))
        for row in measurements {
            lines.append(C.right("\(row.connections)", 11) + C.right(megabytes(row.emptyServer.residentKiB), 10)
                         + C.right(megabytes(row.loadedServer.residentKiB), 11) + C.right(C.fixed(row.serverBytesPerConnection / 1e3, 1), 9)
                         + C.right(megabytes(row.heldServer.residentKiB), 9) + C.right(megabytes(row.heldServer.peakResidentKiB), 10)
                         + C.right(row.serverDescriptors.map(String.init) ?? "-", 7) + C.right(row.serverOpenFileLimit ?? "-", 13)
                         + C.right(C.fixed(row.rampSeconds, 1), 8)
                         + C.right(C.fixed(row.serverCPUSecondsDuringRamp / Double(row.connections) * 1e3, 2), 14)
                         + C.right(C.fixed(row.serverCPUPercentWhileHeld, 1) + "%", 10)
                         + C.right(megabytes(row.clientResidentKiB), 12) + C.right("\(row.clients.retries)", 9)
                         + C.right("\(row.clients.lost)", 6))
        }
        lines.append("(server VmRSS: empty = up with no connection, loaded = all online plus \(C.fixed(settings.settleSeconds, 0)) s, "
                     + "held = \(C.fixed(settings.holdSeconds, 0)) s later; KB/conn = (loaded - empty) / connections, KB = 10^3 B; "
                     + "ms/handshake = server CPU during the ramp / connections; idle CPU = server CPU while held (each device pings every "
                     + "25 s, the server's default ping_interval), % of one core; "
                     + "clients = all workers' VmRSS)")
        if measurements.count == 2 {
            let (small, large) = (measurements[0], measurements[1])
            let marginal = Double(large.loadedServer.residentKiB - small.loadedServer.residentKiB) * 1024
                / Double(large.connections - small.connections)
            let clientMarginal = Double(large.clientResidentKiB - small.clientResidentKiB) * 1024
                / Double(large.connections - small.connections)
            lines.append("marginal cost from \(small.connections) to \(large.connections) connections: server "
                         + "\(C.fixed(marginal / 1e3, 1)) KB per connection, clients \(C.fixed(clientMarginal / 1e3, 1)) KB")
        }
        if let largest = measurements.last {
            let perConnection = largest.serverBytesPerConnection
            lines.append("")
            lines.append("goal: <= 20 KB server RSS per idle authenticated TLS connection: \(C.fixed(perConnection / 1e3, 1)) KB at "
                         + "\(largest.connections), " + (perConnection <= ConnectionsReport.goalBytesPerConnection ? "met" : "MISSED"))
        }
        lines.append("reference: " + ConnectionsReport.reference)
        for row in measurements where !row.clientNotes.isEmpty {
            lines.append("")
            lines.append("\(row.connections) connections: the first reasons clients retried or dropped:")
            lines.append(contentsOf: row.clientNotes.map { "  " + $0 })
        }
        lines.append(contentsOf: serverLogLines(measurements.flatMap(\.serverLog)))
        return lines.joined(separator: "\n")
    }

}
