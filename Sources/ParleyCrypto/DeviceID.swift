/// A device's self-certifying identifier: BLAKE2b with a 20-byte output (the
/// output length is a BLAKE2b parameter, so this is not a prefix of BLAKE2b-512)
/// of "parley/1 device-id" || Ed25519 public key. Anyone holding the public key can check
/// it; nobody can choose a key for a given ID (160-bit second preimage).
///
/// Printable form: lowercase RFC 4648 base32 (no padding) of the 20 ID bytes
/// followed by a 2-byte checksum, 36 characters. See PROTOCOL.md, "Device IDs".
public struct DeviceID: Hashable, Sendable, CustomStringConvertible, Comparable {
    public static let byteCount = 20
    static let checksumCount = 2
    public static let printableCount = 36

    /// The 20 raw bytes, as they travel on the wire.
    public let bytes: [UInt8]

    public init(rawBytes: [UInt8]) throws {
        guard rawBytes.count == DeviceID.byteCount else {
            throw CryptoError.invalidLength(what: "device ID", expected: DeviceID.byteCount, actual: rawBytes.count)
        }
        self.bytes = rawBytes
    }

    /// Hashes the 20 bytes in one call (the synthesized hash feeds them one at a time: a
    /// visible share of the server's per-message CPU). Equality is still byte equality.
    public func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    public static func == (lhs: DeviceID, rhs: DeviceID) -> Bool { lhs.bytes == rhs.bytes }

    /// The device ID that belongs to an Ed25519 public key.
    public init(publicKey: [UInt8]) throws {
        guard publicKey.count == Ed25519.publicKeyCount else {
            throw CryptoError.invalidLength(what: "Ed25519 public key", expected: Ed25519.publicKeyCount, actual: publicKey.count)
        }
        self.bytes = BLAKE2b.hash(Labels.deviceID + publicKey, outputCount: DeviceID.byteCount)
    }

    /// Parses the printable form (case-insensitive, '-' ignored).
    public init(printable text: String) throws {
        guard let decoded = Base32.decode(text) else {
            throw CryptoError.invalidDeviceID("'\(text)' is not base32 (letters a-z and digits 2-7)")
        }
        guard decoded.count == DeviceID.byteCount + DeviceID.checksumCount else {
            throw CryptoError.invalidDeviceID("expected \(DeviceID.printableCount) characters")
        }
        let id = Array(decoded.prefix(DeviceID.byteCount))
        guard Array(decoded.suffix(DeviceID.checksumCount)) == DeviceID.checksum(id) else {
            throw CryptoError.invalidDeviceID("checksum does not match (a typo?)")
        }
        self.bytes = id
    }

    /// True when `publicKey` is the key this ID was derived from.
    public func matches(publicKey: [UInt8]) -> Bool {
        (try? DeviceID(publicKey: publicKey)) == self
    }

    public var printable: String { Base32.encode(bytes + DeviceID.checksum(bytes)) }

    /// A short form for people: the first 8 printable characters as "abcd-efgh".
    public var fingerprint: String {
        let text = Array(printable.prefix(8))
        return String(text[0..<4]) + "-" + String(text[4..<8])
    }

    public var description: String { printable }

    public static func < (lhs: DeviceID, rhs: DeviceID) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }

    static func checksum(_ id: [UInt8]) -> [UInt8] {
        Array(BLAKE2b.hash(Labels.deviceIDChecksum + id, outputCount: 16).prefix(checksumCount))
    }
}
