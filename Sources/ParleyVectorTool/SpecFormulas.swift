import ParleyCrypto

/// The byte strings PROTOCOL.md defines, rebuilt here from its formulas so the
/// vector file can show every intermediate value. Each one is cross-checked
/// against what the handshake, sealers and openers actually produced (see
/// `CallVector`), so a divergence between spec and code stops the tool.
enum SpecFormulas {
    /// Labels as in Constants.swift (`Labels`), spelled out because that enum is internal.
    enum Label {
        static let channelIdentifier = "parley/1 call"
        static let signatureInit = "parley/1 sig init"
        static let signatureResponse = "parley/1 sig response"
        static let signatureConfirm = "parley/1 sig confirm"
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

    static func utf8(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Security code normalisation: drop ASCII space, tab and '-'.
    static func normalisedCode(_ text: String) -> [UInt8] {
        text.utf8.filter { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") && $0 != UInt8(ascii: "-") }
    }

    /// CI = lv_cat("parley/1 call", caller device ID, callee device ID).
    static func channelIdentifier(caller: DeviceID, callee: DeviceID) -> [UInt8] {
        CPace.lvCat(utf8(Label.channelIdentifier), caller.bytes, callee.bytes)
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
