// Fuzz target: SealedBlobOpener.open (Sources/ParleyCrypto/SealedBlob.swift).
//
// The first input byte picks a mode (modulo 4). The callee seals, the caller opens,
// with the keys of the honest call (FuzzSupport.swift); every input gets a fresh opener.
//
//   0 raw        wire blob                     : the rest, as received from the server.
//   1 tamper     kind (1) | edits | content    : sealed by the real sealer, edited (Tamper),
//                                                opened. Unedited must open to the same blob;
//                                                any edit must be refused.
//   2 plaintext  sequence (8) | padded plaintext: sealed under the real key at any sequence
//                                                number, so the parser behind authentication
//                                                sees any kind, length field and padding.
//                                                The outcome must match the format exactly.
//   3 replay     count (1) | deliveries        : blobs 0 ..< 1 + count % 128 of the real sealer
//                                                (sealed at start-up) are delivered in the order
//                                                the bytes name (index modulo the count, repeats
//                                                allowed, at most 256 deliveries). No blob may
//                                                open twice; a new one within the window must.

/// The caller opens what the callee seals.
private let senderRole = CallRole.callee

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSealedBlob(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    switch input.byte() % 4 {
    case 0: fuzzRaw(&input)
    case 1: fuzzTamper(&input)
    case 2: fuzzPlaintext(&input)
    default: fuzzReplay(&input)
    }
    checkNoSecretOutlivesInput()
    return 0
}

private func fuzzRaw(_ input: inout FuzzInput) {
    let wire = input.rest()
    let opened = outcome("open(raw)") { try HonestCall.duplicate(HonestCall.shared.callerKeys).blobOpener.open(wire) }
    if case let .success(blob) = opened {
        fuzzCheck(wire.count <= SealedBlob.maxWireCount && wire[0] == SpecConstants.protocolVersion,
                  "opened a blob of \(wire.count) bytes with version \(wire[0])")
        fuzzCheck(blob.content.count <= SpecConstants.blobMaxContent, "opened \(blob.content.count) bytes of content")
    }
}

private func fuzzTamper(_ input: inout FuzzInput) {
    let kind = input.byte()
    let tamper = Tamper(&input)
    let content = input.rest()
    let sealed = outcome("seal") { try HonestCall.duplicate(HonestCall.shared.calleeKeys).blobSealer.seal(kind: kind, content: content) }
    guard case let .success(wire) = sealed else {
        fuzzCheck(content.count > SpecConstants.blobMaxContent, "sealing \(content.count) bytes failed: \(sealed)")
        return
    }
    let edited = tamper.apply(to: wire)
    let opened = outcome("open(tampered)") { try HonestCall.duplicate(HonestCall.shared.callerKeys).blobOpener.open(edited) }
    if edited == wire {
        guard case let .success(blob) = opened else { fuzzBug("an untouched blob did not open: \(opened)") }
        fuzzCheck(blob == SealedBlob(kind: kind, content: content, sequence: 0), "the blob opened to other contents")
    } else {
        fuzzCheck(opened.failed, "an edited blob opened (\(wire.count) -> \(edited.count) bytes)")
    }
}

private func fuzzPlaintext(_ input: inout FuzzInput) {
    let sequence = input.uint(byteCount: 8)
    let body = Array(input.rest().prefix(SpecConstants.blobBuckets.last!))
    // `body` is at most the largest bucket long, so a bucket fits it.
    let bucket = SpecConstants.blobBuckets.first { $0 >= body.count }!
    let padded = body + [UInt8](repeating: 0, count: bucket - body.count)
    let wire = sealBlob(padded: padded, sequence: sequence)
    let opened = outcome("open(plaintext)") { try HonestCall.duplicate(HonestCall.shared.callerKeys).blobOpener.open(wire) }

    let length = padded[1..<SpecConstants.blobFramingCount].reduce(0) { $0 << 8 | Int($1) }
    if sequence >= SpecConstants.blobRejectAfterMessages {
        fuzzCheck(opened == .failure(.replayed), "sequence \(sequence) is past the limit, got \(opened)")
    } else if length > bucket - SpecConstants.blobFramingCount {
        guard case let .failure(error) = opened, case .malformed = error else {
            fuzzBug("length field \(length) in a \(bucket)-byte bucket, got \(opened)")
        }
    } else {
        let content = Array(padded[SpecConstants.blobFramingCount..<SpecConstants.blobFramingCount + length])
        fuzzCheck(opened == .success(SealedBlob(kind: padded[0], content: content, sequence: sequence)),
                  "a well-formed plaintext opened to \(opened)")
    }
}

/// Sequences 0...127 from one real sealer, made once (sealing them per input would
/// dominate the run time). Twice the replay window, so deliveries can fall behind it.
private let replayBlobs: [[UInt8]] = {
    let sealer = HonestCall.duplicate(HonestCall.shared.calleeKeys).blobSealer
    // Cannot fail: 128 empty blobs are far below every sealer limit.
    return (0..<2 * SpecConstants.blobReplayWindow).map { _ in try! sealer.seal(kind: 1, content: []) }
}()

private func fuzzReplay(_ input: inout FuzzInput) {
    let count = 1 + Int(input.byte()) % replayBlobs.count
    let blobs = replayBlobs
    let opener = HonestCall.duplicate(HonestCall.shared.callerKeys).blobOpener
    var opened = Set<UInt64>()
    for byte in input.rest().prefix(256) {
        let sequence = UInt64(Int(byte) % count)
        let result = outcome("open(replay)") { try opener.open(blobs[Int(sequence)]) }
        let highest = opened.max()
        let owed = !opened.contains(sequence) && (highest.map { sequence > $0 || $0 - sequence < UInt64(SpecConstants.blobReplayWindow) } ?? true)
        switch result {
        case let .success(blob):
            fuzzCheck(opened.insert(sequence).inserted, "blob \(sequence) opened twice")
            fuzzCheck(blob == SealedBlob(kind: 1, content: [], sequence: sequence), "blob \(sequence) opened to \(blob)")
        case let .failure(error):
            fuzzCheck(error == .replayed, "authentic blob \(sequence) refused with \(error)")
            fuzzCheck(!owed, "new blob \(sequence) within the window of \(highest ?? 0) refused")
        }
    }
}

/// Seals `padded` (kind | length | content | padding, already bucket-sized) at any
/// sequence number under the callee's real blob key: the wire layout of
/// SealedBlobSealer.seal without its checks. `fuzzStartUp` proves the two agree.
private func sealBlob(padded: [UInt8], sequence: UInt64) -> [UInt8] {
    let keys = HonestCall.shared.calleeKeys
    let version = SpecConstants.protocolVersion
    let associatedData = SealedBlob.associatedData(version: version, sequence: sequence, callID: keys.callID, sender: senderRole)
    // Cannot fail: the key is 32 bytes and never erased, the nonce 12 bytes.
    let sealed = try! ChaCha20Poly1305.seal(padded, key: keys.signalSend, nonce: counterNonce(sequence), associatedData: associatedData)
    var wire = [version]
    wire.appendUInt64(sequence)
    return wire + sealed
}

private func plaintext(kind: UInt8, content: [UInt8]) -> [UInt8] {
    var padded = [kind]
    padded.appendUInt32(UInt32(content.count))
    padded += content
    // Seeds are small: they fit a bucket.
    let bucket = SealedBlob.bucket(forContentCount: content.count)!
    return padded + [UInt8](repeating: 0, count: bucket - padded.count)
}

func fuzzStartUp() {
    _ = replayBlobs
    let content = Array("candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host".utf8)
    // Cannot fail: a fresh copy of the keys (so its one sealer starts at sequence 0) and a small content.
    let honest = try! HonestCall.duplicate(HonestCall.shared.calleeKeys).blobSealer.seal(kind: 2, content: content)
    fuzzCheck(sealBlob(padded: plaintext(kind: 2, content: content), sequence: 0) == honest,
              "the harness seals blobs differently from SealedBlobSealer; fix sealBlob")
}

func fuzzSeeds() -> [[UInt8]] {
    let content = Array("v=0\r\no=- 0 0 IN IP4 192.0.2.1\r\ns=-\r\n".utf8)
    // Cannot fail: a fresh sealer and a small content.
    let honest = try! HonestCall.duplicate(HonestCall.shared.calleeKeys).blobSealer.seal(kind: 1, content: content)
    var sequence: [UInt8] = []
    sequence.appendUInt64(3)
    return [
        [0] + honest,
        [1, 1] + Tamper.encode([]) + content,
        [1, 1] + Tamper.encode([(kind: 0, position: 20, value: 0x01)]) + content,
        [2] + sequence + Array(plaintext(kind: 1, content: content).prefix(5 + content.count)),
        [3, 99] + (0..<100).map { UInt8($0 % 70) } + [0, 5, 5, 68, 1],
        // The largest content: the top bucket and, one byte up, the size limits.
        [1, 1] + Tamper.encode([]) + [UInt8](repeating: 0x61, count: SpecConstants.blobMaxContent),
    ]
}
