import ParleyCrypto

/// One call, caller or callee, as a state machine without I/O (PROTOCOL.md, "Call flow").
///
/// Feed it what happens — signalling messages for this call (`handleSignalling`), what
/// the ICE transport reports (`handleTransport`), the user's decisions (`accept`,
/// `reject`, `hangUp`) and the passing of time (`handleTimeout` at `nextDeadline`) —
/// each with the time it happened, then drain `pollOutput()` and perform the outputs
/// in order: signalling messages to send, transport commands, events for the user.
///
/// The core owns every secret of the call (the handshake state, then `CallKeys`) and
/// erases them all the moment the call ends, however it ends. The data path borrows
/// `frameSealer` / `frameOpener` while the call is up.
///
/// Not thread-safe: one owner drives it, and that owner also serialises its own use
/// of `frameSealer` / `frameOpener` with calls into the core (the core seals the
/// goodbye frame itself).
public final class CallCore {
    public let role: CallRole
    public let callID: CallID
    /// The other device: the dialled callee, or the caller the server reported.
    public let peer: DeviceID
    public let timeouts: CallTimeouts
    public private(set) var state: CallState
    /// Known once the keys are confirmed; stays readable after the call ends.
    public private(set) var sas: ShortAuthenticationString?
    /// What the offer and answer agreed on.
    public private(set) var negotiatedMedia: NegotiatedMedia?
    /// The selected candidate pair, once connected.
    public private(set) var path: CandidatePair?
    public private(set) var counters = CallCounters()

    private let identity: DeviceIdentity
    private var preferences: MediaPreferences
    private var policy: PeerIdentityPolicy
    private let entropy: EntropySource
    private var initiator: CallInitiator?
    private var responder: CallResponder?
    private var invitePayload: [UInt8]?
    private var keys: CallKeys?
    private var transportStarted = false

    private var outputs: [CallOutput] = []
    private var outputHead = 0
    private var stepDeadline: (at: Timestamp, step: CallStep)?
    private var gapDeadline: Timestamp?

    // Negotiation and trickle.
    private var localCredentials: IceCredentials?
    private var localOffer: SessionDescription?
    private var remoteOffer: SessionDescription?
    private var descriptionSent = false
    private var pendingLocalCandidates: [String] = []
    private var localGatheringComplete = false
    private var endOfCandidatesSent = false
    private var remoteEndOfCandidates = false
    private var remoteCandidateCount = 0
    private var nextRemoteSequence: UInt64 = 0
    private var heldBlobs: [UInt64: SealedBlob] = [:]

    private init(role: CallRole, callID: CallID, peer: DeviceID, identity: DeviceIdentity, preferences: MediaPreferences,
                 policy: PeerIdentityPolicy, timeouts: CallTimeouts, entropy: EntropySource, state: CallState) {
        self.role = role
        self.callID = callID
        self.peer = peer
        self.identity = identity
        self.preferences = preferences
        self.policy = policy
        self.timeouts = timeouts
        self.entropy = entropy
        self.state = state
    }

    // MARK: Creating a call

    /// Places a call: emits the invite. `securityCode` (nil for none) stays the
    /// caller's to erase; the core does not keep it past the handshake's first step.
    public static func outgoing(identity: DeviceIdentity, callee: DeviceID, securityCode: SecurityCode?,
                                media: MediaPreferences, policy: PeerIdentityPolicy = .requireDeviceID,
                                timeouts: CallTimeouts = .default, now: Timestamp) throws(CallError) -> CallCore {
        try outgoing(identity: identity, callee: callee, securityCode: securityCode, media: media, policy: policy,
                     timeouts: timeouts, now: now, callID: nil, entropy: SystemEntropy.shared)
    }

    /// Simulations and tests: a given call ID and entropy source.
    package static func outgoing(identity: DeviceIdentity, callee: DeviceID, securityCode: SecurityCode?,
                                 media: MediaPreferences, policy: PeerIdentityPolicy = .requireDeviceID,
                                 timeouts: CallTimeouts = .default, now: Timestamp, callID: [UInt8]?,
                                 entropy: EntropySource) throws(CallError) -> CallCore {
        guard callee != identity.deviceID else { throw CallError.invalidState("a device cannot call itself") }
        do {
            try media.validate()
        } catch {
            throw CallError.negotiationFailed("the media preferences are not valid: \(error)")
        }
        let initiator: CallInitiator
        let id: CallID
        do {
            initiator = try CallInitiator(identity: identity, calleeID: callee, securityCode: securityCode, policy: policy,
                                          callID: callID, entropy: entropy)
            id = try CallID(bytes: initiator.callID)
        } catch let error as CryptoError {
            throw CallError.handshakeFailed(error)
        } catch {
            throw CallError.handshakeFailed(.malformed("\(error)"))
        }
        let core = CallCore(role: .caller, callID: id, peer: callee, identity: identity, preferences: media, policy: policy,
                            timeouts: timeouts, entropy: entropy, state: .inviting)
        core.initiator = initiator
        core.emit(.signalling(.invite(callee: callee, callID: id, payload: initiator.inviteMessage)))
        core.emit(.event(.stateChanged(.inviting)))
        core.stepDeadline = (now + timeouts.answer, .answer)
        return core
    }

    /// An incoming call the server announced (`incomingCall`). It rings until
    /// `accept`, `reject`, the caller's cancel or the incoming timeout.
    public static func incoming(identity: DeviceIdentity, caller: DeviceID, callID: CallID, invitePayload: [UInt8],
                                timeouts: CallTimeouts = .default, now: Timestamp) -> CallCore {
        incoming(identity: identity, caller: caller, callID: callID, invitePayload: invitePayload, timeouts: timeouts,
                 now: now, entropy: SystemEntropy.shared)
    }

    package static func incoming(identity: DeviceIdentity, caller: DeviceID, callID: CallID, invitePayload: [UInt8],
                                 timeouts: CallTimeouts = .default, now: Timestamp, entropy: EntropySource) -> CallCore {
        let core = CallCore(role: .callee, callID: callID, peer: caller, identity: identity, preferences: .default,
                            policy: .requireDeviceID, timeouts: timeouts, entropy: entropy, state: .ringing)
        core.invitePayload = invitePayload
        core.emit(.event(.stateChanged(.ringing)))
        core.stepDeadline = (now + timeouts.incoming, .incoming)
        return core
    }

    // MARK: The user's decisions

    /// Answers an incoming call. `securityCode` must be the code the caller used (nil
    /// when none was agreed): any difference fails the call on both sides with
    /// `securityCodeMismatch`. The caller of this API owns and erases the code.
    public func accept(securityCode: SecurityCode?, media: MediaPreferences,
                       policy: PeerIdentityPolicy = .requireDeviceID, now: Timestamp) throws(CallError) {
        guard role == .callee else { throw CallError.invalidState("only an incoming call can be accepted") }
        guard state == .ringing, let invite = invitePayload else {
            throw CallError.invalidState("the call is \(state), not ringing")
        }
        do {
            try media.validate()
        } catch {
            throw CallError.negotiationFailed("the media preferences are not valid: \(error)")
        }
        preferences = media
        self.policy = policy
        invitePayload = nil
        let responder = CallResponder(identity: identity, callerID: peer, securityCode: securityCode, policy: policy, entropy: entropy)
        self.responder = responder
        do {
            let response = try responder.consumeInvite(invite)
            // The handshake's sid is the call ID (PROTOCOL.md): an invite whose ADa names
            // another call was moved here from elsewhere.
            guard responder.callID == callID.bytes else {
                throw CryptoError.malformed("the invite's call ID differs from the call ID the server announced")
            }
            emit(.signalling(.accept(callID: callID, payload: response)))
            enter(.securing)
            stepDeadline = (now + timeouts.handshakeStep, .handshake)
        } catch {
            // The accept carries an abort instead of message 2, so the caller learns why.
            let callError = CallCore.callError(for: error)
            emit(.signalling(.accept(callID: callID, payload: CallCore.abortPayload(callError.code))))
            emit(.signalling(.hangup(callID: callID)))
            finish(.failed(callError), now: now)
        }
    }

    /// Declines an incoming call that still rings.
    public func reject(now: Timestamp) throws(CallError) {
        guard role == .callee, state == .ringing else { throw CallError.invalidState("only a ringing incoming call can be rejected") }
        emit(.signalling(.reject(callID: callID)))
        finish(.hungUpLocally, now: now)
    }

    /// Ends the call from this side, in any state: cancels an outgoing call, rejects a
    /// ringing one, or hangs up (a sealed goodbye on the direct path, then a hang-up
    /// through the server). Erases every key of the call before returning. Does
    /// nothing once the call has ended.
    public func hangUp(now: Timestamp) {
        switch state {
        case .ended:
            return
        case .ringing where role == .callee:
            emit(.signalling(.reject(callID: callID)))
        default:
            sendGoodbye(code: CallSpec.byeHangUp, now: now)
            emit(.signalling(.hangup(callID: callID)))
        }
        finish(.hungUpLocally, now: now)
    }

    // MARK: Inputs

    /// A signalling message for this call. Messages for other calls, and messages
    /// that do not fit the call's state, are ignored and counted.
    public func handleSignalling(_ message: SignalMessage, now: Timestamp) {
        guard !state.isEnded else { return }
        switch message {
        case let .ringing(id) where id == callID:
            guard role == .caller, state == .inviting else { return ignored() }
            enter(.ringing)
        case let .accept(id, payload) where id == callID:
            handleAccept(payload, now: now)
        case let .signal(id, payload) where id == callID:
            handleSignalPayload(payload, now: now)
        case let .callEnded(id, outcome) where id == callID:
            handleCallEnded(outcome, now: now)
        default:
            ignored()
        }
    }

    /// What the ICE transport reported.
    public func handleTransport(_ input: TransportInput, now: Timestamp) {
        guard !state.isEnded, transportStarted else { return }
        switch input {
        case let .started(credentials):
            guard localCredentials == nil else { return }
            localCredentials = credentials
            if role == .caller { sendOffer(now: now) } else if remoteOffer != nil { sendAnswer(now: now) }
        case let .localCandidate(attribute):
            if descriptionSent {
                sealAndSend(kind: CallSpec.BlobKind.candidate, content: Array(attribute.utf8), now: now)
            } else if pendingLocalCandidates.count < CallSpec.maxRemoteCandidates {
                pendingLocalCandidates.append(attribute)
            }
        case .gatheringComplete:
            localGatheringComplete = true
            if descriptionSent { sendEndOfCandidates(now: now) }
        case let .connected(pair):
            path = pair
            emit(.event(.pathSelected(pair)))
            if state == .connecting {
                stepDeadline = nil
                enter(.connected)
            }
        case let .failed(reason):
            fail(state == .connected ? .connectionLost : .peerUnreachable, detail: reason, now: now)
        case .consentLost:
            fail(.connectionLost, now: now)
        case let .controlFrame(payload):
            guard case let .goodbye(code)? = ControlFrame.decode(payload) else { return ignored() }
            stopTransport()
            finish(code == CallSpec.byeHangUp ? .hungUpByPeer : .failed(CallError.reportedByPeer(code)), now: now)
        }
    }

    /// Call at or after `nextDeadline`.
    public func handleTimeout(now: Timestamp) {
        guard !state.isEnded else { return }
        if let gap = gapDeadline, gap <= now {
            fail(.timeout(.blobGap), now: now)
            return
        }
        guard let (at, step) = stepDeadline, at <= now else { return }
        switch state {
        case .ringing where role == .callee:
            emit(.signalling(.reject(callID: callID)))
            finish(.failed(.timeout(step)), now: now)
        default:
            fail(.timeout(step), now: now)
        }
    }

    // MARK: Outputs

    /// The next thing to do, in order; nil when there is nothing.
    public func pollOutput() -> CallOutput? {
        guard outputHead < outputs.count else { return nil }
        let output = outputs[outputHead]
        outputHead += 1
        if outputHead == outputs.count {
            outputs.removeAll(keepingCapacity: true)
            outputHead = 0
        }
        return output
    }

    /// When `handleTimeout` must be called next, if ever.
    public var nextDeadline: Timestamp? {
        switch (stepDeadline?.at, gapDeadline) {
        case let (step?, gap?): return min(step, gap)
        case let (step?, nil): return step
        case let (nil, gap?): return gap
        case (nil, nil): return nil
        }
    }

    /// The sealer of this side's frames while the call has keys (nil before the keys
    /// are confirmed and after the call ends).
    public var frameSealer: FrameSealer? { keys?.frameSealer }
    /// The opener of the peer's frames while the call has keys.
    public var frameOpener: FrameOpener? { keys?.frameOpener }
    /// True when the call holds no key material (before the handshake, or once ended).
    public var holdsNoSecrets: Bool { keys == nil && initiator == nil && responder == nil }

    // MARK: Handshake

    private func handleAccept(_ payload: [UInt8], now: Timestamp) {
        guard role == .caller, state == .inviting || state == .ringing, let initiator else { return ignored() }
        if let code = CallCore.abortCode(payload) {
            finish(.failed(CallError.reportedByPeer(code)), now: now)
            return
        }
        do {
            let confirm = try initiator.consumeResponse(payload)
            emit(.signalling(.signal(callID: callID, payload: confirm)))
            enter(.securing)
            stepDeadline = (now + timeouts.handshakeStep, .handshake)
        } catch {
            abortHandshake(CallCore.callError(for: error), now: now)
        }
    }

    private func handleSignalPayload(_ payload: [UInt8], now: Timestamp) {
        guard let type = payload.first else { return ignored() }
        switch type {
        case CallSpec.PayloadType.confirm:
            guard role == .callee, state == .securing, let responder else { return ignored() }
            do {
                let (finishMessage, keys) = try responder.consumeConfirm(payload)
                emit(.signalling(.signal(callID: callID, payload: finishMessage)))
                secured(keys, now: now)
            } catch {
                abortHandshake(CallCore.callError(for: error), now: now)
            }
        case CallSpec.PayloadType.finish:
            guard role == .caller, state == .securing, let initiator else { return ignored() }
            do {
                secured(try initiator.consumeFinish(payload), now: now)
            } catch {
                abortHandshake(CallCore.callError(for: error), now: now)
            }
        case CallSpec.PayloadType.abort:
            // Unauthenticated, so only honoured before the peer has proved anything
            // with the call keys (a relay can end a call in any case by dropping it).
            guard state == .securing || (state == .negotiating && nextRemoteSequence == 0),
                  let code = CallCore.abortCode(payload) else { return ignored() }
            stopTransport()
            finish(.failed(CallError.reportedByPeer(code)), now: now)
        case CallSpec.PayloadType.sealedBlob:
            guard keys != nil else { return ignored() }
            handleSealedBlob(payload, now: now)
        default:
            ignored()
        }
    }

    private func handleCallEnded(_ outcome: CallOutcome, now: Timestamp) {
        if state == .connected {
            // The direct path is what counts once it works: the peer's signalling
            // connection may drop (or the server restart) while the call goes on.
            guard outcome == .hungUp else { return ignored() }
        }
        stopTransport()
        switch outcome {
        case .hungUp, .cancelled: finish(.hungUpByPeer, now: now)
        case .rejected: finish(.failed(.rejected), now: now)
        case .busy: finish(.failed(.busy), now: now)
        case .unavailable: finish(.failed(.peerUnavailable), now: now)
        case .unanswered: finish(.failed(.unanswered), now: now)
        case .glare: finish(.failed(.glare), now: now)
        case .peerGone: finish(.failed(.peerGone), now: now)
        }
    }

    /// A handshake step failed on this side: tell the peer why (unauthenticated abort),
    /// end the call at the server, erase.
    private func abortHandshake(_ error: CallError, now: Timestamp) {
        emit(.signalling(.signal(callID: callID, payload: CallCore.abortPayload(error.code))))
        emit(.signalling(.hangup(callID: callID)))
        stopTransport()
        finish(.failed(error), now: now)
    }

    private func secured(_ keys: CallKeys, now: Timestamp) {
        self.keys = keys
        initiator?.erase()
        initiator = nil
        responder?.erase()
        responder = nil
        sas = keys.sas
        emit(.event(.secured(sas: keys.sas, peer: keys.peerDeviceID)))
        enter(.negotiating)
        stepDeadline = (now + timeouts.negotiation, .negotiation)
        transportStarted = true
        emit(.transport(.start(controlling: role == .caller)))
    }

    // MARK: Sealed blobs: in sequence, each once

    private func handleSealedBlob(_ wire: [UInt8], now: Timestamp) {
        guard let keys else { return }
        let blob: SealedBlob
        do {
            blob = try keys.blobOpener.open(wire)
        } catch CryptoError.replayed {
            counters.replayedBlobs += 1
            return
        } catch {
            counters.forgedBlobs += 1
            return
        }
        guard blob.sequence == nextRemoteSequence else {
            // Ahead of a missing blob (the server relays in order, so only a relay
            // that reorders or drops gets here): hold it, bounded, until the gap closes.
            guard heldBlobs.count < CallSpec.maxPendingBlobs else {
                fail(.protocolViolation("more than \(CallSpec.maxPendingBlobs) signalling blobs behind a missing one"), now: now)
                return
            }
            heldBlobs[blob.sequence] = blob
            counters.reorderedBlobs += 1
            if gapDeadline == nil { gapDeadline = now + timeouts.blobGap }
            return
        }
        process(blob, now: now)
        while !state.isEnded, let next = heldBlobs.removeValue(forKey: nextRemoteSequence) {
            process(next, now: now)
        }
        if heldBlobs.isEmpty { gapDeadline = nil }
    }

    private func process(_ blob: SealedBlob, now: Timestamp) {
        nextRemoteSequence += 1
        let first = blob.sequence == 0
        switch blob.kind {
        case CallSpec.BlobKind.offer where role == .callee && first:
            do {
                remoteOffer = try SessionDescription.parse(blob.content)
            } catch {
                fail(.negotiationFailed("the offer is not valid SDP: \(error)"), now: now)
                return
            }
            if localCredentials != nil { sendAnswer(now: now) }
        case CallSpec.BlobKind.answer where role == .caller && first:
            guard let offer = localOffer else { return violation("an answer before the offer was sent", now: now) }
            let answer: SessionDescription
            do {
                answer = try SessionDescription.parse(blob.content)
                negotiatedMedia = try SessionNegotiation.complete(offer: offer, answer: answer)
            } catch {
                fail(.negotiationFailed("the answer does not fit the offer: \(error)"), now: now)
                return
            }
            remoteDescriptionApplied(answer, now: now)
        case _ where first:
            violation("the first blob of the \(role == .caller ? "callee" : "caller") must be its \(role == .caller ? "answer" : "offer"), not kind \(blob.kind)", now: now)
        case CallSpec.BlobKind.candidate:
            guard !remoteEndOfCandidates else { return violation("a candidate after end-of-candidates", now: now) }
            addRemoteCandidate(blob.content, now: now)
        case CallSpec.BlobKind.endOfCandidates:
            guard !remoteEndOfCandidates else { return violation("a second end-of-candidates", now: now) }
            remoteEndOfCandidates = true
            emit(.transport(.endOfRemoteCandidates))
        case CallSpec.BlobKind.bye:
            guard blob.content.count == 2 else { return violation("a bye of \(blob.content.count) bytes", now: now) }
            let code = UInt16(blob.content[0]) << 8 | UInt16(blob.content[1])
            stopTransport()
            finish(code == CallSpec.byeHangUp ? .hungUpByPeer : .failed(CallError.reportedByPeer(code)), now: now)
        default:
            // A kind this version does not know, or an offer/answer after the first
            // blob: authenticated, so harmless to skip.
            ignored()
        }
    }

    private func addRemoteCandidate(_ content: [UInt8], now: Timestamp) {
        guard remoteCandidateCount < CallSpec.maxRemoteCandidates else {
            counters.ignoredCandidates += 1
            return
        }
        guard content.count <= CallSpec.maxCandidateBytes, let text = String(validating: content, as: UTF8.self) else {
            return violation("a candidate blob that is not a short UTF-8 string", now: now)
        }
        let attribute: IceCandidateAttribute
        do {
            attribute = try IceCandidateAttribute.parse(text)
        } catch {
            return violation("an invalid candidate: \(error)", now: now)
        }
        remoteCandidateCount += 1
        emit(.transport(.addRemoteCandidate(attribute.attributeValue)))
    }

    // MARK: Offer and answer

    private func sendOffer(now: Timestamp) {
        guard let credentials = localCredentials, !descriptionSent else { return }
        do {
            try credentials.validate()
        } catch {
            fail(.transportFailed("the local ICE credentials are not valid: \(error)"), now: now)
            return
        }
        let offer = SessionNegotiation.offer(preferences: preferences, ice: credentials, sessionID: sessionID)
        localOffer = offer
        guard sealAndSend(kind: CallSpec.BlobKind.offer, content: offer.serialized(), now: now) else { return }
        descriptionSent = true
        flushLocalCandidates(now: now)
    }

    private func sendAnswer(now: Timestamp) {
        guard let credentials = localCredentials, let offer = remoteOffer, !descriptionSent else { return }
        let answer: SessionDescription
        do {
            (answer, negotiatedMedia) = try SessionNegotiation.answer(to: offer, preferences: preferences, ice: credentials,
                                                                      sessionID: sessionID)
        } catch {
            fail(.negotiationFailed("\(error)"), now: now)
            return
        }
        guard sealAndSend(kind: CallSpec.BlobKind.answer, content: answer.serialized(), now: now) else { return }
        descriptionSent = true
        remoteOffer = nil
        remoteDescriptionApplied(offer, now: now)
        flushLocalCandidates(now: now)
    }

    /// Both descriptions are known: hand ICE the peer's credentials and any candidates
    /// its description carried, and wait for connectivity.
    private func remoteDescriptionApplied(_ remote: SessionDescription, now: Timestamp) {
        if let negotiatedMedia { emit(.event(.negotiated(negotiatedMedia))) }
        emit(.transport(.setRemoteCredentials(remote.ice)))
        for candidate in remote.candidates {
            guard remoteCandidateCount < CallSpec.maxRemoteCandidates else {
                counters.ignoredCandidates += 1
                continue
            }
            remoteCandidateCount += 1
            emit(.transport(.addRemoteCandidate(candidate.attributeValue)))
        }
        if remote.endOfCandidates {
            remoteEndOfCandidates = true
            emit(.transport(.endOfRemoteCandidates))
        }
        enter(.connecting)
        stepDeadline = (now + timeouts.connect, .connect)
    }

    private func flushLocalCandidates(now: Timestamp) {
        let pending = pendingLocalCandidates
        pendingLocalCandidates = []
        for attribute in pending where !state.isEnded {
            sealAndSend(kind: CallSpec.BlobKind.candidate, content: Array(attribute.utf8), now: now)
        }
        if localGatheringComplete { sendEndOfCandidates(now: now) }
    }

    private func sendEndOfCandidates(now: Timestamp) {
        guard !endOfCandidatesSent else { return }
        endOfCandidatesSent = true
        sealAndSend(kind: CallSpec.BlobKind.endOfCandidates, content: [], now: now)
    }

    /// The SDP session ID: the caller's is the first 8 bytes of the call ID, the
    /// callee's the last 8, with the top bit cleared (RFC 8866 wants it to fit 63 bits).
    private var sessionID: UInt64 {
        let bytes = role == .caller ? callID.bytes[0..<8] : callID.bytes[8..<16]
        return bytes.reduce(0) { $0 << 8 | UInt64($1) } & 0x7fff_ffff_ffff_ffff
    }

    // MARK: Ending

    private func violation(_ reason: String, now: Timestamp) {
        fail(.protocolViolation(reason), now: now)
    }

    /// Fails the call from this side: a sealed bye (when keys exist) so the peer learns
    /// why, a goodbye on the direct path, a hang-up at the server, then erasure.
    private func fail(_ error: CallError, detail: String? = nil, now: Timestamp) {
        guard !state.isEnded else { return }
        switch state {
        case .inviting, .ringing:
            emit(.signalling(role == .callee ? .reject(callID: callID) : .hangup(callID: callID)))
        case .securing:
            emit(.signalling(.signal(callID: callID, payload: CallCore.abortPayload(error.code))))
            emit(.signalling(.hangup(callID: callID)))
        default:
            var code = [UInt8]()
            code.append(UInt8(error.code >> 8))
            code.append(UInt8(error.code & 0xff))
            sealAndSend(kind: CallSpec.BlobKind.bye, content: code, now: now, failOnError: false)
            sendGoodbye(code: error.code, now: now)
            emit(.signalling(.hangup(callID: callID)))
        }
        stopTransport()
        finish(.failed(error), now: now)
    }

    private func sendGoodbye(code: UInt16, now: Timestamp) {
        guard transportStarted, let sealer = keys?.frameSealer,
              let frame = try? sealer.seal(type: FrameType.control.rawValue, payload: ControlFrame.goodbye(code: code).encoded, now: now)
        else { return }
        emit(.transport(.sendFrame(frame)))
    }

    private func stopTransport() {
        guard transportStarted else { return }
        transportStarted = false
        emit(.transport(.stop))
    }

    /// The end: erase every secret, clear every deadline, report.
    private func finish(_ end: CallEnd, now: Timestamp) {
        guard !state.isEnded else { return }
        stopTransport()
        initiator?.erase()
        initiator = nil
        responder?.erase()
        responder = nil
        keys?.erase()
        keys = nil
        invitePayload = nil
        remoteOffer = nil
        localOffer = nil
        heldBlobs = [:]
        pendingLocalCandidates = []
        stepDeadline = nil
        gapDeadline = nil
        state = .ended(end)
        emit(.event(.stateChanged(state)))
        emit(.event(.ended(end)))
    }

    // MARK: Helpers

    private func enter(_ next: CallState) {
        guard state != next else { return }
        state = next
        emit(.event(.stateChanged(next)))
    }

    private func emit(_ output: CallOutput) { outputs.append(output) }

    private func ignored() { counters.ignoredMessages += 1 }

    /// Seals and sends one blob. A sealing failure (content too large, counter
    /// exhausted) fails the call unless `failOnError` is false. Returns success.
    @discardableResult
    private func sealAndSend(kind: UInt8, content: [UInt8], now: Timestamp, failOnError: Bool = true) -> Bool {
        guard let keys else { return false }
        do {
            let wire = try keys.blobSealer.seal(kind: kind, content: content)
            emit(.signalling(.signal(callID: callID, payload: wire)))
            return true
        } catch {
            if failOnError { fail(.protocolViolation("could not seal a signalling blob: \(error)"), now: now) }
            return false
        }
    }

    static func abortPayload(_ code: UInt16) -> [UInt8] {
        [CallSpec.PayloadType.abort, UInt8(code >> 8), UInt8(code & 0xff)]
    }

    static func abortCode(_ payload: [UInt8]) -> UInt16? {
        guard payload.count == CallSpec.abortCount, payload[0] == CallSpec.PayloadType.abort else { return nil }
        return UInt16(payload[1]) << 8 | UInt16(payload[2])
    }

    static func callError(for error: any Error) -> CallError {
        guard let crypto = error as? CryptoError else { return .handshakeFailed(.malformed("\(error)")) }
        switch crypto {
        case .securityCodeMismatch, .commitmentMismatch: return .securityCodeMismatch
        default: return .handshakeFailed(crypto)
        }
    }
}
