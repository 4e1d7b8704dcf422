import Foundation
import ParleyCrypto
import Synchronization
import XCTest

/// Parley's own protocol vectors: Resources/protocol-vectors.json, written by
/// `parley-vectors` (Sources/ParleyVectorTool) and walked through in
/// Signalling/PROTOCOL.md, "Worked example". Two kinds of checks:
///
/// - replay: the real handshake, sealers and openers, fed the recorded random
///   bytes in order, reproduce every recorded value and open every recorded packet
///   (also as a receiver that lost a whole key's frames);
/// - spec: every value PROTOCOL.md defines by a formula (security code
///   normalisation, device IDs, CI, ADa, ADb, generator string, the commitment to
///   Ya, signed strings, transcript, th, ISK, the key schedule, confirmation tags,
///   SAS, the four message layouts, blob and frame layouts, the frame key chain)
///   is rebuilt here from that formula with this file's own LEB128, lv_cat, HMAC,
///   HKDF and base32, so the vectors check the spec, not only the code against
///   itself. Only primitives (SHA-512, BLAKE2b, Ed25519 verify, ChaCha20-Poly1305,
///   ristretto255 through CPace) come from the package.
final class ProtocolVectorTests: SecretsTestCase {
    // MARK: Replay

    func testReplayingRecordedRandomnessReproducesEveryRecordedValue() throws {
        for vector in try ProtocolVector.all() {
            try withReplayedCall(vector) { call in
                for (identity, side) in [(call.caller, "caller"), (call.callee, "callee")] {
                    assertBytes(identity.publicKey, try vector.hex(side, "public_key"), vector.name)
                    assertBytes(identity.deviceID.bytes, try vector.hex(side, "device_id"), vector.name)
                    XCTAssertEqual(identity.deviceID.printable, try vector.text(side, "device_id_printable"), vector.name)
                    XCTAssertEqual(identity.deviceID.fingerprint, try vector.text(side, "device_id_fingerprint"), vector.name)
                }
                assertBytes(call.callID, try vector.hex("call_id"), vector.name)
                assertBytes(call.inviteMessage, try vector.hex("handshake", "invite"), vector.name)
                assertBytes(call.responseMessage, try vector.hex("handshake", "response"), vector.name)
                assertBytes(call.confirmMessage, try vector.hex("handshake", "confirm"), vector.name)
                assertBytes(call.finishMessage, try vector.hex("handshake", "finish"), vector.name)

                for keys in [call.callerKeys, call.calleeKeys] {
                    assertBytes(keys.callID, try vector.hex("call_id"), vector.name)
                    assertBytes(keys.transcriptHash, try vector.hex("key_schedule", "th"), vector.name)
                    XCTAssertEqual(keys.sas.digits, try vector.text("key_schedule", "sas"), vector.name)
                    XCTAssertEqual(keys.sas.description, try vector.text("key_schedule", "sas_display"), vector.name)
                }
                let callerToCallee = try vector.hex("key_schedule", "signal_caller_to_callee")
                let calleeToCaller = try vector.hex("key_schedule", "signal_callee_to_caller")
                let frameCallerToCallee = try vector.hex("key_schedule", "frame_caller_to_callee")
                let frameCalleeToCaller = try vector.hex("key_schedule", "frame_callee_to_caller")
                assertBytes(try call.callerKeys.signalSend.withUnsafeBytes { Array($0) }, callerToCallee, vector.name)
                assertBytes(try call.calleeKeys.signalReceive.withUnsafeBytes { Array($0) }, callerToCallee, vector.name)
                assertBytes(try call.calleeKeys.signalSend.withUnsafeBytes { Array($0) }, calleeToCaller, vector.name)
                assertBytes(try call.callerKeys.signalReceive.withUnsafeBytes { Array($0) }, calleeToCaller, vector.name)
                assertBytes(try call.callerKeys.frameSend.withUnsafeBytes { Array($0) }, frameCallerToCallee, vector.name)
                assertBytes(try call.calleeKeys.frameReceive.withUnsafeBytes { Array($0) }, frameCallerToCallee, vector.name)
                assertBytes(try call.calleeKeys.frameSend.withUnsafeBytes { Array($0) }, frameCalleeToCaller, vector.name)
                assertBytes(try call.callerKeys.frameReceive.withUnsafeBytes { Array($0) }, frameCalleeToCaller, vector.name)
                XCTAssertEqual(call.callerKeys.peerDeviceID, call.callee.deviceID, vector.name)
                XCTAssertEqual(call.calleeKeys.peerDeviceID, call.caller.deviceID, vector.name)

                // Sealing is deterministic (counter nonces): the caller's sealers reproduce the recorded wire bytes.
                let blob = try vector.object("sealed_blob")
                let blobSealer = call.callerKeys.blobSealer
                assertBytes(try blobSealer.seal(kind: UInt8(try blob.integer("kind")), content: try blob.hex("content")),
                               try blob.hex("wire"), vector.name)

                let frameSealer = call.callerKeys.frameSealer
                defer { frameSealer.erase() }
                for frame in try vector.frames() {
                    let sealed = try frameSealer.seal(type: UInt8(try frame.integer("type")), payload: try frame.hex("payload"),
                                                      now: Timestamp(nanoseconds: UInt64(try frame.integer("now_ns"))))
                    assertBytes(sealed, try frame.hex("wire"), frame.name)
                    XCTAssertEqual(frameSealer.epoch, UInt64(try frame.integer("epoch")), "\(frame.name): one rekey per rekeyAfterTime")
                }
            }
        }
    }

    func testCalleeOpensRecordedBlobAndFramesExactlyOnce() throws {
        for vector in try ProtocolVector.all() {
            try withReplayedCall(vector) { call in
                let blob = try vector.object("sealed_blob")
                let blobOpener = call.calleeKeys.blobOpener
                let opened = try blobOpener.open(try blob.hex("wire"))
                XCTAssertEqual(opened.kind, UInt8(try blob.integer("kind")), vector.name)
                XCTAssertEqual(opened.sequence, UInt64(try blob.integer("sequence")), vector.name)
                XCTAssertEqual(String(decoding: opened.content, as: UTF8.self), try blob.text("content_text"), vector.name)
                XCTAssertThrowsError(try blobOpener.open(try blob.hex("wire"))) { XCTAssertEqual($0 as? CryptoError, .replayed) }

                let frameOpener = call.calleeKeys.frameOpener
                defer { frameOpener.erase() }
                for frame in try vector.frames() {
                    let now = Timestamp(nanoseconds: UInt64(try frame.integer("now_ns")))
                    let (header, payload) = try frameOpener.open(try frame.hex("wire"), now: now)
                    XCTAssertEqual(header.type, UInt8(try frame.integer("type")), vector.name)
                    XCTAssertEqual(header.counter, UInt64(try frame.integer("counter")), vector.name)
                    XCTAssertEqual(header.keyPhase, try frame.integer("key_phase") == 1, vector.name)
                    XCTAssertEqual(String(decoding: payload, as: UTF8.self), try frame.text("payload_text"), vector.name)
                    XCTAssertThrowsError(try frameOpener.open(try frame.hex("wire"), now: now)) { XCTAssertEqual($0 as? CryptoError, .replayed) }
                    XCTAssertEqual(frameOpener.epoch, UInt64(try frame.integer("epoch")), "\(frame.name): the callee followed the caller's rekey")
                }
            }
        }
    }

    func testReceiverThatLostEveryFrameOfOneKeyOpensTheNextTwoKeysAhead() throws {
        for vector in try ProtocolVector.all() {
            let frames = try vector.frames()
            let wires = try frames.map { try $0.hex("wire") }
            let times = try frames.map { Timestamp(nanoseconds: UInt64(try $0.integer("now_ns"))) }
            XCTAssertEqual(try frames.map { try $0.integer("key_phase") }, [0, 1, 0], vector.name)
            // FrameOpener takes over this copy of the recorded key; erase() below ends it.
            let opener = FrameOpener(key: SecretBytes(copying: try vector.hex("key_schedule", "frame_caller_to_callee")))
            defer { opener.erase() }
            XCTAssertEqual(try opener.open(wires[0], now: times[0]).payload, try frames[0].hex("payload"), vector.name)
            // Frame 1 (the only frame of epoch 1) is lost: frame 2 has the current
            // phase and a counter above the current key's first, so the key two ahead opens it.
            XCTAssertEqual(try opener.open(wires[2], now: times[2]).payload, try frames[2].hex("payload"), vector.name)
            XCTAssertEqual(opener.epoch, 2, vector.name)
            XCTAssertThrowsCryptoError(.authenticationFailed, try opener.open(wires[1], now: times[2]),
                                       "\(vector.name): the skipped key is gone, so a late frame 1 no longer opens")
            XCTAssertThrowsCryptoError(.replayed, try opener.open(wires[2], now: times[2]), vector.name)
        }
    }

    func testRecordedDrawsComeFromTheSeededDeterministicEntropy() throws {
        for vector in try ProtocolVector.all() {
            let entropy = DeterministicEntropy(seed: Array(try vector.text("entropy", "seed_text").utf8))
            let draws = try vector.draws()
            XCTAssertEqual(draws.map(\.purpose), ["caller identity seed", "callee identity seed", "call ID",
                                                  "caller CPace scalar ya", "callee CPace scalar yb"], vector.name)
            for draw in draws {
                assertBytes(entropy.bytes(draw.bytes.count), draw.bytes, "\(vector.name): \(draw.purpose)")
            }
            assertBytes(try vector.hex("caller", "identity_seed"), draws[0].bytes, vector.name)
            assertBytes(try vector.hex("callee", "identity_seed"), draws[1].bytes, vector.name)
            assertBytes(try vector.hex("call_id"), draws[2].bytes, vector.name)
        }
    }

    func testRecordedScalarsGiveRecordedElementsAndSharedPoint() throws {
        for vector in try ProtocolVector.all() {
            let prsBytes = try vector.hex("cpace", "PRS")
            let prs = prsBytes.isEmpty ? nil : SecretBytes(copying: prsBytes)
            defer { prs?.erase() }
            let generator = try CPace.generator(prs: prs, ci: try vector.hex("cpace", "CI"), sid: try vector.hex("cpace", "sid"))
            defer { generator.erase() }
            assertBytes(try generator.withUnsafeBytes { Array($0) }, try vector.hex("cpace", "g"), vector.name)

            let ya = SecretBytes(copying: try vector.hex("cpace", "ya"))
            let yb = SecretBytes(copying: try vector.hex("cpace", "yb"))
            defer {
                ya.erase()
                yb.erase()
            }
            assertBytes(try CPace.scalarMult(scalar: ya, generator: generator), try vector.hex("cpace", "Ya"), vector.name)
            assertBytes(try CPace.scalarMult(scalar: yb, generator: generator), try vector.hex("cpace", "Yb"), vector.name)
            let kA = try CPace.scalarMultVerify(scalar: ya, element: try vector.hex("cpace", "Yb"))
            let kB = try CPace.scalarMultVerify(scalar: yb, element: try vector.hex("cpace", "Ya"))
            defer {
                kA.erase()
                kB.erase()
            }
            assertBytes(try kA.withUnsafeBytes { Array($0) }, try vector.hex("cpace", "K"), vector.name)
            assertBytes(try kB.withUnsafeBytes { Array($0) }, try vector.hex("cpace", "K"), vector.name)
        }
    }

    // MARK: Spec formulas, rebuilt independently

    func testDeviceIDsFollowSpecFormula() throws {
        for vector in try ProtocolVector.all() {
            for side in ["caller", "callee"] {
                let publicKey = try vector.hex(side, "public_key")
                let id = BLAKE2b.hash(Spec.utf8("parley/1 device-id") + publicKey, outputCount: 20)
                assertBytes(id, try vector.hex(side, "device_id"), "\(vector.name): \(side)")
                let checksum = Array(BLAKE2b.hash(Spec.utf8("parley/1 device-id checksum") + id, outputCount: 16).prefix(2))
                let printable = Spec.base32(id + checksum)
                XCTAssertEqual(printable.count, 36)
                XCTAssertEqual(printable, try vector.text(side, "device_id_printable"), "\(vector.name): \(side)")
                XCTAssertEqual(String(printable.prefix(4)) + "-" + String(printable.dropFirst(4).prefix(4)),
                               try vector.text(side, "device_id_fingerprint"), "\(vector.name): \(side)")
                assertBytes(try DeviceID(printable: printable.uppercased()).bytes, id, "printable IDs parse case-insensitively")

                let seed = SecretBytes(copying: try vector.hex(side, "identity_seed"))
                let identity = try DeviceIdentity(seed: seed)
                assertBytes(identity.publicKey, publicKey, "the 32-byte seed (the key file's content) determines the key pair")
                seed.erase()
                identity.erase()
            }
        }
    }

    func testCPaceInputsAndTranscriptFollowSpecLayouts() throws {
        for vector in try ProtocolVector.all() {
            let callID = try vector.hex("call_id")
            let callerKey = try vector.hex("caller", "public_key")
            let calleeKey = try vector.hex("callee", "public_key")
            let input = try vector.optionalText("security_code", "input")
            let prs = try XCTUnwrap(Spec.normalisedCode(input), "\(vector.name): the vector's code must be valid")
            let flags: UInt8 = prs.isEmpty ? 0 : 1
            assertBytes(prs, try vector.hex("cpace", "PRS"), vector.name)
            XCTAssertEqual(Int(flags), try vector.integer("security_code", "code_set_flag"), vector.name)
            if input != nil { XCTAssertEqual(String(decoding: prs, as: UTF8.self), "bluefox42", "separators dropped, letters lower-cased") }

            let ci = Spec.lvCat(Spec.utf8("parley/1 call"), try vector.hex("caller", "device_id"), try vector.hex("callee", "device_id"))
            assertBytes(ci, try vector.hex("cpace", "CI"), vector.name)
            assertBytes(try vector.hex("cpace", "sid"), callID, "sid is the call ID")
            assertBytes(try vector.hex("cpace", "DSI"), Spec.utf8("CPaceRistretto255"))

            let adA = [1, 1, flags] + callID + callerKey
            let adB = [1, 2, flags] + callID + calleeKey
            assertBytes(adA, try vector.hex("cpace", "ADa"), vector.name)
            assertBytes(adB, try vector.hex("cpace", "ADb"), vector.name)

            let zpad = max(0, 128 - Spec.lv(prs).count - Spec.lv(Spec.utf8("CPaceRistretto255")).count - 1)
            let generatorString = Spec.lvCat(Spec.utf8("CPaceRistretto255"), prs, [UInt8](repeating: 0, count: zpad), ci, callID)
            assertBytes(generatorString, try vector.hex("cpace", "generator_string"), vector.name)
            assertBytes(SHA512.hash(generatorString), try vector.hex("cpace", "generator_string_hash"), vector.name)

            var ya = try vector.hex("entropy", "draws", 3, "bytes")
            ya[31] &= 0x0f
            var yb = try vector.hex("entropy", "draws", 4, "bytes")
            yb[31] &= 0x0f
            assertBytes(ya, try vector.hex("cpace", "ya"), "ya is the drawn bytes with the top 4 bits of byte 31 cleared")
            assertBytes(yb, try vector.hex("cpace", "yb"), vector.name)

            let transcript = Spec.lvCat(try vector.hex("cpace", "Ya"), adA) + Spec.lvCat(try vector.hex("cpace", "Yb"), adB)
            assertBytes(transcript, try vector.hex("cpace", "transcript_ir"), vector.name)
        }
    }

    func testCommitmentInMessageOneBindsTheYaRevealedInMessageThree() throws {
        for vector in try ProtocolVector.all() {
            let ci = try vector.hex("cpace", "CI")
            let sid = try vector.hex("cpace", "sid")
            let adA = try vector.hex("cpace", "ADa")
            let invite = try vector.hex("handshake", "invite")
            let confirm = try vector.hex("handshake", "confirm")
            let committed = Array(invite[1..<33])
            let revealed = Array(confirm[1..<33])
            assertBytes(revealed, try vector.hex("cpace", "Ya"), "\(vector.name): message 3 reveals Ya")

            let input = Spec.lvCat(Spec.utf8("parley/1 commit"), ci, sid, revealed, adA)
            assertBytes(input, try vector.hex("handshake", "commitment_input"), vector.name)
            let commitment = Array(SHA512.hash(input).prefix(32))
            assertBytes(commitment, try vector.hex("handshake", "commitment"), vector.name)
            assertBytes(committed, commitment, "\(vector.name): message 1 commits to the Ya of message 3")
            XCTAssertEqual(KeySchedule.commitment(ci: ci, sid: sid, element: revealed, ad: adA), commitment, vector.name)

            // Any other Ya (here: Yb) gives another commitment, and message 1 does not carry Ya itself.
            let other = Array(SHA512.hash(Spec.lvCat(Spec.utf8("parley/1 commit"), ci, sid, try vector.hex("cpace", "Yb"), adA)).prefix(32))
            XCTAssertNotEqual(other, committed, vector.name)
            XCTAssertFalse(invite.indices.dropLast(31).contains { Array(invite[$0..<$0 + 32]) == revealed }, vector.name)
        }
    }

    func testHandshakeMessagesFollowSpecLayoutsAndSignatures() throws {
        for vector in try ProtocolVector.all() {
            let ci = try vector.hex("cpace", "CI")
            let sid = try vector.hex("cpace", "sid")
            let elementA = try vector.hex("cpace", "Ya")
            let elementB = try vector.hex("cpace", "Yb")
            let adA = try vector.hex("cpace", "ADa")
            let adB = try vector.hex("cpace", "ADb")
            let commitment = try vector.hex("handshake", "commitment")
            let callerKey = try vector.hex("caller", "public_key")
            let calleeKey = try vector.hex("callee", "public_key")

            let invite = try vector.hex("handshake", "invite")
            XCTAssertEqual(invite.count, 148)
            assertBytes(Array(invite[0..<84]), [0x01] + commitment + adA, vector.name)
            let inviteSigned = Spec.lvCat(Spec.utf8("parley/1 sig init"), ci, sid, commitment, adA)
            assertBytes(inviteSigned, try vector.hex("handshake", "invite_signed_data"), vector.name)
            XCTAssertTrue(Ed25519.isValidSignature(Array(invite[84...]), of: inviteSigned, publicKey: callerKey), vector.name)

            let response = try vector.hex("handshake", "response")
            XCTAssertEqual(response.count, 148)
            assertBytes(Array(response[0..<84]), [0x02] + elementB + adB, vector.name)
            let responseSigned = Spec.lvCat(Spec.utf8("parley/1 sig response"), ci, sid, commitment, adA, elementB, adB)
            assertBytes(responseSigned, try vector.hex("handshake", "response_signed_data"), vector.name)
            XCTAssertTrue(Ed25519.isValidSignature(Array(response[84...]), of: responseSigned, publicKey: calleeKey), vector.name)

            let confirm = try vector.hex("handshake", "confirm")
            XCTAssertEqual(confirm.count, 65)
            assertBytes(confirm, [0x03] + elementA + (try vector.hex("key_schedule", "confirm_tag_caller")), vector.name)

            let finish = try vector.hex("handshake", "finish")
            XCTAssertEqual(finish.count, 33)
            assertBytes(finish, [0x04] + (try vector.hex("key_schedule", "confirm_tag_callee")), vector.name)
        }
    }

    func testTranscriptHashAndKeyScheduleFollowSpecFormulas() throws {
        for vector in try ProtocolVector.all() {
            let sid = try vector.hex("cpace", "sid")
            let transcript = try vector.hex("cpace", "transcript_ir")
            let th = SHA512.hash(Spec.lv(Spec.utf8("parley/1 transcript")) + Spec.lv(try vector.hex("cpace", "CI")) + Spec.lv(sid) + Spec.lv(transcript))
            assertBytes(th, try vector.hex("key_schedule", "th"), vector.name)

            let isk = SHA512.hash(Spec.lvCat(Spec.utf8("CPaceRistretto255_ISK"), sid, try vector.hex("cpace", "K")) + transcript)
            assertBytes(isk, try vector.hex("cpace", "ISK"), vector.name)

            let prk = Spec.hmacSHA512(key: Spec.utf8("parley/1 key schedule"), message: isk)
            assertBytes(prk, try vector.hex("key_schedule", "PRK"), vector.name)
            func key(_ label: String, _ count: Int = 32) -> [UInt8] {
                Spec.hkdfExpand(prk: prk, info: Spec.lv(Spec.utf8(label)) + th, count: count)
            }
            let labels = [
                ("signal_caller_to_callee", "parley/1 signal caller->callee"),
                ("signal_callee_to_caller", "parley/1 signal callee->caller"),
                ("frame_caller_to_callee", "parley/1 frame caller->callee"),
                ("frame_callee_to_caller", "parley/1 frame callee->caller"),
                ("confirm_caller", "parley/1 confirm caller"),
                ("confirm_callee", "parley/1 confirm callee"),
            ]
            for (field, label) in labels {
                assertBytes(key(label), try vector.hex("key_schedule", field), "\(vector.name): \(label)")
            }
            assertBytes(Array(Spec.hmacSHA512(key: key("parley/1 confirm caller"), message: th).prefix(32)),
                           try vector.hex("key_schedule", "confirm_tag_caller"), vector.name)
            assertBytes(Array(Spec.hmacSHA512(key: key("parley/1 confirm callee"), message: th).prefix(32)),
                           try vector.hex("key_schedule", "confirm_tag_callee"), vector.name)

            let sasBytes = key("parley/1 sas", 8)
            assertBytes(sasBytes, try vector.hex("key_schedule", "sas_bytes"), vector.name)
            let sas = String(sasBytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) } % 1_000_000)
            let digits = String(repeating: "0", count: 6 - sas.count) + sas
            XCTAssertEqual(digits, try vector.text("key_schedule", "sas"), vector.name)
            XCTAssertEqual(String(digits.prefix(3)) + " " + String(digits.suffix(3)), try vector.text("key_schedule", "sas_display"), vector.name)
        }
    }

    func testSealedBlobAndFramesFollowSpecLayouts() throws {
        for vector in try ProtocolVector.all() {
            let blob = try vector.object("sealed_blob")
            let content = try blob.hex("content")
            assertBytes(content, Spec.utf8(try blob.text("content_text")))
            let kind = UInt8(try blob.integer("kind"))
            let sequence = UInt64(try blob.integer("sequence"))
            let bucket = try XCTUnwrap([256, 512, 1024, 2048, 4096, 8192, 16384, 32768].first { $0 >= content.count + 5 })
            XCTAssertEqual(bucket, try blob.integer("bucket"), vector.name)
            let padded = [kind] + Spec.bigEndian(UInt64(content.count), count: 4) + content
                + [UInt8](repeating: 0, count: bucket - 5 - content.count)
            assertBytes(padded, try blob.hex("padded_plaintext"), vector.name)
            let nonce = [0, 0, 0, 0] + Spec.bigEndian(sequence, count: 8)
            assertBytes(nonce, try blob.hex("nonce"), vector.name)
            let associatedData = Spec.utf8("parley/1 blob") + [1] + Spec.bigEndian(sequence, count: 8) + (try vector.hex("call_id")) + [1]
            assertBytes(associatedData, try blob.hex("associated_data"), vector.name)
            let blobKey = SecretBytes(copying: try vector.hex("key_schedule", "signal_caller_to_callee"))
            defer { blobKey.erase() }
            let sealedBlob = try ChaCha20Poly1305.seal(padded, key: blobKey, nonce: nonce, associatedData: associatedData)
            assertBytes([1] + Spec.bigEndian(sequence, count: 8) + sealedBlob, try blob.hex("wire"), vector.name)

            var keyOfEpoch = [try vector.hex("key_schedule", "frame_caller_to_callee")]
            let frames = try vector.frames()
            XCTAssertEqual(frames.count, 3)
            for (index, frame) in frames.enumerated() {
                let epoch = try frame.integer("epoch")
                let phase = try frame.integer("key_phase")
                let counter = UInt64(try frame.integer("counter"))
                let payload = try frame.hex("payload")
                XCTAssertEqual(epoch, index, "\(frame.name): frame n is sealed n * 120 s after the sealer was made")
                XCTAssertEqual(try frame.integer("now_ns"), epoch * 120_000_000_000, frame.name)
                XCTAssertEqual(phase, epoch % 2, "\(frame.name): the phase bit flips at each rekey")
                XCTAssertEqual(counter, UInt64(index), "\(frame.name): counters run on across rekeys")
                while keyOfEpoch.count <= epoch {
                    keyOfEpoch.append(Spec.hkdfExpand(prk: keyOfEpoch[keyOfEpoch.count - 1], info: Spec.lv(Spec.utf8("parley/1 frame rekey")), count: 32))
                }
                assertBytes(try frame.hex("key"), keyOfEpoch[epoch], "\(frame.name): key of epoch \(epoch)")
                let header = [0x40 | UInt8(phase) << 5 | UInt8(try frame.integer("type"))] + Spec.bigEndian(counter, count: 7)
                assertBytes(header, try frame.hex("header"), vector.name)
                let nonce = [0, 0, 0, 0] + Spec.bigEndian(counter, count: 8)
                assertBytes(nonce, try frame.hex("nonce"), vector.name)
                let frameKey = SecretBytes(copying: try frame.hex("key"))
                defer { frameKey.erase() }
                let wire = header + (try ChaCha20Poly1305.seal(payload, key: frameKey, nonce: nonce, associatedData: header))
                assertBytes(wire, try frame.hex("wire"), vector.name)
                XCTAssertEqual(wire.count - payload.count, 24, "frame overhead")
            }
        }
    }

    func testSecurityCodeExamplesFollowSpecNormalisation() throws {
        let examples = try ProtocolVector.securityCodeExamples()
        XCTAssertEqual(Set(try examples.map { try $0.text("outcome") }), ["code", "no code", "invalidSecurityCode"])
        // A probe identity and a fixed scalar: a caller with the parsed code must
        // commit to the Ya a CPace party with the spec's PRS makes.
        let identity = DeviceIdentity()
        defer { identity.erase() }
        let sid = [UInt8](repeating: 0x5a, count: 16)
        let drawn = (1...32).map(UInt8.init)
        for example in examples {
            let input = try example.optionalText("input")
            let expected = Spec.normalisedCode(input)
            switch try example.text("outcome") {
            case "invalidSecurityCode":
                XCTAssertNil(expected, example.name)
                XCTAssertEqual(try example.integer("error_code"), 1017, example.name)
                XCTAssertThrowsError(try SecurityCode.parse(input), example.name) { XCTAssertEqual(($0 as? CryptoError)?.code, 1017) }
            case "no code":
                assertBytes(try XCTUnwrap(expected, example.name), [], example.name)
                assertBytes(try example.hex("PRS"), [], example.name)
                XCTAssertEqual(try example.integer("code_set_flag"), 0, example.name)
                XCTAssertNil(try SecurityCode.parse(input), example.name)
            default:
                let prs = try XCTUnwrap(expected, example.name)
                XCTAssertFalse(prs.isEmpty, example.name)
                assertBytes(try example.hex("PRS"), prs, example.name)
                XCTAssertEqual(try example.integer("code_set_flag"), 1, example.name)
                let code = try XCTUnwrap(try SecurityCode.parse(input), example.name)
                defer { code.erase() }
                let entropy = ReplayingEntropy([ProtocolVector.Draw(purpose: "caller CPace scalar ya", bytes: drawn)])
                let initiator = try CallInitiator(identity: identity, calleeID: identity.deviceID, securityCode: code, callID: sid, entropy: entropy)
                defer { initiator.erase() }
                XCTAssertEqual(entropy.problems, [], example.name)
                let prsSecret = SecretBytes(copying: prs)
                defer { prsSecret.erase() }
                let ci = Spec.lvCat(Spec.utf8("parley/1 call"), identity.deviceID.bytes, identity.deviceID.bytes)
                var scalar = drawn
                scalar[31] &= 0x0f
                // CPace.Party takes over the scalar's copy and erases it.
                let party = try CPace.Party(prs: prsSecret, ci: ci, sid: sid, scalar: SecretBytes(copying: scalar))
                defer { party.erase() }
                let adA = [1, 1, 1] + sid + identity.publicKey
                let commitment = Array(SHA512.hash(Spec.lvCat(Spec.utf8("parley/1 commit"), ci, sid, party.message, adA)).prefix(32))
                assertBytes(Array(initiator.inviteMessage[1..<33]), commitment, "\(example.name): the parsed code is the spec's PRS")
            }
        }
    }
}

/// XCTAssertEqual for byte strings, showing both sides in hex as the vector file writes them.
private func assertBytes(_ actual: @autoclosure () throws -> [UInt8], _ expected: @autoclosure () throws -> [UInt8],
                         _ message: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(try Hex.encode(actual()), try Hex.encode(expected()), message(), file: file, line: line)
}

// MARK: - Replaying a call

/// Returns the recorded draws in order. A request of another size than the
/// recorded one is remembered (and answered with zeros) so the test can fail
/// with a clear message instead of diverging silently.
private final class ReplayingEntropy: EntropySource {
    private struct State {
        var remaining: [ProtocolVector.Draw]
        var problems: [String] = []
    }

    private let state: Mutex<State>

    init(_ draws: [ProtocolVector.Draw]) {
        state = Mutex(State(remaining: draws))
    }

    func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        state.withLock { state in
            guard let next = state.remaining.first, next.bytes.count == buffer.count else {
                state.problems.append("unexpected draw of \(buffer.count) bytes; next recorded: \(state.remaining.first?.purpose ?? "none")")
                buffer.initializeMemory(as: UInt8.self, repeating: 0)
                return
            }
            state.remaining.removeFirst()
            buffer.copyMemory(from: UnsafeRawBufferPointer(start: next.bytes, count: next.bytes.count))
        }
    }

    /// Recorded draws never requested, and requests that did not match.
    var problems: [String] {
        state.withLock { $0.problems + $0.remaining.map { "recorded draw never requested: \($0.purpose)" } }
    }
}

/// The objects of one replayed call, alive for the duration of `withReplayedCall`'s body.
private struct ReplayedCall {
    let caller: DeviceIdentity
    let callee: DeviceIdentity
    let callID: [UInt8]
    let inviteMessage: [UInt8]
    let responseMessage: [UInt8]
    let confirmMessage: [UInt8]
    let finishMessage: [UInt8]
    let callerKeys: CallKeys
    let calleeKeys: CallKeys
}

/// Runs the real handshake on the vector's recorded randomness and security
/// code, hands the result to `body`, then erases every secret of the call.
private func withReplayedCall(_ vector: ProtocolVector, file: StaticString = #filePath, line: UInt = #line,
                              _ body: (ReplayedCall) throws -> Void) throws {
    let entropy = ReplayingEntropy(try vector.draws())
    let caller = DeviceIdentity(entropy: entropy)
    defer { caller.erase() }
    let callee = DeviceIdentity(entropy: entropy)
    defer { callee.erase() }
    let code = try vector.optionalText("security_code", "input")
    let callerCode = try SecurityCode.parse(code)
    defer { callerCode?.erase() }
    let calleeCode = try SecurityCode.parse(code)
    defer { calleeCode?.erase() }
    XCTAssertEqual(callerCode != nil, code != nil, vector.name, file: file, line: line)

    let initiator = try CallInitiator(identity: caller, calleeID: callee.deviceID, securityCode: callerCode, entropy: entropy)
    defer { initiator.erase() }
    let responder = CallResponder(identity: callee, callerID: caller.deviceID, securityCode: calleeCode, entropy: entropy)
    defer { responder.erase() }
    let response = try responder.consumeInvite(initiator.inviteMessage)
    let confirm = try initiator.consumeResponse(response)
    let (finish, calleeKeys) = try responder.consumeConfirm(confirm)
    defer { calleeKeys.erase() }
    let callerKeys = try initiator.consumeFinish(finish)
    defer { callerKeys.erase() }
    XCTAssertEqual(entropy.problems, [], "\(vector.name): the call must draw exactly the recorded bytes", file: file, line: line)

    try body(ReplayedCall(caller: caller, callee: callee, callID: initiator.callID, inviteMessage: initiator.inviteMessage,
                          responseMessage: response, confirmMessage: confirm, finishMessage: finish,
                          callerKeys: callerKeys, calleeKeys: calleeKeys))
}

// MARK: - Reading the vector file

/// One case of protocol-vectors.json, read through typed accessors that fail the
/// test (rather than trap) on a missing or mistyped field.
private struct ProtocolVector {
    struct Draw {
        let purpose: String
        let bytes: [UInt8]
    }

    let fields: [String: Any]
    var name: String { fields["name"] as? String ?? "unnamed case" }

    static func all() throws -> [ProtocolVector] {
        let document = try XCTUnwrap(TestResources.json("protocol-vectors.json") as? [String: Any], "protocol-vectors.json is not an object")
        XCTAssertEqual(document["protocol_version"] as? Int, Int(SpecConstants.protocolVersion))
        let cases = try XCTUnwrap(document["cases"] as? [[String: Any]], "protocol-vectors.json has no cases")
        XCTAssertEqual(cases.count, 2, "one case with a security code, one without")
        return cases.map(ProtocolVector.init(fields:))
    }

    /// Follows `path` (object keys and array indices) from the case's root.
    func value(_ path: [Any]) throws -> Any {
        var current: Any = fields
        for step in path {
            switch step {
            case let key as String:
                current = try XCTUnwrap((current as? [String: Any])?[key], "\(name): no field \(path)")
            case let index as Int:
                let array = try XCTUnwrap(current as? [Any], "\(name): \(path) is not an array")
                guard array.indices.contains(index) else { throw VectorFileError.missing("\(name): \(path)") }
                current = array[index]
            default:
                throw VectorFileError.missing("\(name): bad path step \(step)")
            }
        }
        return current
    }

    func hex(_ path: Any...) throws -> [UInt8] {
        try TestResources.hex(try XCTUnwrap(try value(path) as? String, "\(name): \(path) is not a string"))
    }

    func text(_ path: Any...) throws -> String {
        try XCTUnwrap(try value(path) as? String, "\(name): \(path) is not a string")
    }

    /// A string field that is null when absent on purpose (no security code).
    func optionalText(_ path: Any...) throws -> String? {
        let found = try value(path)
        return found is NSNull ? nil : try XCTUnwrap(found as? String, "\(name): \(path) is neither a string nor null")
    }

    func integer(_ path: Any...) throws -> Int {
        try XCTUnwrap(try value(path) as? Int, "\(name): \(path) is not an integer")
    }

    func object(_ path: Any...) throws -> ProtocolVector {
        ProtocolVector(fields: try XCTUnwrap(try value(path) as? [String: Any], "\(name): \(path) is not an object")
            .merging(["name": "\(name) / \(path)"]) { _, label in label })
    }

    /// The document's list of security code inputs and their normalisation.
    static func securityCodeExamples() throws -> [ProtocolVector] {
        let document = try XCTUnwrap(TestResources.json("protocol-vectors.json") as? [String: Any], "protocol-vectors.json is not an object")
        let list = try XCTUnwrap(document["security_code_examples"] as? [[String: Any]], "protocol-vectors.json has no security_code_examples")
        return list.enumerated().map { ProtocolVector(fields: $0.element.merging(["name": "security code example \($0.offset)"]) { _, label in label }) }
    }

    func frames() throws -> [ProtocolVector] {
        let list = try XCTUnwrap(try value(["frames"]) as? [[String: Any]], "\(name): frames is not a list")
        return list.enumerated().map { ProtocolVector(fields: $0.element.merging(["name": "\(name) / frame \($0.offset)"]) { _, label in label }) }
    }

    func draws() throws -> [Draw] {
        let list = try XCTUnwrap(try value(["entropy", "draws"]) as? [[String: Any]], "\(name): entropy.draws is not a list")
        return try list.map { draw in
            Draw(purpose: try XCTUnwrap(draw["purpose"] as? String), bytes: try TestResources.hex(try XCTUnwrap(draw["bytes"] as? String)))
        }
    }
}

private enum VectorFileError: Error {
    case missing(String)
}

// MARK: - Spec building blocks, written from PROTOCOL.md (not the package's helpers)

private enum Spec {
    static func utf8(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// LEB128: 7 bits per byte, least significant group first, bit 7 set while more follow.
    static func leb128(_ value: Int) -> [UInt8] {
        var rest = value
        var out: [UInt8] = []
        while rest >= 0x80 {
            out.append(UInt8(rest & 0x7f) | 0x80)
            rest >>= 7
        }
        out.append(UInt8(rest))
        return out
    }

    /// prepend_len
    static func lv(_ bytes: [UInt8]) -> [UInt8] { leb128(bytes.count) + bytes }

    /// Security code normalisation: PRS ([] for no code), or nil for `invalidSecurityCode`.
    /// Space, tab and '-' are dropped; every other byte must be 0x21...0x7e; A-Z become a-z;
    /// at most 64 bytes may remain.
    static func normalisedCode(_ text: String?) -> [UInt8]? {
        var prs: [UInt8] = []
        for byte in (text ?? "").utf8 {
            switch byte {
            case 0x20, 0x09, 0x2d: continue
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): prs.append(byte - UInt8(ascii: "A") + UInt8(ascii: "a"))
            case 0x21...0x7e: prs.append(byte)
            default: return nil
            }
        }
        return prs.count <= 64 ? prs : nil
    }

    static func lvCat(_ parts: [UInt8]...) -> [UInt8] { parts.reduce([]) { $0 + lv($1) } }

    static func bigEndian(_ value: UInt64, count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: value >> UInt64(8 * (count - 1 - $0))) }
    }

    /// HMAC-SHA-512 (RFC 2104) over the package's plain SHA-512.
    static func hmacSHA512(key: [UInt8], message: [UInt8]) -> [UInt8] {
        let blockSize = 128
        var block = key.count > blockSize ? SHA512.hash(key) : key
        block += [UInt8](repeating: 0, count: blockSize - block.count)
        let inner = SHA512.hash(block.map { $0 ^ 0x36 } + message)
        return SHA512.hash(block.map { $0 ^ 0x5c } + inner)
    }

    /// HKDF-Expand (RFC 5869) for at most one SHA-512 block: T(1) = HMAC(PRK, info || 0x01), first `count` bytes.
    static func hkdfExpand(prk: [UInt8], info: [UInt8], count: Int) -> [UInt8] {
        precondition(count <= 64)
        return Array(hmacSHA512(key: prk, message: info + [0x01]).prefix(count))
    }

    /// RFC 4648 base32, lowercase, no padding.
    static func base32(_ bytes: [UInt8]) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567")
        var bits = bytes.flatMap { byte in (0..<8).map { (byte >> (7 - $0)) & 1 } }
        bits += [UInt8](repeating: 0, count: (5 - bits.count % 5) % 5)
        return String(stride(from: 0, to: bits.count, by: 5).map { start in
            alphabet[Int(bits[start..<start + 5].reduce(0) { $0 << 1 | $1 })]
        })
    }
}
