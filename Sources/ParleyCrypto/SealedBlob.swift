import CSodium

/// Nonce for both sealed blobs and frames: 4 zero bytes then the 64-bit
/// sequence number or counter, big-endian. Keys are per direction (and per
/// epoch for frames), so a (key, nonce) pair is never reused.
@inline(__always)
func counterNonce(_ counter: UInt64) -> [UInt8] {
    var nonce = [UInt8](repeating: 0, count: 4)
    nonce.appendUInt64(counter)
    return nonce
}

/// A sealed blob (SDP offer/answer, ICE candidate, end-of-candidates) as it travels
/// through the signalling server (PROTOCOL.md, "Sealed blobs"):
///
///     version (1) | sequence (8, big-endian) | ChaCha20-Poly1305(padded plaintext) | tag (16)
///     padded plaintext = kind (1) | content length (4, big-endian) | content | zeros to the bucket size
///     associated data  = "parley/1 blob" | version | sequence | call ID (16) | sender role (1)
///
/// The server sees only the version, the sequence number and the bucketed size.
public struct SealedBlob: Equatable, Sendable {
    public var kind: UInt8
    public var content: [UInt8]
    public var sequence: UInt64

    /// The padded plaintext size for `contentCount` bytes of content.
    public static func bucket(forContentCount contentCount: Int) -> Int? {
        SpecConstants.blobBuckets.first { $0 >= contentCount + SpecConstants.blobFramingCount }
    }

    /// Largest blob on the wire.
    public static let maxWireCount = SpecConstants.blobHeaderCount + SpecConstants.blobBuckets.last! + ChaCha20Poly1305.tagCount

    static func associatedData(version: UInt8, sequence: UInt64, callID: [UInt8], sender: CallRole) -> [UInt8] {
        var ad = Labels.blobAssociatedData + [version]
        ad.appendUInt64(sequence)
        return ad + callID + [sender.rawValue]
    }
}

/// Seals one direction's blobs with consecutive sequence numbers from 0. Get it from
/// `CallKeys.blobSealer`: there is one per direction and call.
public final class SealedBlobSealer {
    private let key: SecretBytes
    private let callID: [UInt8]
    private let direction: CallRole
    private var nextSequence: UInt64 = 0

    package init(key: SecretBytes, callID: [UInt8], direction: CallRole) {
        self.key = key
        self.callID = callID
        self.direction = direction
    }

    /// Seals `content` of `kind`. Throws `tooLarge` past `SpecConstants.blobMaxContent`.
    public func seal(kind: UInt8, content: [UInt8]) throws -> [UInt8] {
        guard let bucket = SealedBlob.bucket(forContentCount: content.count) else {
            throw CryptoError.tooLarge(limit: SpecConstants.blobMaxContent, actual: content.count)
        }
        guard nextSequence < SpecConstants.blobRejectAfterMessages else { throw CryptoError.counterExhausted }
        let sequence = nextSequence
        var plaintext = [kind]
        plaintext.reserveCapacity(bucket)
        plaintext.appendUInt32(UInt32(content.count))
        plaintext += content
        plaintext += [UInt8](repeating: 0, count: bucket - plaintext.count)
        defer { sodium_memzero(&plaintext, plaintext.count) }
        let version = SpecConstants.protocolVersion
        let sealed = try ChaCha20Poly1305.seal(plaintext, key: key, nonce: counterNonce(sequence),
                                               associatedData: SealedBlob.associatedData(version: version, sequence: sequence, callID: callID, sender: direction))
        nextSequence += 1
        var wire = [version]
        wire.reserveCapacity(SpecConstants.blobHeaderCount + sealed.count)
        wire.appendUInt64(sequence)
        return wire + sealed
    }

    public func erase() { key.erase() }
}

/// Opens the peer's blobs: authenticates, rejects replays and anything further
/// than `SpecConstants.blobReplayWindow` behind the newest, strips the padding.
/// Get it from `CallKeys.blobOpener`: one per direction and call, so one replay window.
public final class SealedBlobOpener {
    private let key: SecretBytes
    private let callID: [UInt8]
    private let direction: CallRole
    private var replay = ReplayFilter(window: SpecConstants.blobReplayWindow)

    package init(key: SecretBytes, callID: [UInt8], direction: CallRole) {
        self.key = key
        self.callID = callID
        self.direction = direction
    }

    /// Errors: `tooLarge`, `malformed` (truncated or bad size), `unsupportedVersion`,
    /// `replayed`, `authenticationFailed` (forged, cross-call, cross-direction, wrong key).
    public func open(_ wire: [UInt8]) throws -> SealedBlob {
        guard !key.isErased else { throw CryptoError.secretErased }
        guard wire.count <= SealedBlob.maxWireCount else { throw CryptoError.tooLarge(limit: SealedBlob.maxWireCount, actual: wire.count) }
        var reader = ByteReader(wire)
        let version = try reader.readByte("blob version")
        guard version == SpecConstants.protocolVersion else { throw CryptoError.unsupportedVersion(version) }
        let sequence = try reader.readUInt64("blob sequence")
        let sealedCount = reader.remaining - ChaCha20Poly1305.tagCount
        guard SpecConstants.blobBuckets.contains(sealedCount) else {
            throw CryptoError.malformed("sealed blob body of \(max(0, sealedCount)) bytes is not a bucket size")
        }
        guard replay.wouldAccept(sequence, limit: SpecConstants.blobRejectAfterMessages) else { throw CryptoError.replayed }
        var plaintext = try ChaCha20Poly1305.open(try reader.readBytes(reader.remaining, "sealed body"), key: key, nonce: counterNonce(sequence),
                                                  associatedData: SealedBlob.associatedData(version: version, sequence: sequence, callID: callID, sender: direction))
        defer { sodium_memzero(&plaintext, plaintext.count) }
        var inner = ByteReader(plaintext)
        let kind = try inner.readByte("blob kind")
        let length = try inner.readUInt32("blob length")
        // Compared as UInt32 first: on a 32-bit platform Int(length) could trap.
        guard length <= UInt32(inner.remaining) else { throw CryptoError.malformed("blob length \(length) exceeds its padding bucket") }
        let content = try inner.readBytes(Int(length), "blob content")
        guard replay.accept(sequence, limit: SpecConstants.blobRejectAfterMessages) else { throw CryptoError.replayed }
        return SealedBlob(kind: kind, content: content, sequence: sequence)
    }

    public func erase() { key.erase() }
}
