/// Derives every key of a call from CPace's ISK and the transcript hash
/// (PROTOCOL.md, "Key schedule"):
///
///     th  = SHA-512(lv("parley/1 transcript") || lv(CI) || lv(sid) || lv(transcript_ir))
///     PRK = HKDF-Extract(salt = "parley/1 key schedule", IKM = ISK)
///     key(label, L) = HKDF-Expand(PRK, lv(label) || th, L)
///
/// The ISK and PRK are erased as soon as the keys exist; K never leaves CPace.
public enum KeySchedule {
    public static let keyCount = 32
    public static let confirmTagCount = 32
    /// The caller's commitment to Ya: the first 32 bytes of
    /// SHA-512(lv_cat("parley/1 commit", CI, sid, Ya, ADa)).
    public static let commitmentCount = 32

    public static func commitment(ci: [UInt8], sid: [UInt8], element: [UInt8], ad: [UInt8]) -> [UInt8] {
        Array(SHA512.hash(CPace.lvCat(Labels.commitment, ci, sid, element, ad)).prefix(commitmentCount))
    }
    static let sasCount = 8

    public static func transcriptHash(ci: [UInt8], sid: [UInt8], transcript: [UInt8]) -> [UInt8] {
        SHA512.hash(CPace.prependLen(Labels.transcriptHash) + CPace.prependLen(ci) + CPace.prependLen(sid) + CPace.prependLen(transcript))
    }

    /// All secrets derived for one call, before key confirmation.
    final class Derived {
        let signalCallerToCallee: SecretBytes
        let signalCalleeToCaller: SecretBytes
        let frameCallerToCallee: SecretBytes
        let frameCalleeToCaller: SecretBytes
        let confirmCaller: SecretBytes
        let confirmCallee: SecretBytes
        let sas: ShortAuthenticationString
        let transcriptHash: [UInt8]

        /// Takes ownership of `isk` and erases it.
        init(isk: SecretBytes, transcriptHash th: [UInt8]) throws {
            defer { isk.erase() }
            let prk = try HKDF.extract(salt: Labels.keyScheduleSalt, inputKeyMaterial: isk)
            defer { prk.erase() }
            func derive(_ label: [UInt8], _ count: Int = KeySchedule.keyCount) throws -> SecretBytes {
                try HKDF.expand(pseudoRandomKey: prk, info: CPace.prependLen(label) + th, count: count)
            }
            signalCallerToCallee = try derive(Labels.signalCallerToCallee)
            signalCalleeToCaller = try derive(Labels.signalCalleeToCaller)
            frameCallerToCallee = try derive(Labels.frameCallerToCallee)
            frameCalleeToCaller = try derive(Labels.frameCalleeToCaller)
            confirmCaller = try derive(Labels.confirmCaller)
            confirmCallee = try derive(Labels.confirmCallee)
            let sasBytes = try derive(Labels.sas, KeySchedule.sasCount)
            defer { sasBytes.erase() }
            sas = try ShortAuthenticationString(derived: sasBytes)
            transcriptHash = th
        }

        /// The confirmation tag `role` sends: HMAC-SHA-512(confirm key of role, th), first 32 bytes.
        func confirmTag(for role: CallRole) throws -> [UInt8] {
            try HKDF.tag(key: role == .caller ? confirmCaller : confirmCallee, message: transcriptHash)
        }

        /// Constant-time check of the tag the peer (of `role`) sent.
        func checkConfirmTag(_ tag: [UInt8], from role: CallRole) throws -> Bool {
            let expected = try confirmTag(for: role)
            return tag.count == expected.count && constantTimeEqual(tag, expected)
        }

        func eraseAll() {
            for secret in [signalCallerToCallee, signalCalleeToCaller, frameCallerToCallee, frameCalleeToCaller, confirmCaller, confirmCallee] {
                secret.erase()
            }
        }

        /// Hands the traffic keys to a `CallKeys` for `role` and erases the confirmation keys.
        func callKeys(role: CallRole, callID: [UInt8], local: DeviceID, peer: DeviceID, peerIdentityKey: [UInt8]) -> CallKeys {
            confirmCaller.erase()
            confirmCallee.erase()
            let callerSends = role == .caller
            return CallKeys(role: role, callID: callID, localDeviceID: local, peerDeviceID: peer, peerIdentityKey: peerIdentityKey,
                            sas: sas, transcriptHash: transcriptHash,
                            signalSend: callerSends ? signalCallerToCallee : signalCalleeToCaller,
                            signalReceive: callerSends ? signalCalleeToCaller : signalCallerToCallee,
                            frameSend: callerSends ? frameCallerToCallee : frameCalleeToCaller,
                            frameReceive: callerSends ? frameCalleeToCaller : frameCallerToCallee)
        }
    }
}

/// Constant-time comparison of two equal-length public byte strings (tags).
func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    guard lhs.count == rhs.count else { return false }
    var difference: UInt8 = 0
    for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
    return difference == 0
}

/// The outcome of a confirmed handshake: the traffic keys of one side of one call,
/// the SAS and who the peer proved to be.
///
/// Each direction has exactly one sealer and one opener, made on first use and
/// owned here: a second sealer would restart its counter under the same key and
/// reuse nonces, a second opener would start with an empty replay window. The
/// sealers and openers take over the keys (their rekeying erases the old ones), and
/// `erase()` erases everything of the call, whatever key epoch it has reached.
///
/// Not thread-safe: one owner (the call's state machine) uses it.
public final class CallKeys {
    public let role: CallRole
    public let callID: [UInt8]
    public let localDeviceID: DeviceID
    /// The device ID derived from the identity key whose signature this side verified.
    public let peerDeviceID: DeviceID
    public let peerIdentityKey: [UInt8]
    public let sas: ShortAuthenticationString
    public let transcriptHash: [UInt8]
    package let signalSend: SecretBytes
    package let signalReceive: SecretBytes
    package let frameSend: SecretBytes
    package let frameReceive: SecretBytes
    private var madeBlobSealer: SealedBlobSealer?
    private var madeBlobOpener: SealedBlobOpener?
    private var madeFrameSealer: FrameSealer?
    private var madeFrameOpener: FrameOpener?

    package init(role: CallRole, callID: [UInt8], localDeviceID: DeviceID, peerDeviceID: DeviceID, peerIdentityKey: [UInt8],
                 sas: ShortAuthenticationString, transcriptHash: [UInt8],
                 signalSend: SecretBytes, signalReceive: SecretBytes, frameSend: SecretBytes, frameReceive: SecretBytes) {
        self.role = role
        self.callID = callID
        self.localDeviceID = localDeviceID
        self.peerDeviceID = peerDeviceID
        self.peerIdentityKey = peerIdentityKey
        self.sas = sas
        self.transcriptHash = transcriptHash
        self.signalSend = signalSend
        self.signalReceive = signalReceive
        self.frameSend = frameSend
        self.frameReceive = frameReceive
    }

    /// Seals this side's SDP and ICE blobs (the one sealer of this direction).
    public var blobSealer: SealedBlobSealer {
        if let made = madeBlobSealer { return made }
        let made = SealedBlobSealer(key: signalSend, callID: callID, direction: role)
        madeBlobSealer = made
        return made
    }

    /// Opens the peer's SDP and ICE blobs (the one opener, with the one replay window).
    public var blobOpener: SealedBlobOpener {
        if let made = madeBlobOpener { return made }
        let made = SealedBlobOpener(key: signalReceive, callID: callID, direction: role == .caller ? .callee : .caller)
        madeBlobOpener = made
        return made
    }

    /// Seals this side's frames (the one frame sealer of this direction).
    public var frameSealer: FrameSealer {
        if let made = madeFrameSealer { return made }
        let made = FrameSealer(key: frameSend)
        madeFrameSealer = made
        return made
    }

    /// Opens the peer's frames (the one frame opener, with the one replay window).
    public var frameOpener: FrameOpener {
        if let made = madeFrameOpener { return made }
        let made = FrameOpener(key: frameReceive)
        madeFrameOpener = made
        return made
    }

    /// Erases every key of the call now: the four traffic keys and every key the
    /// sealers and openers hold after rekeying, including a previous key in its grace time.
    public func erase() {
        for secret in [signalSend, signalReceive, frameSend, frameReceive] { secret.erase() }
        madeFrameSealer?.erase()
        madeFrameOpener?.erase()
    }

    /// True once every key of the call is erased.
    public var isErased: Bool {
        signalSend.isErased && signalReceive.isErased && frameSend.isErased && frameReceive.isErased
            && (madeFrameSealer?.isErased ?? true) && (madeFrameOpener?.isErased ?? true)
    }
}
