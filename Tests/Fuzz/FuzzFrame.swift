// Fuzz target: FrameOpener.open and FrameHeader.parse (Sources/ParleyCrypto/Frame.swift).
//
// The first input byte picks a mode (modulo 3). The callee seals, the caller opens,
// with copies of the honest call's frame keys (FuzzSupport.swift), fresh for every input.
//
//   0 raw      packet                      : FrameHeader.parse, then a fresh opener at t = 0.
//                                            The header must parse exactly as the format says.
//   1 tamper   type (1) | edits | payload  : sealed by the real FrameSealer, edited (Tamper),
//                                            opened. Unedited must open to the same frame; any
//                                            edit must be refused.
//   2 session  steps, each opcode (1) then : one sealer and one opener through a call, at most
//                                            256 steps, on a virtual clock:
//              0 send    type, fill, length: the sealer seals `length` bytes of `fill` (at most
//                                            64 frames; it rekeys after 120 s, so epochs advance)
//              1 advance time (2)          : the clock moves time x 10 ms (up to 655 s)
//              2 deliver index (1)         : a sent frame reaches the opener (any order, repeats)
//              3 forge   first (1) | counter (7) | fill | length:
//                                            a frame with any header, sealed under the real key
//                                            of epoch first >> 6 (0...3), reaches the opener.
//            No counter may open twice; a frame sent in order at most two rekeys after the
//            newest opened one must open (unless a forged frame opened first).

/// Real frame keys of the callee's direction for epochs 0...3: the key the handshake
/// derived, then each rekey's. Made at start-up, never erased.
private let epochKeys: [SecretBytes] = {
    var keys = [HonestCall.shared.calleeKeys.frameSend]
    for _ in 1...3 {
        // Cannot fail: the previous key is alive and HKDF-Expand to 32 bytes is in range.
        keys.append(try! nextFrameKey(after: keys.last!))
    }
    return keys
}()

/// Most frames one session input may send (and keep for delivery).
private let maxSessionFrames = 64
/// How many rekeys the opener follows in one step: the next key, or the one after
/// when every packet of the next key was lost (FrameOpener's documentation).
private let maxEpochsAhead: UInt64 = 2
private let maxSessionSteps = 256

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrame(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    switch input.byte() % 3 {
    case 0: fuzzRaw(&input)
    case 1: fuzzTamper(&input)
    default: fuzzSession(&input)
    }
    checkNoSecretOutlivesInput()
    return 0
}

private func makeOpener() -> FrameOpener {
    HonestCall.duplicate(HonestCall.shared.callerKeys).frameOpener
}

private func makeSealer(now: Timestamp) -> FrameSealer {
    HonestCall.duplicate(HonestCall.shared.calleeKeys).frameSealer
}

private func fuzzRaw(_ input: inout FuzzInput) {
    let packet = input.rest()
    let parsed = outcome("FrameHeader.parse") { try packet.withUnsafeBytes { try FrameHeader.parse($0) } }
    let expectParse = packet.count >= SpecConstants.frameOverhead && packet[0] >> 6 == FrameHeader.versionBits
    switch parsed {
    case let .success(header):
        fuzzCheck(expectParse, "parsed a header from \(packet.count) bytes starting 0x\(String(packet[0], radix: 16))")
        var written = [UInt8](repeating: 0, count: SpecConstants.frameHeaderCount)
        written.withUnsafeMutableBytes { header.write(to: $0) }
        fuzzCheck(written == Array(packet.prefix(SpecConstants.frameHeaderCount)), "header \(header) does not write back to its bytes")
    case let .failure(error):
        fuzzCheck(!expectParse, "a well-formed header was refused: \(error)")
    }

    let opened = outcome("open(raw)") { try makeOpener().open(packet, now: .zero) }
    switch (parsed, opened) {
    case let (.failure(parseError), .failure(openError)):
        fuzzCheck(parseError == openError, "parse refused with \(parseError) but open with \(openError)")
    case (.failure, .success):
        fuzzBug("opened a frame whose header does not parse")
    case (.success, .success):
        fuzzCheck(packet.count - SpecConstants.frameOverhead <= SpecConstants.frameMaxPayload, "opened an oversized frame")
    case (.success, .failure):
        break
    }
}

private func fuzzTamper(_ input: inout FuzzInput) {
    let type = input.byte()
    let tamper = Tamper(&input)
    let payload = input.rest()
    let sealed = outcome("seal") { try makeSealer(now: .zero).seal(type: type, payload: payload, now: .zero) }
    guard case let .success(packet) = sealed else {
        fuzzCheck(type > SpecConstants.frameMaxType || payload.count > SpecConstants.frameMaxPayload,
                  "sealing type \(type) with \(payload.count) bytes failed: \(sealed)")
        return
    }
    fuzzCheck(type <= SpecConstants.frameMaxType && payload.count <= SpecConstants.frameMaxPayload,
              "sealed type \(type) with \(payload.count) bytes")
    let edited = tamper.apply(to: packet)
    let opened = outcome("open(tampered)") { try makeOpener().open(edited, now: .zero) }
    if edited == packet {
        guard case let .success(frame) = opened else { fuzzBug("an untouched frame did not open: \(opened)") }
        fuzzCheck(frame.header == FrameHeader(keyPhase: false, type: type, counter: 0) && frame.payload == payload,
                  "the frame opened to other contents")
    } else {
        fuzzCheck(opened.failed, "an edited frame opened (\(packet.count) -> \(edited.count) bytes)")
    }
}

private struct SentFrame {
    let packet: [UInt8]
    let header: FrameHeader
    let payload: [UInt8]
    let epoch: UInt64
}

private func fuzzSession(_ input: inout FuzzInput) {
    var now = Timestamp.zero
    let sealer = makeSealer(now: now)
    let opener = makeOpener()
    var sent: [SentFrame] = []
    var opened = Set<UInt64>()
    /// The honest frame with the highest counter opened so far.
    var newest: SentFrame?
    var forgeryOpened = false

    for _ in 0..<maxSessionSteps where !input.isAtEnd {
        switch input.byte() % 4 {
        case 0:
            let type = input.byte() & SpecConstants.frameMaxType
            let payload = [UInt8](repeating: input.byte(), count: Int(input.byte()))
            guard sent.count < maxSessionFrames else { continue }
            let sealed = outcome("seal(session)") { try sealer.seal(type: type, payload: payload, now: now) }
            guard case let .success(packet) = sealed else { fuzzBug("sealing frame \(sent.count) failed: \(sealed)") }
            let header = FrameHeader(keyPhase: sealer.epoch % 2 == 1, type: type, counter: UInt64(sent.count))
            let parsed = outcome("FrameHeader.parse(session)") { try packet.withUnsafeBytes { try FrameHeader.parse($0) } }
            fuzzCheck(parsed == .success(header), "the sealer wrote header \(parsed), expected \(header)")
            sent.append(SentFrame(packet: packet, header: header, payload: payload, epoch: sealer.epoch))

        case 1:
            now = now + .milliseconds(Int(input.uint16()) * 10)

        case 2:
            let index = Int(input.byte())
            guard !sent.isEmpty else { continue }
            let frame = sent[index % sent.count]
            let counter = frame.header.counter
            let owed = !forgeryOpened && !opened.contains(counter)
                && (newest.map { counter > $0.header.counter && frame.epoch <= $0.epoch + maxEpochsAhead } ?? (frame.epoch <= maxEpochsAhead))
            switch outcome("open(session)", { try opener.open(frame.packet, now: now) }) {
            case let .success(result):
                fuzzCheck(opened.insert(counter).inserted, "frame \(counter) opened twice")
                fuzzCheck(result.header == frame.header && result.payload == frame.payload, "frame \(counter) opened to other contents")
                if newest.map({ counter > $0.header.counter }) ?? true { newest = frame }
            case let .failure(error):
                fuzzCheck(error == .replayed || error == .authenticationFailed, "authentic frame \(counter) refused with \(error)")
                fuzzCheck(!owed, "frame \(counter) of epoch \(frame.epoch), newer than any opened, refused with \(error)")
            }

        default:
            let first = input.byte()
            let header = FrameHeader(keyPhase: first & 0x20 != 0, type: first & SpecConstants.frameMaxType,
                                     counter: input.uint(byteCount: SpecConstants.frameHeaderCount - 1))
            let payload = [UInt8](repeating: input.byte(), count: Int(input.byte()))
            let packet = sealFrame(header: header, payload: payload, key: epochKeys[Int(first >> 6)])
            if case let .success(result) = outcome("open(forged)", { try opener.open(packet, now: now) }) {
                fuzzCheck(opened.insert(header.counter).inserted, "forged counter \(header.counter) opened twice")
                fuzzCheck(result.header == header && result.payload == payload, "forged frame opened to other contents")
                forgeryOpened = true
            }
        }
    }
}

/// Seals a frame with any header under `key`: the wire layout of FrameSealer.seal
/// without its checks or rekeying. `fuzzStartUp` proves the two agree.
private func sealFrame(header: FrameHeader, payload: [UInt8], key: SecretBytes) -> [UInt8] {
    var packet = [UInt8](repeating: 0, count: SpecConstants.frameHeaderCount)
    packet.withUnsafeMutableBytes { header.write(to: $0) }
    // Cannot fail: the key is 32 bytes and never erased, the nonce 12 bytes.
    return packet + (try! ChaCha20Poly1305.seal(payload, key: key, nonce: counterNonce(header.counter), associatedData: packet))
}

func fuzzStartUp() {
    let payload = Array("fuzz start-up".utf8)
    let sealer = makeSealer(now: .zero)
    // Cannot fail: valid type and payload, fresh key; the second frame rekeys once.
    let first = try! sealer.seal(type: 7, payload: payload, now: .zero)
    let second = try! sealer.seal(type: 7, payload: payload, now: .zero + SpecConstants.rekeyAfterTime)
    fuzzCheck(sealFrame(header: FrameHeader(keyPhase: false, type: 7, counter: 0), payload: payload, key: epochKeys[0]) == first
              && sealFrame(header: FrameHeader(keyPhase: true, type: 7, counter: 1), payload: payload, key: epochKeys[1]) == second,
              "the harness seals frames differently from FrameSealer; fix sealFrame or epochKeys")
}

func fuzzSeeds() -> [[UInt8]] {
    let payload = Array("an audio frame, 20 ms of Opus".utf8)
    // Cannot fail: valid type and payload, fresh key.
    let honest = try! makeSealer(now: .zero).seal(type: 1, payload: payload, now: .zero)
    let send: [UInt8] = [0, 1, 0x5a, 40]
    let advance121s: [UInt8] = [1, 0x2f, 0x44]
    let advance6s: [UInt8] = [1, 0x02, 0x58]
    let forgeEpoch1: [UInt8] = [3, 0x40 | 0x20 | 5, 0, 0, 0, 0, 0, 0, 9, 0xaa, 16]
    let session = send + send + advance121s + send + send + [2, 2, 2, 0, 2, 3, 2, 1, 2, 1] + advance6s + [2, 0] + forgeEpoch1
    return [
        [0] + honest,
        [1, 1] + Tamper.encode([]) + payload,
        [1, 1] + Tamper.encode([(kind: 0, position: 3, value: 0x80)]) + payload,
        [2] + session,
        // The largest payload: one byte up, the size limits.
        [1, 1] + Tamper.encode([]) + [UInt8](repeating: 0x61, count: SpecConstants.frameMaxPayload),
    ]
}
