/// One delivery-rate sample (draft-cheng-iccrg-delivery-rate-estimation), taken on an ack
/// from the most recently sent packet it newly acknowledged.
struct ReliableRateSample {
    /// Bytes per second delivered over the sample's interval.
    var rate: Double
    /// RTT of that packet, nanoseconds.
    var rtt: UInt64
    /// The connection's delivered count when that packet was sent.
    var priorDelivered: UInt64
    /// The packet was sent while the sender had nothing more to send.
    var isAppLimited: Bool
}

/// A BBR-style congestion controller (BBRv1's model and phases, with BBRv2's rule that
/// only a round losing more than `lossThreshold` of its bytes is congestion). All times
/// in nanoseconds, sizes in bytes, rates in bytes per second.
///
/// Model: the bottleneck bandwidth is the max of the delivery-rate samples of the last 10
/// rounds; the min RTT is the least RTT of the last 10 s. Pacing rate = gain x bandwidth;
/// cwnd = gain x BDP (+ headroom for delayed acks), capped by `inflightCap` after a
/// congestive round. Random loss below the threshold changes neither, so the rate holds.
struct ReliableCongestion {
    enum Phase: String {
        case startup, drain, probeBandwidth, probeRTT
    }

    private let packetBytes: UInt64
    private let minCwnd: UInt64
    private let initialCwnd: UInt64

    private(set) var phase = Phase.startup
    private var pacingGain = ReliableConstants.startupGain
    private var cwndGain = ReliableConstants.startupGain
    private(set) var cwnd: UInt64
    private(set) var pacingRate: Double = 0

    // Bottleneck bandwidth: the best sample of each of the last rounds.
    private var bandwidthSlots: [(round: UInt64, rate: Double)]
    private(set) var bandwidth: Double = 0
    // Windowed min RTT.
    private(set) var minRTT: UInt64?
    private var minRTTStamp: UInt64 = 0

    // Rounds: a round ends when a packet sent after its start is acknowledged.
    private(set) var round: UInt64 = 0
    private var nextRoundDelivered: UInt64 = 0
    private var roundStart = false

    // Startup exit.
    private var fullBandwidth: Double = 0
    private var fullBandwidthCount = 0
    private(set) var filledPipe = false

    // Probe-bandwidth gain cycle.
    private var cycleIndex = ReliableConstants.probeBandwidthFirstPhase
    private var cycleStamp: UInt64 = 0

    // Probe-RTT.
    private var probeRTTDone: UInt64?
    private var probeRTTRoundDone = false
    private var priorCwnd: UInt64 = 0

    // Loss response: per-round accounting and the inflight cap.
    private var lostInRound: UInt64 = 0
    private var lossEventsInRound = 0
    private var deliveredInRound: UInt64 = 0
    private var maxInflightInRound: UInt64 = 0
    private(set) var inflightCap: UInt64 = .max
    private var cleanRounds: UInt64 = 0
    private var capGrowth: UInt64

    init(packetBytes: Int, initialCwndPackets: Int, now: UInt64) {
        self.packetBytes = UInt64(packetBytes)
        minCwnd = UInt64(ReliableConstants.minCwndPackets * packetBytes)
        initialCwnd = UInt64(initialCwndPackets * packetBytes)
        cwnd = initialCwnd
        capGrowth = UInt64(packetBytes)
        bandwidthSlots = Array(repeating: (0, 0), count: Int(ReliableConstants.bandwidthFilterRounds))
        minRTTStamp = now
        setInitialPacingRate(rtt: ReliableConstants.initialRTT.reliableNanoseconds)
    }

    /// Bandwidth-delay product from the model, or the initial window before any sample.
    var bdp: UInt64 {
        guard let minRTT, bandwidth > 0 else { return initialCwnd }
        return UInt64(bandwidth * Double(minRTT) / 1e9)
    }

    /// The window the sender obeys: cwnd, under the inflight cap after congestion.
    var effectiveCwnd: UInt64 { max(min(cwnd, inflightCap), minCwnd) }

    /// `bytes` of a packet were declared lost.
    mutating func onLoss(bytes: UInt64) {
        lostInRound += bytes
        lossEventsInRound += 1
    }

    /// An ack newly acknowledged `acked` bytes; `delivered` is the running total after it.
    mutating func onAck(now: UInt64, acked: UInt64, sample: ReliableRateSample?, delivered: UInt64,
                        inFlight: UInt64, smoothedRTT: UInt64) {
        roundStart = false
        deliveredInRound += acked
        maxInflightInRound = max(maxInflightInRound, inFlight + acked)
        if let sample {
            if sample.priorDelivered >= nextRoundDelivered {
                nextRoundDelivered = delivered
                round += 1
                roundStart = true
                endRound()
            }
            if !sample.isAppLimited || sample.rate >= bandwidth { updateBandwidth(sample.rate) }
            updateMinRTT(sample.rtt, now: now)
        }
        checkFullPipe(sample)
        updatePhase(now: now, inFlight: inFlight)
        updateProbeRTT(now: now, inFlight: inFlight)
        updatePacingRate(smoothedRTT: smoothedRTT)
        updateCwnd(acked: acked, delivered: delivered)
    }

    /// The sender's pipe is empty and it has nothing to send (used to leave probe-RTT promptly).
    mutating func onIdle(now: UInt64) {
        if phase == .probeRTT, probeRTTDone == nil { probeRTTDone = now + ReliableConstants.probeRTTDuration.reliableNanoseconds }
    }

    // MARK: Model

    private mutating func updateBandwidth(_ rate: Double) {
        let slot = Int(round % ReliableConstants.bandwidthFilterRounds)
        if bandwidthSlots[slot].round != round || rate > bandwidthSlots[slot].rate {
            bandwidthSlots[slot] = (round, bandwidthSlots[slot].round == round ? max(rate, bandwidthSlots[slot].rate) : rate)
        }
        var best = 0.0
        for entry in bandwidthSlots where entry.round + ReliableConstants.bandwidthFilterRounds > round {
            best = max(best, entry.rate)
        }
        bandwidth = best
    }

    private mutating func updateMinRTT(_ rtt: UInt64, now: UInt64) {
        let expired = now > minRTTStamp + ReliableConstants.minRTTWindow.reliableNanoseconds
        if rtt <= (minRTT ?? .max) || expired {
            minRTT = rtt
            minRTTStamp = now
        }
    }

    /// A round ended: was it congestive? If so, cap inflight; otherwise let the cap grow back.
    private mutating func endRound() {
        let total = deliveredInRound + lostInRound
        let events = filledPipe ? ReliableConstants.minLossEventsPerRound : ReliableConstants.startupLossEvents
        let congestive = lossEventsInRound >= events && Double(lostInRound) > ReliableConstants.lossThreshold * Double(total)
        if congestive {
            if !filledPipe { filledPipe = true }
            let floor = bdp + minCwnd
            inflightCap = max(floor, UInt64(Double(maxInflightInRound) * ReliableConstants.lossBeta))
            cleanRounds = 0
            capGrowth = packetBytes
        } else if inflightCap != .max {
            cleanRounds += 1
            if cleanRounds > ReliableConstants.inflightCapHoldRounds {
                inflightCap += capGrowth
                capGrowth = min(capGrowth * 2, max(packetBytes, bdp / 4))
                if Double(inflightCap) >= ReliableConstants.cwndGain * Double(bdp) + Double(3 * packetBytes) { inflightCap = .max }
            }
        }
        lostInRound = 0
        lossEventsInRound = 0
        deliveredInRound = 0
        maxInflightInRound = 0
    }

    private mutating func checkFullPipe(_ sample: ReliableRateSample?) {
        guard !filledPipe, roundStart, let sample, !sample.isAppLimited else { return }
        if bandwidth >= fullBandwidth * ReliableConstants.fullBandwidthGrowth {
            fullBandwidth = bandwidth
            fullBandwidthCount = 0
            return
        }
        fullBandwidthCount += 1
        if fullBandwidthCount >= ReliableConstants.fullBandwidthRounds { filledPipe = true }
    }

    // MARK: Phases

    private mutating func updatePhase(now: UInt64, inFlight: UInt64) {
        switch phase {
        case .startup:
            if filledPipe {
                phase = .drain
                pacingGain = ReliableConstants.drainGain
                cwndGain = ReliableConstants.startupGain
                if inFlight <= bdp { enterProbeBandwidth(now: now) }
            }
        case .drain:
            if inFlight <= bdp { enterProbeBandwidth(now: now) }
        case .probeBandwidth:
            advanceCycle(now: now, inFlight: inFlight)
        case .probeRTT:
            break
        }
    }

    private mutating func enterProbeBandwidth(now: UInt64) {
        phase = .probeBandwidth
        cwndGain = ReliableConstants.cwndGain
        cycleIndex = ReliableConstants.probeBandwidthFirstPhase
        cycleStamp = now
        pacingGain = ReliableConstants.probeBandwidthGains[cycleIndex]
    }

    private mutating func advanceCycle(now: UInt64, inFlight: UInt64) {
        let rtt = minRTT ?? ReliableConstants.initialRTT.reliableNanoseconds
        let elapsed = now > cycleStamp + rtt
        let gain = pacingGain
        var next = false
        if gain > 1 {
            let target = min(UInt64(gain * Double(bdp)), inflightCap)
            next = elapsed && (lossEventsInRound > 0 || inFlight >= target || now > cycleStamp + 2 * rtt)
        } else if gain < 1 {
            next = elapsed || inFlight <= bdp
        } else {
            next = elapsed
        }
        guard next else { return }
        cycleIndex = (cycleIndex + 1) % ReliableConstants.probeBandwidthGains.count
        cycleStamp = now
        pacingGain = ReliableConstants.probeBandwidthGains[cycleIndex]
        // While inflight is capped after congestion, do not push 25% more into the queue.
        if pacingGain > 1, inflightCap != .max { pacingGain = 1 }
    }

    private mutating func updateProbeRTT(now: UInt64, inFlight: UInt64) {
        let window = ReliableConstants.minRTTWindow.reliableNanoseconds
        if phase != .probeRTT, phase != .startup, now > minRTTStamp + window {
            phase = .probeRTT
            pacingGain = 1
            priorCwnd = cwnd
            probeRTTDone = nil
            probeRTTRoundDone = false
        }
        guard phase == .probeRTT else { return }
        if probeRTTDone == nil, inFlight <= minCwnd {
            probeRTTDone = now + ReliableConstants.probeRTTDuration.reliableNanoseconds
            probeRTTRoundDone = false
        } else if let done = probeRTTDone {
            if roundStart { probeRTTRoundDone = true }
            if probeRTTRoundDone, now >= done {
                minRTTStamp = now
                cwnd = max(cwnd, priorCwnd)
                if filledPipe { enterProbeBandwidth(now: now) } else { phase = .startup; pacingGain = ReliableConstants.startupGain }
            }
        }
    }

    // MARK: Outputs

    private mutating func setInitialPacingRate(rtt: UInt64) {
        pacingRate = ReliableConstants.startupGain * Double(initialCwnd) * 1e9 / Double(max(rtt, 1))
    }

    private mutating func updatePacingRate(smoothedRTT: UInt64) {
        guard bandwidth > 0 else {
            setInitialPacingRate(rtt: smoothedRTT)
            return
        }
        let rate = pacingGain * bandwidth
        if filledPipe || rate > pacingRate { pacingRate = rate }
    }

    private mutating func updateCwnd(acked: UInt64, delivered: UInt64) {
        if phase == .probeRTT {
            cwnd = minCwnd
            return
        }
        // Headroom for acks that come in bursts: the host's timers and threads add up to
        // a few pacing bursts of delay that the min RTT does not show (on loopback the
        // min RTT is ~40 us but acks often wait ~200 us for a thread), so the window also
        // covers `hostDelayAllowance` of sending at the estimated rate.
        let target = bandwidth > 0 && minRTT != nil
            ? UInt64(cwndGain * Double(bdp)) + 3 * packetBytes
                + UInt64(bandwidth * Double(ReliableConstants.hostDelayAllowance.reliableNanoseconds) / 1e9)
            : initialCwnd
        if filledPipe {
            cwnd = min(cwnd + acked, target)
        } else if cwnd < target || delivered < initialCwnd {
            cwnd += acked
        }
        cwnd = max(cwnd, minCwnd)
    }
}
