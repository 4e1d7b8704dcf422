import ParleyCrypto

/// One complete call with fixed randomness: identities, handshake, key schedule,
/// one sealed blob and two frames (the second after a time-based rekey), from
/// the caller to the callee. `make()` runs the real handshake and sealers, then
/// rebuilds every intermediate value from PROTOCOL.md's formulas and stops the
/// tool if the two disagree.
struct CallVector {
    let name: String
    /// Seed of `DeterministicEntropy` (its UTF-8 bytes).
    let seed: String
    /// The code both people typed, before normalisation; nil when none was set.
    let securityCode: String?

    static let blobKind: UInt8 = 1
    static let blobContent = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    static let frameType: UInt8 = 1
    static let firstFramePayload = "hello"
    static let secondFramePayload = "hello again"
    /// The second frame is sealed exactly `rekeyAfterTime` after the sealer was made.
    static let secondFrameTime = Timestamp.zero + SpecConstants.rekeyAfterTime

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

        entropy.expect(Purpose.callID, Purpose.callerScalar)
        let initiator = try CallInitiator(identity: caller, calleeID: callee.deviceID, securityCode: callerCode, entropy: entropy)
        let responder = CallResponder(identity: callee, callerID: caller.deviceID, securityCode: calleeCode, entropy: entropy)
        entropy.expect(Purpose.calleeScalar)
        let responseMessage = try responder.consumeInvite(initiator.inviteMessage)
        let (confirmMessage, callerKeys) = try initiator.consumeResponse(responseMessage)
        let calleeKeys = try responder.consumeConfirm(confirmMessage)
        defer {
            callerKeys.erase()
            calleeKeys.erase()
        }

        let callID = entropy.bytes(for: Purpose.callID)
        check(callID == initiator.callID && callID == calleeKeys.callID, "call ID")
        let prs = securityCode.map(SpecFormulas.normalisedCode) ?? []

        // CPace inputs and messages.
        guard case let .invite(invite) = try HandshakeMessage.decode(initiator.inviteMessage),
              case let .response(response) = try HandshakeMessage.decode(responseMessage),
              case let .confirm(confirm) = try HandshakeMessage.decode(confirmMessage) else {
            fatalError("the handshake produced a message of the wrong type")
        }
        let ci = SpecFormulas.channelIdentifier(caller: caller.deviceID, callee: callee.deviceID)
        let generatorString = SpecFormulas.generatorString(prs: prs, ci: ci, sid: callID)
        let ya = SpecFormulas.scalar(fromDrawn: entropy.bytes(for: Purpose.callerScalar))
        let yb = SpecFormulas.scalar(fromDrawn: entropy.bytes(for: Purpose.calleeScalar))
        let adA = invite.associatedData.encoded
        let adB = response.associatedData.encoded
        let transcript = CPace.transcriptIR(ya: invite.element, adA: adA, yb: response.element, adB: adB)
        let cpace = try CPaceValues(prs: prs, ci: ci, sid: callID, ya: ya, yb: yb, elementA: invite.element, elementB: response.element,
                                    transcript: transcript)

        // Signatures.
        let inviteSigned = CPace.lvCat(SpecFormulas.utf8(SpecFormulas.Label.signatureInit), ci, callID, invite.element, adA)
        let responseSigned = CPace.lvCat(SpecFormulas.utf8(SpecFormulas.Label.signatureResponse), ci, callID, transcript)
        let confirmSigned = CPace.lvCat(SpecFormulas.utf8(SpecFormulas.Label.signatureConfirm), ci, callID, transcript)
        check(Ed25519.isValidSignature(invite.signature, of: inviteSigned, publicKey: caller.publicKey), "invite signed data")
        check(Ed25519.isValidSignature(response.signature, of: responseSigned, publicKey: callee.publicKey), "response signed data")
        check(Ed25519.isValidSignature(confirm.signature, of: confirmSigned, publicKey: caller.publicKey), "confirm signed data")

        // Key schedule.
        let th = KeySchedule.transcriptHash(ci: ci, sid: callID, transcript: transcript)
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
        check(schedule.confirmTagCallee == response.confirmTag, "callee's confirmation tag")
        check(schedule.confirmTagCaller == confirm.confirmTag, "caller's confirmation tag")
        check(schedule.sasDigits == callerKeys.sas.digits && schedule.sasDigits == calleeKeys.sas.digits, "SAS")

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
                ("normalised", securityCode == nil ? .null : .string(String(decoding: prs, as: UTF8.self))),
                ("code_set_flag", .integer(securityCode == nil ? 0 : 1)),
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
                ("Ya", .hex(invite.element)),
                ("ADa", .hex(adA)),
                ("yb", .hex(yb)),
                ("Yb", .hex(response.element)),
                ("ADb", .hex(adB)),
                ("K", .hex(cpace.k)),
                ("transcript_ir", .hex(transcript)),
                ("ISK", .hex(cpace.isk)),
            ])),
            ("handshake", .object([
                ("invite", .hex(initiator.inviteMessage)),
                ("invite_signed_data", .hex(inviteSigned)),
                ("response", .hex(responseMessage)),
                ("response_signed_data", .hex(responseSigned)),
                ("confirm", .hex(confirmMessage)),
                ("confirm_signed_data", .hex(confirmSigned)),
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
                ("confirm_tag_callee", .hex(schedule.confirmTagCallee)),
                ("confirm_tag_caller", .hex(schedule.confirmTagCaller)),
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
        let sealer = callerKeys.makeBlobSealer()
        let opener = calleeKeys.makeBlobOpener()
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

    /// Seals two frames with the caller's sealer (the second one exactly
    /// `rekeyAfterTime` later, so it goes out under the next key with the phase
    /// bit flipped), opens both with the callee's opener, and checks each against
    /// an AEAD call built from the spec's layout.
    private func sealFrames(callerKeys: CallKeys, calleeKeys: CallKeys, key firstKey: [UInt8]) throws -> [JSON] {
        let secondKey = try withSecret(firstKey) { key in
            try read(HKDF.expand(pseudoRandomKey: key, info: CPace.prependLen(SpecFormulas.utf8(SpecFormulas.Label.frameRekey)),
                                 count: KeySchedule.keyCount), erasing: true)
        }
        let sealer = callerKeys.makeFrameSealer(now: .zero)
        let opener = calleeKeys.makeFrameOpener()
        defer {
            sealer.erase()
            opener.erase()
        }
        let steps: [(payload: String, now: Timestamp, phase: Bool, key: [UInt8], keyName: String)] = [
            (CallVector.firstFramePayload, .zero, false, firstKey, "frame_caller_to_callee"),
            (CallVector.secondFramePayload, CallVector.secondFrameTime, true, secondKey, "next frame key after frame_caller_to_callee"),
        ]
        var frames: [JSON] = []
        for (counter, step) in steps.enumerated() {
            let payload = SpecFormulas.utf8(step.payload)
            let wire = try sealer.seal(type: CallVector.frameType, payload: payload, now: step.now)
            let opened = try opener.open(wire, now: step.now)
            check(opened.payload == payload && opened.header.keyPhase == step.phase && opened.header.counter == UInt64(counter),
                  "frame \(counter) round trip")
            let header = SpecFormulas.frameHeader(keyPhase: step.phase, type: CallVector.frameType, counter: UInt64(counter))
            let nonce = SpecFormulas.counterNonce(UInt64(counter))
            let sealed = try withSecret(step.key) { try ChaCha20Poly1305.seal(payload, key: $0, nonce: nonce, associatedData: header) }
            check(wire == header + sealed, "frame \(counter) wire layout")
            frames.append(.object([
                ("sender", .string("caller")),
                ("now_ns", .integer(Int(step.now.nanoseconds))),
                ("key_phase", .integer(step.phase ? 1 : 0)),
                ("key_name", .string(step.keyName)),
                ("key", .hex(step.key)),
                ("type", .integer(Int(CallVector.frameType))),
                ("counter", .integer(counter)),
                ("payload_text", .string(step.payload)),
                ("payload", .hex(payload)),
                ("header", .hex(header)),
                ("nonce", .hex(nonce)),
                ("wire", .hex(wire)),
            ]))
        }
        return frames
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
private func check(_ condition: Bool, _ what: String) {
    guard condition else { fatalError("spec and code disagree on \(what)") }
}
