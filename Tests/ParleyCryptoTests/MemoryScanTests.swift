@testable import ParleyCrypto
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The strongest erasure proof: after hang-up, no readable page of this process
/// holds any of the call's keys: not the protected buffers, not a stack scratch
/// block, not a libsodium state, not a Swift copy.
///
/// The test never holds a key itself: it captures each key XOR-masked with random
/// bytes and compares memory against it byte by byte, so the only contiguous copies
/// the scan can find are Parley's own. A positive control finds every key while the
/// call is live, so a scan that cannot see memory fails the test.
final class MemoryScanTests: SecretsTestCase {
    /// A key as `masked = key ^ mask`: neither array is the key.
    private struct MaskedKey {
        let masked: [UInt8]
        let mask: [UInt8]
    }

    private func capture(_ secret: SecretBytes) throws -> MaskedKey {
        let mask = (0..<secret.count).map { _ in UInt8.random(in: 0...255) }
        var masked = [UInt8](repeating: 0, count: secret.count)
        try secret.withUnsafeBytes { raw in
            for index in 0..<raw.count { masked[index] = raw[index] ^ mask[index] }
        }
        return MaskedKey(masked: masked, mask: mask)
    }

    /// /proc/self/maps, whole. Not `String(contentsOfFile:)`: for a /proc file (size 0)
    /// Foundation returns only the first 4 KB, about 80 mappings, and the scan was blind
    /// to every mapping after those (in the full suite, where the process has thousands,
    /// the callee's copies of the keys were among them).
    static func readMaps() throws -> String {
        let fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw XCTSkip("/proc/self/maps is not readable here") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// True when a readable mapping of `maps` holds `address`.
    static func readableMapping(in maps: String, holds address: UInt) -> Bool {
        maps.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            let bounds = fields.first?.split(separator: "-") ?? []
            guard fields.count >= 2, fields[1].hasPrefix("r"), bounds.count == 2,
                  let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16) else { return false }
            return address >= start && address < end
        }
    }

    /// Counts the places in readable memory that hold the key, reading through
    /// /proc/self/mem (a region that vanishes mid-scan is an error, not a crash).
    private func occurrences(of key: MaskedKey) throws -> Int {
        let maps = try Self.readMaps()
        let fd = open("/proc/self/mem", O_RDONLY)
        guard fd >= 0 else { throw XCTSkip("/proc/self/mem is not readable here") }
        defer { close(fd) }
        let chunk = 1 << 20, overlap = key.masked.count - 1
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: chunk + overlap)
        defer {
            memset(buffer, 0, chunk + overlap)  // it may have held a copy of a live key
            buffer.deallocate()
        }
        let first = Int32(key.masked[0] ^ key.mask[0])
        var found = 0
        var regions = 0
        for line in maps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, fields[1].hasPrefix("r"), !line.hasSuffix("[vvar]"), !line.hasSuffix("[vsyscall]") else { continue }
            let bounds = fields[0].split(separator: "-")
            guard bounds.count == 2, let start = UInt64(bounds[0], radix: 16), let end = UInt64(bounds[1], radix: 16) else { continue }
            regions += 1
            var offset = start
            while offset < end {
                let wanted = Int(min(UInt64(chunk + overlap), end - offset))
                let got = pread(fd, buffer, wanted, off_t(Int64(bitPattern: offset)))
                guard got > 0 else {
                    // An unreadable page inside a readable region (a file mapping past its
                    // end, a page being remapped): skip that page, scan the rest.
                    offset = (offset / 4096 + 1) * 4096
                    continue
                }
                var cursor = 0
                while cursor < min(got, chunk), let hit = memchr(buffer + cursor, first, min(got, chunk) - cursor) {
                    let index = buffer.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                    if index + key.masked.count <= got {
                        var match = true
                        for position in 1..<key.masked.count where buffer[index + position] ^ key.mask[position] != key.masked[position] {
                            match = false
                            break
                        }
                        if match { found += 1 }
                    }
                    cursor = index + 1
                }
                // A short read stopped at an unreadable page: go on right after what was
                // read, keeping the overlap, so no key that starts in it is skipped.
                offset += UInt64(got == wanted ? min(chunk, got) : max(1, got - overlap))
            }
        }
        XCTAssertGreaterThan(regions, 10, "the scan saw almost no memory")
        return found
    }

    func testNoKeyOfAnEndedCallRemainsAnywhereInProcessMemory() throws {
        let fixture = CallFixture()
        let call = try fixture.handshake(callerCode: "2580", calleeCode: "2580")
        let keys = try [call.callerKeys.signalSend, call.callerKeys.signalReceive,
                        call.callerKeys.frameSend, call.callerKeys.frameReceive].map(capture)

        // The scan sees every secret's memory: each key of both sides lies in a readable
        // mapping of the list it scans (reading that list with Foundation once cut it at
        // 4 KB, and the full suite's keys fell outside it).
        let maps = try Self.readMaps()
        for secret in [call.callerKeys.signalSend, call.callerKeys.signalReceive, call.callerKeys.frameSend, call.callerKeys.frameReceive,
                       call.calleeKeys.signalSend, call.calleeKeys.signalReceive, call.calleeKeys.frameSend, call.calleeKeys.frameReceive] {
            let address = try secret.withUnsafeBytes { UInt(bitPattern: $0.baseAddress) }
            XCTAssertTrue(Self.readableMapping(in: maps, holds: address), "a key's memory is outside the mappings the scan reads")
        }

        // Positive control: every key is found while the call is live, twice: each is held
        // by both sides (the caller's send key is the callee's receive key).
        for (index, key) in keys.enumerated() {
            XCTAssertEqual(try occurrences(of: key), 2, "key \(index) not found twice while live: the scan is blind")
        }

        // Use every key: blobs both ways, frames both ways across a rekey.
        let t0 = Timestamp(nanoseconds: 0), later = t0 + SpecConstants.rekeyAfterTime
        for (sender, receiver) in [(call.callerKeys, call.calleeKeys), (call.calleeKeys, call.callerKeys)] {
            _ = try receiver.blobOpener.open(sender.blobSealer.seal(kind: 1, content: Array("v=0".utf8)))
            for now in [t0, later] {
                _ = try receiver.frameOpener.open(sender.frameSealer.seal(type: 1, payload: [UInt8](repeating: 7, count: 1200), now: now), now: now)
            }
        }

        call.erase()
        for (index, key) in keys.enumerated() {
            XCTAssertEqual(try occurrences(of: key), 0, "key \(index) is still in memory after hang-up")
        }
    }
}
