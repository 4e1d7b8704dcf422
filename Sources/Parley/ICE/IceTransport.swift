import CNice
import CParleyShims
import Glibc
import ParleyCrypto
import ParleyProtocol
import Synchronization

/// Parley's ICE transport: one libnice agent with one stream and one component that
/// carries every datagram of a call (already sealed Parley frames; this layer moves bytes).
///
/// The call's state machine drives it: `gather()`, `setRemoteCredentials(_:)`,
/// `addRemoteCandidate(_:)` for each trickled candidate, `endOfRemoteCandidates()`; it trickles
/// `localCandidate` events and `gatheringComplete` to the peer, and watches `stateChanged`.
///
/// Threads:
/// - `events` and `receive` run on the `IceLoop`'s thread, one at a time, in order, never
///   after `close()` has returned (nor after `close()` called on the loop thread). They must
///   not block: every transport of the loop waits for them.
/// - `receive` gets a pointer into libnice's receive buffer, valid only during the call
///   (no copy is made); it may call `send`.
/// - Every other method is thread-safe. The control methods (`gather`, credentials,
///   candidates, `close`) run on the loop thread and wait for it; called from a callback
///   they run inline. `send` runs on the caller's thread and never waits for the loop.
///
/// Lifetime: the loop holds every open transport; `close()` (or `IceLoop.stop()`) releases it.
public final class IceTransport: @unchecked Sendable {
    public let loop: IceLoop
    public let configuration: IceConfiguration
    public let controlling: Bool
    /// This agent's ufrag and password, for the SDP the call seals. Generated from the OS
    /// CSPRNG (libnice's own come from GLib's non-cryptographic PRNG).
    public let localCredentials: IceCredentials

    private let events: @Sendable (IceTransportEvent) -> Void
    private let receive: @Sendable (UnsafeRawBufferPointer) -> Void

    /// The NiceAgent, nil once closed. Senders hold the lock around each libnice send, so
    /// teardown (which takes it) waits for sends in flight and no send starts afterwards.
    private let sendGate = Mutex<AgentPointer?>(nil)
    private let isConnected = Atomic<Bool>(false)
    private let counters = Counters()

    private struct Shared {
        var state: IceTransportState = .new
        var selectedPair: CandidatePair?
        var remoteCandidates = 0
        var gatherCalled = false
        var remoteCredentialsSet = false
        var socketReceiveBufferBytes = 0
        var socketSendBufferBytes = 0
    }
    private let shared = Mutex(Shared())

    // Loop thread only.
    private var agent: OpaquePointer?
    private var streamID: guint = 0
    private var tracker = IceConnectionTracker()
    private var handlerIDs: [gulong] = []
    private var connectTimer: UnsafeMutablePointer<GSource>?
    private var closedOnLoop = false
    /// Depth of libnice callbacks of this agent on the stack: when positive, freeing the
    /// agent is deferred to an idle (libnice touches it after the callback returns).
    private var callbackDepth = 0

    /// Creates the agent on `loop` (which must be running). Nothing is sent until `gather()`.
    ///
    /// - Parameters:
    ///   - controlling: the ICE role; the caller of a call is controlling, the callee controlled.
    ///   - events: state, candidate and selected-pair events, on the loop thread.
    ///   - receive: each datagram received, on the loop thread; must not block.
    public init(loop: IceLoop, configuration: IceConfiguration, controlling: Bool,
                events: @escaping @Sendable (IceTransportEvent) -> Void,
                receive: @escaping @Sendable (UnsafeRawBufferPointer) -> Void) throws(IceError) {
        try configuration.validate()
        self.loop = loop
        self.configuration = configuration
        self.controlling = controlling
        self.events = events
        self.receive = receive
        localCredentials = IceTransport.generateCredentials()
        guard loop.register(self) else {
            throw IceError(.loopNotRunning, "the IceLoop is not running: start() it before creating transports")
        }
        let created = loop.sync { () -> IceError? in setUpAgent() } ?? IceError(.loopNotRunning, "the IceLoop stopped")
        if let error = created {
            loop.unregister(self)
            throw error
        }
    }

    // MARK: Control

    /// Starts gathering local candidates; `localCandidate` events follow, then
    /// `gatheringComplete`. Once per transport.
    public func gather() throws(IceError) {
        try onLoop { () throws(IceError) in
            let first = shared.withLock { shared -> Bool in
                defer { shared.gatherCalled = true }
                return !shared.gatherCalled
            }
            guard first else { throw IceError(.invalidState, "gather() was already called") }
            if let state = tracker.gatheringStarted() { publish(state) }
            guard let agent, nice_agent_gather_candidates(agent, streamID) != 0 else {
                throw IceError(.gatheringFailed,
                               "libnice found no local address to gather from (localAddresses: \(configuration.localAddresses))")
            }
            applySocketBuffers(toAllSocketsOf: agent)
            armConnectTimerIfReady()
        }
    }

    /// Sets the peer's ufrag and password from its SDP. Once per transport; both must be
    /// RFC 8839 ice-chars (ufrag 4-256, password 22-256).
    public func setRemoteCredentials(_ credentials: IceCredentials) throws(IceError) {
        try IceTransport.validate(credentials)
        try onLoop { () throws(IceError) in
            let first = shared.withLock { shared -> Bool in
                defer { shared.remoteCredentialsSet = true }
                return !shared.remoteCredentialsSet
            }
            guard first else { throw IceError(.invalidState, "the remote credentials were already set") }
            guard let agent,
                  nice_agent_set_remote_credentials(agent, streamID, credentials.usernameFragment, credentials.password) != 0 else {
                throw IceError(.agentSetupFailed, "libnice refused the remote credentials")
            }
            armConnectTimerIfReady()
        }
    }

    /// Adds one trickled remote candidate, given as the RFC 8839 attribute value without
    /// "a=" and without line end (`candidate:1 1 UDP 2015363327 192.0.2.7 49152 typ host`),
    /// the form of `localCandidate` events. Refuses text `IceCandidateAttribute.parse` refuses
    /// (`malformedCandidate`), candidates Parley does not use (`unsupportedCandidate`: ignore
    /// those; see `RemoteCandidatePolicy`) and any candidate beyond `maxRemoteCandidates`
    /// (`tooManyRemoteCandidates`).
    public func addRemoteCandidate(_ attribute: String) throws(IceError) {
        let candidate = try RemoteCandidatePolicy.admit(attribute, iceTCP: configuration.iceTCP)
        let limit = configuration.maxRemoteCandidates
        let admitted = shared.withLock { shared -> Bool in
            guard shared.remoteCandidates < limit else { return false }
            shared.remoteCandidates += 1
            return true
        }
        guard admitted else {
            throw IceError(.tooManyRemoteCandidates, "remote candidate refused: the limit of \(limit) per call is reached")
        }
        try onLoop { () throws(IceError) in
            guard let agent else { throw IceError(.closed, "the transport is closed") }
            // The canonical text of what parsed: libnice reads exactly the candidate Parley checked.
            guard let parsed = nice_agent_parse_remote_candidate_sdp(agent, streamID, candidate.text) else {
                throw IceError(.malformedCandidate, "remote candidate refused: libnice could not parse it")
            }
            defer { nice_candidate_free(parsed) }
            var list = GSList(data: UnsafeMutableRawPointer(parsed), next: nil)
            guard nice_agent_set_remote_candidates(agent, streamID, IceConstants.componentID, &list) >= 0 else {
                throw IceError(.malformedCandidate, "remote candidate refused: libnice would not add it")
            }
        }
    }

    /// The peer has sent all its candidates: from now on, when every pair has failed the
    /// transport reports `failed(connectivityChecksFailed)` instead of waiting for more.
    public func endOfRemoteCandidates() {
        _ = try? onLoop { () throws(IceError) in
            guard let agent else { return }
            nice_agent_peer_candidate_gathering_done(agent, streamID)
        }
    }

    /// Stops the transport: no callback runs after it returns, the agent's sockets are
    /// closed and its memory freed (with TURN, libnice first releases the allocation, on
    /// the loop thread, after `close` returns). Idempotent and thread-safe. Called from a
    /// callback of this transport it takes effect at once (no further callback), and the
    /// agent is freed right after the callback returns.
    public func close() {
        if loop.isLoopThread {
            teardown()
            return
        }
        if loop.sync({ teardown() }) == nil {
            // The loop is stopping: its stop() closes this transport.
            loop.waitUntilStopped()
        }
    }

    // MARK: State

    public var state: IceTransportState { shared.withLock { $0.state } }

    /// The pair datagrams currently use; nil before the first selection.
    public var selectedPair: CandidatePair? { shared.withLock { $0.selectedPair } }

    public var stats: IceTransportStats {
        var stats = counters.snapshot()
        shared.withLock { shared in
            stats.socketReceiveBufferBytes = shared.socketReceiveBufferBytes
            stats.socketSendBufferBytes = shared.socketSendBufferBytes
        }
        return stats
    }

    // MARK: Sending

    /// Sends one datagram (1...`IceConstants.maxDatagramBytes` bytes) on the selected pair.
    /// Never waits: false when not connected, closed, oversized (`sendsRefused`) or when the
    /// socket's buffer is full (`sendDropsWouldBlock`); the datagram is then lost.
    public func send(_ datagram: UnsafeRawBufferPointer) -> Bool {
        guard let base = datagram.baseAddress, datagram.count <= IceConstants.maxDatagramBytes,
              isConnected.load(ordering: .relaxed) else {
            counters.sendsRefused.add(1, ordering: .relaxed)
            return false
        }
        let sent = sendGate.withLock { agent -> gint? in
            guard let agent = agent?.raw else { return nil }
            return nice_agent_send(agent, streamID, IceConstants.componentID, guint(datagram.count),
                                   base.assumingMemoryBound(to: gchar.self))
        }
        guard let sent else {
            counters.sendsRefused.add(1, ordering: .relaxed)
            return false
        }
        guard Int(sent) == datagram.count else {
            counters.sendDropsWouldBlock.add(1, ordering: .relaxed)
            return false
        }
        counters.packetsSent.add(1, ordering: .relaxed)
        counters.bytesSent.add(UInt64(datagram.count), ordering: .relaxed)
        return true
    }

    /// Sends datagrams with as few system calls as possible (libnice's
    /// `nice_agent_send_messages_nonblocking`, `sendmmsg` underneath), in chunks of
    /// `IceConstants.maxBatch`. Returns how many, from the start, the socket took; the rest
    /// are lost (counted as `sendDropsWouldBlock`, or `sendsRefused` when not connected,
    /// closed, or any datagram is empty or oversized, in which case nothing is sent).
    public func send(batch datagrams: UnsafeBufferPointer<UnsafeRawBufferPointer>) -> Int {
        guard !datagrams.isEmpty else { return 0 }
        guard isConnected.load(ordering: .relaxed),
              datagrams.allSatisfy({ $0.baseAddress != nil && $0.count <= IceConstants.maxDatagramBytes }) else {
            counters.sendsRefused.add(UInt64(datagrams.count), ordering: .relaxed)
            return 0
        }
        let chunk = min(datagrams.count, IceConstants.maxBatch)
        let (sent, bytes, closed) = withUnsafeTemporaryAllocation(of: GOutputVector.self, capacity: chunk) { vectors in
            withUnsafeTemporaryAllocation(of: NiceOutputMessage.self, capacity: chunk) { messages in
                sendGate.withLock { agent -> (Int, UInt64, Bool) in
                    guard let agent = agent?.raw else { return (0, 0, true) }
                    var sent = 0
                    var bytes: UInt64 = 0
                    while sent < datagrams.count {
                        let count = min(chunk, datagrams.count - sent)
                        for index in 0..<count {
                            let datagram = datagrams[sent + index]
                            vectors[index] = GOutputVector(buffer: datagram.baseAddress, size: gsize(datagram.count))
                            // baseAddress of a non-empty temporary allocation is never nil.
                            messages[index] = NiceOutputMessage(buffers: vectors.baseAddress! + index, n_buffers: 1)
                        }
                        let result = nice_agent_send_messages_nonblocking(agent, streamID, IceConstants.componentID,
                                                                          messages.baseAddress, guint(count), nil, nil)
                        let accepted = max(0, Int(result))
                        for index in 0..<accepted { bytes += UInt64(datagrams[sent + index].count) }
                        sent += accepted
                        if accepted < count { break }
                    }
                    return (sent, bytes, false)
                }
            }
        }
        if closed {
            counters.sendsRefused.add(UInt64(datagrams.count), ordering: .relaxed)
            return 0
        }
        counters.packetsSent.add(UInt64(sent), ordering: .relaxed)
        counters.bytesSent.add(bytes, ordering: .relaxed)
        if sent < datagrams.count { counters.sendDropsWouldBlock.add(UInt64(datagrams.count - sent), ordering: .relaxed) }
        return sent
    }

    // MARK: Loop thread

    /// Runs a control operation on the loop thread; `closed` once torn down.
    private func onLoop(_ work: () throws(IceError) -> Void) throws(IceError) {
        let outcome = loop.sync { () -> IceError? in
            guard !closedOnLoop else { return IceError(.closed, "the transport is closed") }
            do throws(IceError) {
                try work()
                return nil
            } catch {
                return error
            }
        }
        switch outcome {
        case .none: throw IceError(.closed, "the transport is closed (its IceLoop stopped)")
        case let .some(error?): throw error
        case .some(.none): return
        }
    }

    private func setUpAgent() -> IceError? {
        var options = NICE_AGENT_OPTION_ICE_TRICKLE.rawValue
        if configuration.libniceConsentFreshness { options |= NICE_AGENT_OPTION_CONSENT_FRESHNESS.rawValue }
        if configuration.nomination == .regular { options |= NICE_AGENT_OPTION_REGULAR_NOMINATION.rawValue }
        guard let agent = nice_agent_new_full(loop.context, NICE_COMPATIBILITY_RFC5245, NiceAgentOption(options)) else {
            return IceError(.agentSetupFailed, "libnice could not create an agent")
        }
        let stunHost = configuration.stunServer.map { strdup($0.host) } ?? nil
        defer { free(stunHost) }
        var settings = CParleyShims_ice_agent_settings(
            stun_pacing_ms: IceConfiguration.milliseconds(configuration.checkPacing),
            stun_initial_timeout_ms: IceConstants.stunInitialTimeoutMilliseconds,
            stun_max_retransmissions: IceConstants.stunMaxRetransmissions,
            ice_tcp: configuration.iceTCP ? 1 : 0,
            force_relay: configuration.relayOnly ? 1 : 0,
            controlling: controlling ? 1 : 0,
            stun_server: UnsafePointer(stunHost),
            stun_server_port: UInt32(configuration.stunServer?.port ?? 0))
        CParleyShims_ice_agent_configure(UnsafeMutableRawPointer(agent), &settings)
        for text in configuration.localAddresses {
            var address = NiceAddress()
            nice_address_init(&address)
            // validate() checked that every local address is numeric.
            guard nice_address_set_from_string(&address, text) != 0, nice_agent_add_local_address(agent, &address) != 0 else {
                g_object_unref(UnsafeMutableRawPointer(agent))
                return IceError(.agentSetupFailed, "libnice refused the local address \(text)")
            }
        }
        streamID = nice_agent_add_stream(agent, IceConstants.componentID)
        guard streamID != 0,
              nice_agent_set_local_credentials(agent, streamID, localCredentials.usernameFragment, localCredentials.password) != 0 else {
            g_object_unref(UnsafeMutableRawPointer(agent))
            return IceError(.agentSetupFailed, "libnice could not add the stream or set its credentials")
        }
        for server in configuration.turnServers {
            let type = server.transport == .udp ? NICE_RELAY_TYPE_TURN_UDP : NICE_RELAY_TYPE_TURN_TCP
            guard nice_agent_set_relay_info(agent, streamID, IceConstants.componentID, server.address.host,
                                            guint(server.address.port), server.username, server.password, type) != 0 else {
                g_object_unref(UnsafeMutableRawPointer(agent))
                return IceError(.agentSetupFailed, "libnice refused the TURN server \(server.address)")
            }
        }
        connectSignals(of: agent)
        // Unretained: the loop holds this transport until teardown detaches the callback.
        nice_agent_attach_recv(agent, streamID, IceConstants.componentID, loop.context, iceReceiveTrampoline,
                               Unmanaged.passUnretained(self).toOpaque())
        self.agent = agent
        sendGate.withLock { $0 = AgentPointer(raw: agent) }
        return nil
    }

    private func connectSignals(of agent: OpaquePointer) {
        let instance = UnsafeMutableRawPointer(agent)
        // Unretained, as for the receive callback: teardown disconnects every handler.
        let me = Unmanaged.passUnretained(self).toOpaque()
        func connect(_ signal: String, _ handler: GCallback) {
            handlerIDs.append(g_signal_connect_data(instance, signal, handler, me, nil, GConnectFlags(0)))
        }
        connect("component-state-changed", unsafeBitCast(iceStateTrampoline, to: GCallback.self))
        connect("new-candidate-full", unsafeBitCast(iceCandidateTrampoline, to: GCallback.self))
        connect("candidate-gathering-done", unsafeBitCast(iceGatheringDoneTrampoline, to: GCallback.self))
        connect("new-selected-pair-full", unsafeBitCast(iceSelectedPairTrampoline, to: GCallback.self))
    }

    /// Loop thread. Everything after which no callback of this transport runs.
    private func teardown() {
        guard !closedOnLoop else { return }
        closedOnLoop = true
        isConnected.store(false, ordering: .relaxed)
        // Waits for sends in flight; none starts afterwards.
        sendGate.withLock { $0 = nil }
        if let connectTimer { loop.cancelTimer(connectTimer) }
        connectTimer = nil
        tracker.closed()
        shared.withLock { $0.state = .closed }
        loop.unregister(self)
        guard let agent else { return }
        self.agent = nil
        nice_agent_attach_recv(agent, streamID, IceConstants.componentID, loop.context, nil, nil)
        for id in handlerIDs { g_signal_handler_disconnect(UnsafeMutableRawPointer(agent), id) }
        handlerIDs.removeAll()
        if !configuration.turnServers.isEmpty {
            // Releases the TURN allocations; the task holds its own reference to the agent.
            nice_agent_close_async(agent, nil, nil)
        }
        let handle = AgentHandle(agent)
        if callbackDepth > 0 {
            // libnice uses the agent after our callback returns: free it from an idle.
            loop.postAlways { handle.release() }
        } else {
            handle.release()
        }
    }

    private func armConnectTimerIfReady() {
        let ready = shared.withLock { $0.gatherCalled && $0.remoteCredentialsSet }
        guard ready, connectTimer == nil, !tracker.state.isTerminal, tracker.state != .connected else { return }
        let timeout = configuration.connectTimeout
        connectTimer = loop.addTimer(after: timeout) { [self] in
            guard !closedOnLoop, let state = tracker.connectTimedOut(after: timeout) else { return }
            publish(state)
        }
    }

    /// Records a state change and delivers it.
    private func publish(_ state: IceTransportState) {
        if state == .connected { isConnected.store(true, ordering: .relaxed) }
        if state.isTerminal {
            isConnected.store(false, ordering: .relaxed)
        }
        if state == .connected || state.isTerminal, let connectTimer {
            loop.cancelTimer(connectTimer)
            self.connectTimer = nil
        }
        shared.withLock { $0.state = state }
        deliver(.stateChanged(state))
    }

    private func deliver(_ event: IceTransportEvent) {
        guard !closedOnLoop else { return }
        callbackDepth += 1
        events(event)
        callbackDepth -= 1
    }

    // MARK: libnice callbacks (loop thread)

    fileprivate func handleStateChange(_ state: guint) {
        guard !closedOnLoop, let next = tracker.componentStateChanged(NiceComponentState(state)) else { return }
        publish(next)
    }

    fileprivate func handleLocalCandidate(_ candidate: UnsafeMutablePointer<NiceCandidate>) {
        guard !closedOnLoop, let agent, let sdp = nice_agent_generate_local_candidate_sdp(agent, candidate) else { return }
        let line = String(cString: sdp)
        g_free(sdp)
        deliver(.localCandidate(line.hasPrefix("a=") ? String(line.dropFirst(2)) : line))
    }

    fileprivate func handleGatheringDone() {
        deliver(.gatheringComplete)
    }

    fileprivate func handleSelectedPair(local: UnsafeMutablePointer<NiceCandidate>, remote: UnsafeMutablePointer<NiceCandidate>) {
        guard !closedOnLoop, let agent else { return }
        let pair = CandidatePair(local: IceTransport.endpoint(local), remote: IceTransport.endpoint(remote))
        var granted: (Int32, Int32) = (0, 0)
        if let socket = nice_agent_get_selected_socket(agent, streamID, IceConstants.componentID) {
            granted = applySocketBuffers(to: socket)
            g_object_unref(UnsafeMutableRawPointer(socket))
        }
        shared.withLock { shared in
            shared.selectedPair = pair
            if granted.0 > 0 { shared.socketReceiveBufferBytes = Int(granted.0) }
            if granted.1 > 0 { shared.socketSendBufferBytes = Int(granted.1) }
        }
        deliver(.selectedPair(pair))
    }

    fileprivate func handleReceive(_ bytes: UnsafeRawBufferPointer) {
        guard !closedOnLoop else { return }
        counters.packetsReceived.add(1, ordering: .relaxed)
        counters.bytesReceived.add(UInt64(bytes.count), ordering: .relaxed)
        callbackDepth += 1
        receive(bytes)
        callbackDepth -= 1
    }

    fileprivate func enterCallback() { callbackDepth += 1 }
    fileprivate func leaveCallback() { callbackDepth -= 1 }

    // MARK: Helpers

    private func applySocketBuffers(toAllSocketsOf agent: OpaquePointer) {
        guard let sockets = nice_agent_get_sockets(agent, streamID, IceConstants.componentID) else { return }
        defer { g_ptr_array_unref(sockets) }
        for index in 0..<Int(sockets.pointee.len) {
            if let socket = sockets.pointee.pdata[index] { applySocketBuffers(to: socket.assumingMemoryBound(to: GSocket.self)) }
        }
    }

    /// Sets the configured buffer sizes on `socket` (a GSocket); returns what the kernel granted.
    @discardableResult
    private func applySocketBuffers(to socket: UnsafeMutablePointer<GSocket>) -> (Int32, Int32) {
        var granted: (Int32, Int32) = (0, 0)
        let fd = g_socket_get_fd(socket)
        guard fd >= 0 else { return granted }
        _ = CParleyShims_set_socket_buffers(fd, Int32(clamping: configuration.socketReceiveBufferBytes),
                                            Int32(clamping: configuration.socketSendBufferBytes), &granted.0, &granted.1)
        return granted
    }

    /// One end of a selected pair as the call reports it.
    static func endpoint(_ candidate: UnsafeMutablePointer<NiceCandidate>) -> PathEndpoint {
        let kind: CandidateKind
        switch candidate.pointee.type {
        case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE: kind = .serverReflexive
        case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE: kind = .peerReflexive
        case NICE_CANDIDATE_TYPE_RELAYED: kind = .relayed
        default: kind = .host
        }
        let transport = candidate.pointee.transport == NICE_CANDIDATE_TRANSPORT_UDP ? "udp" : "tcp"
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        nice_address_to_string(&candidate.pointee.addr, &text)
        let port = UInt16(truncatingIfNeeded: nice_address_get_port(&candidate.pointee.addr))
        // nice_address_to_string NUL-terminates within INET6_ADDRSTRLEN.
        let address = text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return PathEndpoint(kind: kind, transport: transport, address: address, port: port)
    }

    static func generateCredentials() -> IceCredentials {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        func random(_ count: Int) -> String {
            var bytes = [UInt8](repeating: 0, count: count)
            bytes.withUnsafeMutableBytes { SystemEntropy.shared.fill($0) }
            // 256 is a multiple of 64: every ice-char is equally likely.
            return String(decoding: bytes.map { alphabet[Int($0 & 63)] }, as: UTF8.self)
        }
        return IceCredentials(usernameFragment: random(IceConstants.localUsernameFragmentLength),
                              password: random(IceConstants.localPasswordLength))
    }

    /// RFC 8839's rules for a ufrag and password, as the SDP grammar applies them.
    static func validate(_ credentials: IceCredentials) throws(IceError) {
        do throws(SDPError) {
            try credentials.validate()
        } catch {
            throw IceError(.invalidCredentials, "the remote credentials are refused: \(error.reason)")
        }
    }
}

/// The NiceAgent pointer as the send path holds it (libnice's send calls are thread-safe).
private struct AgentPointer: @unchecked Sendable {
    let raw: OpaquePointer
}

/// A NiceAgent reference handed to a deferred release.
private final class AgentHandle: @unchecked Sendable {
    let agent: OpaquePointer
    init(_ agent: OpaquePointer) { self.agent = agent }
    func release() { g_object_unref(UnsafeMutableRawPointer(agent)) }
}

/// The transport's counters (relaxed atomics: each is exact, a snapshot is not atomic as a whole).
private final class Counters: Sendable {
    let packetsSent = Atomic<UInt64>(0)
    let bytesSent = Atomic<UInt64>(0)
    let packetsReceived = Atomic<UInt64>(0)
    let bytesReceived = Atomic<UInt64>(0)
    let sendDropsWouldBlock = Atomic<UInt64>(0)
    let sendsRefused = Atomic<UInt64>(0)

    func snapshot() -> IceTransportStats {
        var stats = IceTransportStats()
        stats.packetsSent = packetsSent.load(ordering: .relaxed)
        stats.bytesSent = bytesSent.load(ordering: .relaxed)
        stats.packetsReceived = packetsReceived.load(ordering: .relaxed)
        stats.bytesReceived = bytesReceived.load(ordering: .relaxed)
        stats.sendDropsWouldBlock = sendDropsWouldBlock.load(ordering: .relaxed)
        stats.sendsRefused = sendsRefused.load(ordering: .relaxed)
        return stats
    }
}

// MARK: C trampolines

/// Runs a libnice callback on the transport, on the loop thread. libnice emits signals on
/// whichever thread releases the agent lock; every control call runs on the loop thread and
/// sends do not queue signals, so this is the loop thread in practice. Should a signal ever
/// arrive elsewhere, it is handed to the loop (where `closedOnLoop` is checked) instead of
/// touching loop-thread state.
private func onTransport(_ data: gpointer?, _ body: @escaping (IceTransport) -> Void) {
    // The loop holds the transport until teardown disconnects this handler.
    let transport = Unmanaged<IceTransport>.fromOpaque(data!).takeUnretainedValue()
    if transport.loop.isLoopThread {
        transport.enterCallback()
        body(transport)
        transport.leaveCallback()
    } else {
        let call = UncheckedCall { body(transport) }
        transport.loop.post { call.body() }
    }
}

private final class UncheckedCall: @unchecked Sendable {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
}

private let iceStateTrampoline: @convention(c) (OpaquePointer?, guint, guint, guint, gpointer?) -> Void = { _, _, component, state, data in
    guard component == IceConstants.componentID else { return }
    onTransport(data) { $0.handleStateChange(state) }
}

private let iceCandidateTrampoline: @convention(c) (OpaquePointer?, UnsafeMutablePointer<NiceCandidate>?, gpointer?) -> Void = { _, candidate, data in
    guard let candidate else { return }
    // The candidate is valid only during the signal: copy it if the work is posted.
    guard let copy = nice_candidate_copy(candidate) else { return }
    let owned = OwnedCandidate(copy)
    onTransport(data) { $0.handleLocalCandidate(owned.candidate) }
}

private let iceGatheringDoneTrampoline: @convention(c) (OpaquePointer?, guint, gpointer?) -> Void = { _, _, data in
    onTransport(data) { $0.handleGatheringDone() }
}

private let iceSelectedPairTrampoline: @convention(c) (OpaquePointer?, guint, guint, UnsafeMutablePointer<NiceCandidate>?,
                                                        UnsafeMutablePointer<NiceCandidate>?, gpointer?) -> Void = { _, _, _, local, remote, data in
    guard let local = local.flatMap({ nice_candidate_copy($0) }), let remote = remote.flatMap({ nice_candidate_copy($0) }) else { return }
    let ownedLocal = OwnedCandidate(local), ownedRemote = OwnedCandidate(remote)
    onTransport(data) { $0.handleSelectedPair(local: ownedLocal.candidate, remote: ownedRemote.candidate) }
}

private let iceReceiveTrampoline: NiceAgentRecvFunc = { _, _, _, length, buffer, data in
    // Unretained: the loop holds the transport until teardown detaches this callback.
    let transport = Unmanaged<IceTransport>.fromOpaque(data!).takeUnretainedValue()
    transport.handleReceive(UnsafeRawBufferPointer(start: buffer, count: Int(length)))
}

/// A libnice candidate copy, freed with its owner.
private final class OwnedCandidate {
    let candidate: UnsafeMutablePointer<NiceCandidate>
    init(_ candidate: UnsafeMutablePointer<NiceCandidate>) { self.candidate = candidate }
    deinit { nice_candidate_free(candidate) }
}
