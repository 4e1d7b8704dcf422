import ParleyCrypto

/// One complete call with fixed randomness: identities, the four handshake
/// messages, key schedule, one sealed blob and three frames (each after a
/// time-based rekey), from the caller to the callee. `make()` runs the real
/// handshake, sealers and openers, then rebuilds every intermediate value from
/// PROTOCOL.md's formulas and stops the tool if the two disagree.
struct CallVector {
    let name: String
    /// Seed of `DeterministicEntropy` (its UTF-8 bytes).
    let seed: String
    /// The code both people typed, before normalisation; nil when none was set.
    let securityCode: String?

    static let blobKind: UInt8 = 1
    static let blobContent = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    static let frameType: UInt8 = 1
    /// Frame n is sealed exactly n * `rekeyAfterTime` after the sealer was made, so
    /// it goes out under the key of epoch n.
    static let framePayloads = ["hello", "hello again", "hello once more"]

    enum Purpose {
        static let callerSeed = "caller identity seed"
        static let calleeSeed = "callee identity seed"
        static let callID = "call ID"
        static let callerScalar = "caller CPace scalar ya"
        static let calleeScalar = "callee CPace scalar yb"
    }

    func make() throws -> JSON {
        let entropy = RecordingEntropy(wrapping: DeterministicEntropy(seed: Array(seed.utf8)))

        entropy.expect(Purpose.callerSeed)
        let caller = DeviceIdentity(entropy: entropy)
        entropy.expect(Purpose.calleeSeed)
        let callee = DeviceIdentity(entropy: entropy)
        let callerCode = try SecurityCode.parse(securityCode)
        let calleeCode = try SecurityCode.parse(securityCode)
        defer {
            caller.erase()
            callee.erase()
            callerCode?.erase()
            calleeCode?.erase()
        }

        // The four messages, in order.
        entropy.expect(Purpose.callID, Purpose.callerScalar)
        let initiator = try CallInitiator(identity: caller, calleeID: callee.deviceID, securityCode: callerCode, entropy: entropy)
        let responder = CallResponder(identity: callee, callerID: caller.deviceID, securityCode: calleeCode, entropy: entropy)
        entropy.expect(Purpose.calleeScalar)
        let inviteMessage = initiator.inviteMessage
        let responseMessage = try responder.consumeInvite(inviteMessage)
        let confirmMessage = try initiator.consumeResponse(responseMessage)
        let (finishMessage, calleeKeys) = try responder.consumeConfirm(confirmMessage)
        defer { calleeKeys.erase() }
        let callerKeys = try initiator.consumeFinish(finishMessage)
        defer { callerKeys.erase() }

        let callID = entropy.bytes(for: Purpose.callID)
        check(callID == initiator.callID && callID == calleeKeys.callID, "call ID")
        let prs: [UInt8]
        switch SpecFormulas.normalisedCode(securityCode) {
        case .noCode: prs = []
        case let .code(bytes): prs = bytes
        case .invalid: fatalError("the vector's security code is invalid by the spec, yet SecurityCode.parse accepted it")
        }
        check((callerCode != nil) == !prs.isEmpty, "whether a code is set")

        // CPace inputs and messages. Ya is first seen on the wire in message 3.
        guard case let .invite(invite) = try HandshakeMessage.decode(inviteMessage),
              case let .response(response) = try HandshakeMessage.decode(responseMessage),
              case let .confirm(confirm) = try HandshakeMessage.decode(confirmMessage),
              case .finish = try HandshakeMessage.decode(finishMessage) else {
            fatalError("the handshake produced a message of the wrong type")
        }
        let ci = SpecFormulas.channelIdentifier(caller: caller.deviceID, callee: callee.deviceID)
        let generatorString = SpecFormulas.generatorString(prs: prs, ci: ci, sid: callID)
        let ya = SpecFormulas.scalar(fromDrawn: entropy.bytes(for: Purpose.callerScalar))
        let yb = SpecFormulas.scalar(fromDrawn: entropy.bytes(for: Purpose.calleeScalar))
        let elementA = confirm.element
        let elementB = response.element
        let adA = SpecFormulas.associatedData(role: .caller, codeSet: !prs.isEmpty, callID: callID, identityKey: caller.publicKey)
        let adB = SpecFormulas.associatedData(role: .callee, codeSet: !prs.isEmpty, callID: callID, identityKey: callee.publicKey)
        check(adA == invite.associatedData.encoded, "ADa")
        check(adB == response.associatedData.encoded, "ADb")
        let transcript = SpecFormulas.transcript(elementA: elementA, adA: adA, elementB: elementB, adB: adB)
        let cpace = try CPaceValues(prs: prs, ci: ci, sid: callID, ya: ya, yb: yb, elementA: elementA, elementB: elementB,
                                    transcript: transcript)

        // The commitment to Ya and the signatures.
        let commitmentInput = SpecFormulas.commitmentInput(ci: ci, sid: callID, elementA: elementA, adA: adA)
        let commitment = SpecFormulas.commitment(ci: ci, sid: callID, elementA: elementA, adA: adA)
        check(commitment == invite.commitment, "commitment in message 1 to the Ya revealed in message 3")
        check(commitment == KeySchedule.commitment(ci: ci, sid: callID, element: elementA, ad: adA), "KeySchedule.commitment")
        let inviteSigned = SpecFormulas.inviteSignedData(ci: ci, sid: callID, commitment: commitment, adA: adA)
        let responseSigned = SpecFormulas.responseSignedData(ci: ci, sid: callID, commitment: commitment, adA: adA, elementB: elementB, adB: adB)
        check(Ed25519.isValidSignature(invite.signature, of: inviteSigned, publicKey: caller.publicKey), "invite signed data")
        check(Ed25519.isValidSignature(response.signature, of: responseSigned, publicKey: callee.publicKey), "response signed data")

        // Key schedule.
        let th = SpecFormulas.transcriptHash(ci: ci, sid: callID, transcript: transcript)
        check(th == callerKeys.transcriptHash && th == calleeKeys.transcriptHash, "transcript hash")
        let schedule = try KeyScheduleValues(isk: cpace.isk, th: th)
        check(schedule.signalCallerToCallee == (try read(callerKeys.signalSend)), "caller's signal send key")
        check(schedule.signalCallerToCallee == (try read(calleeKeys.signalReceive)), "callee's signal receive key")
        check(schedule.signalCalleeToCaller == (try read(callerKeys.signalReceive)), "caller's signal receive key")
        check(schedule.signalCalleeToCaller == (try read(calleeKeys.signalSend)), "callee's signal send key")
        check(schedule.frameCallerToCallee == (try read(callerKeys.frameSend)), "caller's frame send key")
        check(schedule.frameCallerToCallee == (try read(calleeKeys.frameReceive)), "callee's frame receive key")
        check(schedule.frameCalleeToCaller == (try read(callerKeys.frameReceive)), "caller's frame receive key")
        check(schedule.frameCalleeToCaller == (try read(calleeKeys.frameSend)), "callee's frame send key")
        check(schedule.sasDigits == callerKeys.sas.digits && schedule.sasDigits == calleeKeys.sas.digits, "SAS")

        // Every message, byte for byte, as its layout table says.
        check(inviteMessage == [SpecFormulas.MessageType.invite] + commitment + adA + invite.signature, "message 1 layout")
        check(responseMessage == [SpecFormulas.MessageType.response] + elementB + adB + response.signature, "message 2 layout")
        check(confirmMessage == [SpecFormulas.MessageType.confirm] + elementA + schedule.confirmTagCaller, "message 3 layout and tag_caller")
        check(finishMessage == [SpecFormulas.MessageType.finish] + schedule.confirmTagCallee, "message 4 layout and tag_callee")

        let blob = try sealBlob(callerKeys: callerKeys, calleeKeys: calleeKeys, key: schedule.signalCallerToCallee, callID: callID)
        let frames = try sealFrames(callerKeys: callerKeys, calleeKeys: calleeKeys, key: schedule.frameCallerToCallee)

        return .object([
            ("name", .string(name)),
            ("entropy", .object([
                ("source", .string("DeterministicEntropy(seed: UTF-8 of seed_text)")),
                ("seed_text", .string(seed)),
                ("draws", .array(entropy.draws.enumerated().map { item in
                    .object([("index", .integer(item.offset)), ("purpose", .string(item.element.purpose)), ("bytes", .hex(item.element.bytes))])
                })),
            ])),
            ("security_code", .object([
                ("input", securityCode.map(JSON.string) ?? .null),
                ("normalised", prs.isEmpty ? .null : .string(String(decoding: prs, as: UTF8.self))),
                ("code_set_flag", .integer(prs.isEmpty ? 0 : 1)),
            ])),
            ("caller", device(caller, seed: entropy.bytes(for: Purpose.callerSeed))),
            ("callee", device(callee, seed: entropy.bytes(for: Purpose.calleeSeed))),
            ("call_id", .hex(callID)),
            ("cpace", .object([
                ("DSI", .hex(CPace.dsi)),
                ("PRS", .hex(prs)),
                ("CI", .hex(ci)),
                ("sid", .hex(callID)),
                ("generator_string", .hex(generatorString)),
                ("generator_string_hash", .hex(SHA512.hash(generatorString))),
                ("g", .hex(cpace.generator)),
                ("ya", .hex(ya)),
                ("Ya", .hex(elementA)),
                ("ADa", .hex(adA)),
                ("yb", .hex(yb)),
                ("Yb", .hex(elementB)),
                ("ADb", .hex(adB)),
                ("K", .hex(cpace.k)),
                ("transcript_ir", .hex(transcript)),
                ("ISK", .hex(cpace.isk)),
            ])),
            ("handshake", .object([
                ("commitment_input", .hex(commitmentInput)),
                ("commitment", .hex(commitment)),
                ("invite", .hex(inviteMessage)),
                ("invite_signed_data", .hex(inviteSigned)),
                ("response", .hex(responseMessage)),
                ("response_signed_data", .hex(responseSigned)),
                ("confirm", .hex(confirmMessage)),
                ("finish", .hex(finishMessage)),
            ])),
            ("key_schedule", .object([
                ("th", .hex(th)),
                ("PRK", .hex(schedule.prk)),
                ("signal_caller_to_callee", .hex(schedule.signalCallerToCallee)),
                ("signal_callee_to_caller", .hex(schedule.signalCalleeToCaller)),
                ("frame_caller_to_callee", .hex(schedule.frameCallerToCallee)),
                ("frame_callee_to_caller", .hex(schedule.frameCalleeToCaller)),
                ("confirm_caller", .hex(schedule.confirmCaller)),
                ("confirm_callee", .hex(schedule.confirmCallee)),
                ("confirm_tag_caller", .hex(schedule.confirmTagCaller)),
                ("confirm_tag_callee", .hex(schedule.confirmTagCallee)),
                ("sas_bytes", .hex(schedule.sasBytes)),
                ("sas", .string(callerKeys.sas.digits)),
                ("sas_display", .string(callerKeys.sas.description)),
            ])),
            ("sealed_blob", blob),
            ("frames", .array(frames)),
        ])
    }

    private func device(_ identity: DeviceIdentity, seed: [UInt8]) -> JSON {
        .object([
            ("identity_seed", .hex(seed)),
            ("public_key", .hex(identity.publicKey)),
            ("device_id", .hex(identity.deviceID.bytes)),
            ("device_id_printable", .string(identity.deviceID.printable)),
            ("device_id_fingerprint", .string(identity.deviceID.fingerprint)),
        ])
    }

    /// Seals the blob with the caller's sealer, opens it with the callee's opener,
    /// and checks the wire bytes against an AEAD call built from the spec's layout.
    private func sealBlob(callerKeys: CallKeys, calleeKeys: CallKeys, key: [UInt8], callID: [UInt8]) throws -> JSON {
        let content = SpecFormulas.utf8(CallVector.blobContent)
        let sealer = callerKeys.blobSealer
        let opener = calleeKeys.blobOpener
        let wire = try sealer.seal(kind: CallVector.blobKind, content: content)
        let opened = try opener.open(wire)
        check(opened.kind == CallVector.blobKind && opened.content == content && opened.sequence == 0, "blob round trip")

        let sequence: UInt64 = 0
        // The content is a few dozen bytes: it fits the smallest bucket.
        let bucket = SealedBlob.bucket(forContentCount: content.count)!
        let padded = SpecFormulas.paddedBlobPlaintext(kind: CallVector.blobKind, content: content, bucket: bucket)
        let nonce = SpecFormulas.counterNonce(sequence)
        let associatedData = SpecFormulas.blobAssociatedData(sequence: sequence, callID: callID, sender: .caller)
        let sealed = try withSecret(key) { try ChaCha20Poly1305.seal(padded, key: $0, nonce: nonce, associatedData: associatedData) }
        check(wire == [SpecConstants.protocolVersion] + SpecFormulas.bigEndian(sequence, count: 8) + sealed, "blob wire layout")
        return .object([
            ("sender", .string("caller")),
            ("key", .string("signal_caller_to_callee")),
            ("kind", .integer(Int(CallVector.blobKind))),
            ("content_text", .string(CallVector.blobContent)),
            ("content", .hex(content)),
            ("sequence", .integer(Int(sequence))),
            ("bucket", .integer(bucket)),
            ("padded_plaintext", .hex(padded)),
            ("nonce", .hex(nonce)),
            ("associated_data", .hex(associatedData)),
            ("wire", .hex(wire)),
        ])
    }

    /// Seals three frames with the caller's sealer, each `rekeyAfterTime` after the
    /// one before, so each goes out under the next key with the phase bit flipped.
    /// The callee's opener opens all three in order; a second receiver that never
    /// gets frame 1 must open frame 2 with the key two ahead, and then refuse the
    /// late frame 1 (its key was skipped). Each wire packet is checked against an
    /// AEAD call built from the spec's layout and rekey formula.
    private func sealFrames(callerKeys: CallKeys, calleeKeys: CallKeys, key firstKey: [UInt8]) throws -> [JSON] {
        var keys = [firstKey]
        for _ in 1..<CallVector.framePayloads.count {
            keys.append(try withSecret(keys[keys.count - 1]) { key in
                try read(HKDF.expand(pseudoRandomKey: key, info: CPace.prependLen(SpecFormulas.utf8(SpecFormulas.Label.frameRekey)),
                                     count: KeySchedule.keyCount), erasing: true)
            })
        }
        let sealer = callerKeys.frameSealer
        let opener = calleeKeys.frameOpener
        defer {
            sealer.erase()
            opener.erase()
        }
        var frames: [JSON] = []
        var wires: [[UInt8]] = []
        for (counter, payloadText) in CallVector.framePayloads.enumerated() {
            let epoch = counter
            let phase = epoch % 2 == 1
            let now = Timestamp.zero + SpecConstants.rekeyAfterTime * epoch
            let payload = SpecFormulas.utf8(payloadText)
            let wire = try sealer.seal(type: CallVector.frameType, payload: payload, now: now)
            let opened = try opener.open(wire, now: now)
            check(opened.payload == payload && opened.header.keyPhase == phase && opened.header.counter == UInt64(counter),
                  "frame \(counter) round trip")
            check(sealer.epoch == UInt64(epoch) && opener.epoch == UInt64(epoch), "frame \(counter) epoch")
            let header = SpecFormulas.frameHeader(keyPhase: phase, type: CallVector.frameType, counter: UInt64(counter))
            let nonce = SpecFormulas.counterNonce(UInt64(counter))
            let sealed = try withSecret(keys[epoch]) { try ChaCha20Poly1305.seal(payload, key: $0, nonce: nonce, associatedData: header) }
            check(wire == header + sealed, "frame \(counter) wire layout")
            wires.append(wire)
            frames.append(.object([
                ("sender", .string("caller")),
                ("now_ns", .integer(Int(now.nanoseconds))),
                ("epoch", .integer(epoch)),
                ("key_phase", .integer(phase ? 1 : 0)),
                ("key_name", .string(epoch == 0 ? "frame_caller_to_callee" : "frame_caller_to_callee after \(epoch) rekey\(epoch == 1 ? "" : "s")")),
                ("key", .hex(keys[epoch])),
                ("type", .integer(Int(CallVector.frameType))),
                ("counter", .integer(counter)),
                ("payload_text", .string(payloadText)),
                ("payload", .hex(payload)),
                ("header", .hex(header)),
                ("nonce", .hex(nonce)),
                ("wire", .hex(wire)),
            ]))
        }
        checkTwoKeysAhead(wires: wires, firstKey: firstKey)
        return frames
    }

    /// A receiver that lost frame 1 (every frame of epoch 1) sees frame 2 with its
    /// current phase and a counter above the current key's first: it must open it
    /// with the key two ahead, and then refuse frame 1, whose key it skipped.
    private func checkTwoKeysAhead(wires: [[UInt8]], firstKey: [UInt8]) {
        // The opener takes over this copy of the key; erase() ends it.
        let opener = FrameOpener(key: SecretBytes(copying: firstKey))
        defer { opener.erase() }
        let frameTwoTime = Timestamp.zero + SpecConstants.rekeyAfterTime * 2
        let payloads = CallVector.framePayloads.map(SpecFormulas.utf8)
        check((try? opener.open(wires[0], now: .zero))?.payload == payloads[0] && opener.epoch == 0, "lossy receiver opens frame 0")
        check((try? opener.open(wires[2], now: frameTwoTime))?.payload == payloads[2] && opener.epoch == 2, "frame 2 opens two keys ahead")
        var lateError: CryptoError?
        do { _ = try opener.open(wires[1], now: frameTwoTime) } catch { lateError = error as? CryptoError }
        check(lateError == .authenticationFailed, "frame 1 after a two-key jump fails authentication")
    }
}

/// CPace values the handshake keeps secret (g, K, ISK), recomputed from the
/// recorded scalars with the package's CPace primitives and checked for
/// consistency with the messages that went over the wire.
private struct CPaceValues {
    let generator: [UInt8]
    let k: [UInt8]
    let isk: [UInt8]

    init(prs: [UInt8], ci: [UInt8], sid: [UInt8], ya: [UInt8], yb: [UInt8], elementA: [UInt8], elementB: [UInt8], transcript: [UInt8]) throws {
        let prsSecret = prs.isEmpty ? nil : SecretBytes(copying: prs)
        defer { prsSecret?.erase() }
        let g = try CPace.generator(prs: prsSecret, ci: ci, sid: sid)
        defer { g.erase() }
        generator = try read(g)
        try withSecret(ya) { scalar in
            check(try CPace.scalarMult(scalar: scalar, generator: g) == elementA, "Ya = ya * g (PRS, CI and sid as specified)")
        }
        try withSecret(yb) { scalar in
            check(try CPace.scalarMult(scalar: scalar, generator: g) == elementB, "Yb = yb * g")
        }
        let kA = try withSecret(ya) { try CPace.scalarMultVerify(scalar: $0, element: elementB) }
        let kB = try withSecret(yb) { try CPace.scalarMultVerify(scalar: $0, element: elementA) }
        defer { kB.erase() }
        check(kA.constantTimeEquals(kB), "K is the same on both sides")
        k = try read(kA)
        isk = try read(CPace.intermediateSessionKey(sid: sid, k: kA, transcript: transcript), erasing: true)
        kA.erase()
    }
}

/// The key schedule recomputed from ISK and th with HKDF-SHA-512 and the labels of PROTOCOL.md.
private struct KeyScheduleValues {
    let prk: [UInt8]
    let signalCallerToCallee: [UInt8]
    let signalCalleeToCaller: [UInt8]
    let frameCallerToCallee: [UInt8]
    let frameCalleeToCaller: [UInt8]
    let confirmCaller: [UInt8]
    let confirmCallee: [UInt8]
    let confirmTagCaller: [UInt8]
    let confirmTagCallee: [UInt8]
    let sasBytes: [UInt8]
    let sasDigits: String

    init(isk: [UInt8], th: [UInt8]) throws {
        let prkSecret = try withSecret(isk) { try HKDF.extract(salt: SpecFormulas.utf8(SpecFormulas.Label.keyScheduleSalt), inputKeyMaterial: $0) }
        defer { prkSecret.erase() }
        func derive(_ label: String, _ count: Int = KeySchedule.keyCount) throws -> [UInt8] {
            try read(HKDF.expand(pseudoRandomKey: prkSecret, info: CPace.prependLen(SpecFormulas.utf8(label)) + th, count: count), erasing: true)
        }
        prk = try read(prkSecret)
        signalCallerToCallee = try derive(SpecFormulas.Label.signalCallerToCallee)
        signalCalleeToCaller = try derive(SpecFormulas.Label.signalCalleeToCaller)
        frameCallerToCallee = try derive(SpecFormulas.Label.frameCallerToCallee)
        frameCalleeToCaller = try derive(SpecFormulas.Label.frameCalleeToCaller)
        confirmCaller = try derive(SpecFormulas.Label.confirmCaller)
        confirmCallee = try derive(SpecFormulas.Label.confirmCallee)
        confirmTagCaller = try withSecret(confirmCaller) { try HKDF.tag(key: $0, message: th) }
        confirmTagCallee = try withSecret(confirmCallee) { try HKDF.tag(key: $0, message: th) }
        sasBytes = try derive(SpecFormulas.Label.sas, 8)
        let value = sasBytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) } % 1_000_000
        let text = String(value)
        sasDigits = String(repeating: "0", count: SpecConstants.sasDigits - text.count) + text
    }
}

/// Copies a secret's bytes out of protected memory (vector output only),
/// erasing the secret afterwards when `erasing` is set.
private func read(_ secret: SecretBytes, erasing: Bool = false) throws -> [UInt8] {
    defer { if erasing { secret.erase() } }
    return try secret.withUnsafeBytes { Array($0) }
}

/// Lends `bytes` to `body` as a temporary secret, erased afterwards.
private func withSecret<R>(_ bytes: [UInt8], _ body: (SecretBytes) throws -> R) throws -> R {
    let secret = SecretBytes(copying: bytes)
    defer { secret.erase() }
    return try body(secret)
}

/// Stops the tool when the code and the spec's formula disagree: such a vector must never be written.
func check(_ condition: Bool, _ what: String) {
    guard condition else { fatalError("spec and code disagree on \(what)") }
}
