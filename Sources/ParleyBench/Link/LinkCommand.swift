import ArgumentParser
import ParleyProtocol
import ParleyTesting

/// `parley-bench link`: goodput of the reliable channel over simulated lossy links (virtual
/// time, deterministic), each beside the link's capacity, and the channel pair's own CPU
/// cost in packets per second beside a plain copy of the same payloads.
struct LinkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "link",
        abstract: "Reliable-channel goodput over simulated lossy links vs their capacity, and its CPU cost per packet.",
        discussion: """
            Each scenario runs a sender and a receiver ReliableChannel over two LossyLinks (one each \
            way) on a virtual clock: the figures are the same on every machine and every run. The \
            sender keeps its buffer full of 16 KiB messages; goodput counts message bytes the \
            receiving app took after a 2 s warm-up. Every packet costs 52 bytes on the wire beyond \
            its payload (24 frame overhead, 28 IPv4 + UDP), and the queue holds one bandwidth-delay \
            product. The CPU figure is wall-clock time. Build in release: \
            swift run -c release parley-bench link.
            """
    )

    @Flag(help: "Shorter runs (4 s measured per scenario, 200k packets for CPU): a smoke test.")
    var quick = false

    struct Scenario {
        var megabits: UInt64
        var rttMilliseconds: Int
        var loss: Double

        var name: String { "\(megabits) Mbit/s, \(rttMilliseconds) ms RTT, \(TextColumns.fixed(loss * 100, 0))% loss" }
    }

    static let scenarios = [
        Scenario(megabits: 20, rttMilliseconds: 50, loss: 0),
        Scenario(megabits: 20, rttMilliseconds: 50, loss: 0.01),
        Scenario(megabits: 20, rttMilliseconds: 50, loss: 0.02),
        Scenario(megabits: 100, rttMilliseconds: 50, loss: 0.01),
        Scenario(megabits: 10, rttMilliseconds: 100, loss: 0.01),
    ]

    func run() throws {
        let measured: Duration = quick ? .seconds(4) : .seconds(20)
        let warmUp: Duration = .seconds(2)
        print("Reliable channel over simulated links (virtual time; warm-up \(warmUp), measured \(measured) per scenario)")
        print(TextColumns.left("link", 34) + TextColumns.right("capacity", 10) + TextColumns.right("goodput", 10)
              + TextColumns.right("share", 8) + TextColumns.right("lost", 8) + TextColumns.right("retx", 8)
              + TextColumns.right("q-drop", 8) + TextColumns.right("srtt", 9) + TextColumns.right("wall", 8))
        let clock = ContinuousClock()
        for (index, scenario) in LinkCommand.scenarios.enumerated() {
            let started = clock.now
            let result = try runScenario(scenario, seed: UInt64(index + 1) * 1000, warmUp: warmUp, measured: measured)
            let wall = clock.now - started
            let share = result.goodputBitsPerSecond / Double(scenario.megabits * 1_000_000) * 100
            print(TextColumns.left(scenario.name, 34)
                  + TextColumns.right("\(scenario.megabits) Mb/s", 10)
                  + TextColumns.right(TextColumns.fixed(result.goodputBitsPerSecond / 1e6, 1) + " Mb/s", 10)
                  + TextColumns.right(TextColumns.fixed(share, 1) + "%", 8)
                  + TextColumns.right("\(result.lost)", 8) + TextColumns.right("\(result.retransmitted)", 8)
                  + TextColumns.right("\(result.queueDrops)", 8)
                  + TextColumns.right(TextColumns.fixed(result.smoothedRTTMilliseconds, 1) + " ms", 9)
                  + TextColumns.right(TextColumns.fixed(Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18, 1) + " s", 8))
        }
        let ceiling = Double(ReliableConfiguration().maxPacketPayload - ReliableConstants.dataHeaderBytes)
            / Double(ReliableConfiguration().maxPacketPayload + LinkSimulation.wireOverheadBytes) * 100
        print("share = goodput / capacity; headers alone cap it at \(TextColumns.fixed(ceiling, 1))% (1164 stream bytes per 1228 wire bytes).")
        print("lost/retx/q-drop: packets declared lost, retransmitted (incl. probes), dropped by the bottleneck queue, whole run.")

        let packets: UInt64 = quick ? 200_000 : 2_000_000
        _ = try ChannelPairCPU.measureChannels(packets: packets / 10)
        let channels = try ChannelPairCPU.measureChannels(packets: packets)
        let copies = ChannelPairCPU.measureCopies(packets: packets)
        print("")
        print("CPU: sender + receiver channel pair, direct hand-off, no link, no sealing (\(packets) data packets of 1176 bytes, one core)")
        print(TextColumns.left("", 34) + TextColumns.right("packets/s", 12) + TextColumns.right("ns/packet", 11) + TextColumns.right("Gbit/s", 9))
        for (name, figures) in [("channel pair (data + acks)", channels), ("baseline: copy payload only", copies)] {
            print(TextColumns.left(name, 34) + TextColumns.right(TextColumns.fixed(figures.packetsPerSecond, 0), 12)
                  + TextColumns.right(TextColumns.fixed(figures.nanosecondsPerPacket, 1), 11)
                  + TextColumns.right(TextColumns.fixed(figures.gigabitsPerSecond, 2), 9))
        }
        print("acks per data packet: \(TextColumns.fixed(Double(channels.ackPackets) / Double(channels.dataPackets), 2))")
        print("reproduce: swift run -c release parley-bench link\(quick ? " --quick" : "")")
    }

    struct Result {
        var goodputBitsPerSecond: Double
        var lost: UInt64
        var retransmitted: UInt64
        var queueDrops: UInt64
        var smoothedRTTMilliseconds: Double
    }

    private func runScenario(_ scenario: Scenario, seed: UInt64, warmUp: Duration, measured: Duration) throws -> Result {
        let rate = scenario.megabits * 1_000_000
        let oneWay = Duration.milliseconds(scenario.rttMilliseconds / 2)
        let bdp = Int(rate / 8) * scenario.rttMilliseconds / 1000
        func link(_ seed: UInt64) -> LossyLink.Configuration {
            LossyLink.Configuration(rateBitsPerSecond: rate, propagationDelay: oneWay, queueLimitBytes: bdp,
                                    lossProbability: scenario.loss, seed: seed)
        }
        let simulation = try LinkSimulation(forward: link(seed), backward: link(seed + 1))
        try simulation.run(for: warmUp)
        let before = simulation.goodputBytes
        try simulation.run(for: measured)
        let seconds = Double(measured.components.seconds) + Double(measured.components.attoseconds) / 1e18
        let stats = simulation.sender.stats
        return Result(goodputBitsPerSecond: Double(simulation.goodputBytes - before) * 8 / seconds,
                      lost: stats.lostPackets, retransmitted: stats.retransmittedPackets,
                      queueDrops: simulation.forward.stats.droppedByQueue,
                      smoothedRTTMilliseconds: Double(stats.smoothedRTTNanoseconds ?? 0) / 1e6)
    }
}
