import ParleyCrypto

/// The byte strings PROTOCOL.md defines, rebuilt here from its formulas so the
/// vector file can show every intermediate value. Each one is cross-checked
/// against what the handshake, sealers and openers actually produced (see
/// `CallVector`), so a divergence between spec and code stops the tool.
enum SpecFormulas {
    /// Labels as in Constants.swift (`Labels`), spelled out because that enum is internal.
    enum Label {
        static let channelIdentifier = "parley/1 call"
        static let commitment = "parley/1 commit"
        static let signatureInit = "parley/1 sig init"
        static let signatureResponse = "parley/1 sig response"
        static let transcriptHash = "parley/1 transcript"
        static let keyScheduleSalt = "parley/1 key schedule"
        static let signalCallerToCallee = "parley/1 signal caller->callee"
        static let signalCalleeToCaller = "parley/1 signal callee->caller"
        static let frameCallerToCallee = "parley/1 frame caller->callee"
        static let frameCalleeToCaller = "parley/1 frame callee->caller"
        static let confirmCaller = "parley/1 confirm caller"
        static let confirmCallee = "parley/1 confirm callee"
        static let sas = "parley/1 sas"
        static let frameRekey = "parley/1 frame rekey"
        static let blob = "parley/1 blob"
    }

    /// Handshake message type bytes.
    enum MessageType {
        static let invite: UInt8 = 0x01
        static let response: UInt8 = 0x02
        static let confirm: UInt8 = 0x03
        static let finish: UInt8 = 0x04
    }

    static func utf8(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// What a typed security code becomes.
    enum CodeOutcome: Equatable {
        /// Nothing typed, or only separators: PRS is the empty string, flag 0.
        case noCode
        /// PRS, flag 1.
        case code([UInt8])
        /// `invalidSecurityCode` (1017).
        case invalid
    }

    /// Security code normalisation: every byte other than space, tab and '-' must be
    /// printable ASCII (0x21-0x7e); those three are dropped and A-Z lower-cased;
    /// nothing left is no code; more than 64 bytes left is invalid.
    static func normalisedCode(_ text: String?) -> CodeOutcome {
        guard let text else { return .noCode }
        let separators: [UInt8] = [0x20, 0x09, 0x2d]
        let kept = text.utf8.filter { !separators.contains($0) }
        guard kept.allSatisfy({ (0x21...0x7e).contains($0) }) else { return .invalid }
        let folded = kept.map { (0x41...0x5a).contains($0) ? $0 + 0x20 : $0 }
        if folded.isEmpty { return .noCode }
        return folded.count > 64 ? .invalid : .code(folded)
    }

    /// CI = lv_cat("parley/1 call", caller device ID, callee device ID).
    static func channelIdentifier(caller: DeviceID, callee: DeviceID) -> [UInt8] {
        CPace.lvCat(utf8(Label.channelIdentifier), caller.bytes, callee.bytes)
    }

    /// ADa / ADb: version | role | flags (bit 0: code set) | call ID (16) | identity key (32).
    static func associatedData(role: CallRole, codeSet: Bool, callID: [UInt8], identityKey: [UInt8]) -> [UInt8] {
        [SpecConstants.protocolVersion, role.rawValue, codeSet ? 0x01 : 0x00] + callID + identityKey
    }

    /// generator_string(DSI, PRS, CI, sid, 128) = lv_cat(DSI, PRS, zero_bytes(len_zpad), CI, sid).
    static func generatorString(prs: [UInt8], ci: [UInt8], sid: [UInt8]) -> [UInt8] {
        let zpad = max(0, CPace.hashBlockCount - CPace.prependLen(prs).count - CPace.prependLen(CPace.dsi).count - 1)
        return CPace.lvCat(CPace.dsi, prs, [UInt8](repeating: 0, count: zpad), ci, sid)
    }

    /// The scalar sample_scalar makes of 32 drawn bytes: the top 4 bits of byte 31 cleared.
    static func scalar(fromDrawn drawn: [UInt8]) -> [UInt8] {
        var scalar = drawn
        scalar[31] &= 0x0f
        return scalar
    }

    /// The bytes the commitment hashes: lv_cat("parley/1 commit", CI, sid, Ya, ADa).
    static func commitmentInput(ci: [UInt8], sid: [UInt8], elementA: [UInt8], adA: [UInt8]) -> [UInt8] {
        CPace.lvCat(utf8(Label.commitment), ci, sid, elementA, adA)
    }

    /// commitment = SHA-512(commitment input)[0..32].
    static func commitment(ci: [UInt8], sid: [UInt8], elementA: [UInt8], adA: [UInt8]) -> [UInt8] {
        Array(SHA512.hash(commitmentInput(ci: ci, sid: sid, elementA: elementA, adA: adA)).prefix(32))
    }

    /// What the caller signs in message 1: lv_cat("parley/1 sig init", CI, sid, commitment, ADa).
    static func inviteSignedData(ci: [UInt8], sid: [UInt8], commitment: [UInt8], adA: [UInt8]) -> [UInt8] {
        CPace.lvCat(utf8(Label.signatureInit), ci, sid, commitment, adA)
    }

    /// What the callee signs in message 2: lv_cat("parley/1 sig response", CI, sid, commitment, ADa, Yb, ADb).
    static func responseSignedData(ci: [UInt8], sid: [UInt8], commitment: [UInt8], adA: [UInt8], elementB: [UInt8], adB: [UInt8]) -> [UInt8] {
        CPace.lvCat(utf8(Label.signatureResponse), ci, sid, commitment, adA, elementB, adB)
    }

    /// transcript_ir(Ya, ADa, Yb, ADb) = lv_cat(Ya, ADa) || lv_cat(Yb, ADb).
    static func transcript(elementA: [UInt8], adA: [UInt8], elementB: [UInt8], adB: [UInt8]) -> [UInt8] {
        CPace.lvCat(elementA, adA) + CPace.lvCat(elementB, adB)
    }

    /// th = SHA-512(lv("parley/1 transcript") || lv(CI) || lv(sid) || lv(transcript_ir)).
    static func transcriptHash(ci: [UInt8], sid: [UInt8], transcript: [UInt8]) -> [UInt8] {
        SHA512.hash(CPace.lvCat(utf8(Label.transcriptHash), ci, sid, transcript))
    }

    /// Padded blob plaintext: kind | content length (4, big-endian) | content | zeros to `bucket`.
    static func paddedBlobPlaintext(kind: UInt8, content: [UInt8], bucket: Int) -> [UInt8] {
        var plaintext = [kind] + bigEndian(UInt64(content.count), count: 4) + content
        plaintext += [UInt8](repeating: 0, count: bucket - plaintext.count)
        return plaintext
    }

    /// Blob AD: "parley/1 blob" | version | sequence (8) | call ID (16) | sender role (1).
    static func blobAssociatedData(sequence: UInt64, callID: [UInt8], sender: CallRole) -> [UInt8] {
        utf8(Label.blob) + [SpecConstants.protocolVersion] + bigEndian(sequence, count: 8) + callID + [sender.rawValue]
    }

    /// Nonce of blobs and frames: 4 zero bytes | counter (8, big-endian).
    static func counterNonce(_ counter: UInt64) -> [UInt8] {
        [0, 0, 0, 0] + bigEndian(counter, count: 8)
    }

    /// Frame header: 01 | key phase | type (5 bits), then the counter in 7 bytes big-endian.
    static func frameHeader(keyPhase: Bool, type: UInt8, counter: UInt64) -> [UInt8] {
        [0x40 | (keyPhase ? 0x20 : 0) | type] + bigEndian(counter, count: 7)
    }

    static func bigEndian(_ value: UInt64, count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: value >> UInt64(8 * (count - 1 - $0))) }
    }
}
