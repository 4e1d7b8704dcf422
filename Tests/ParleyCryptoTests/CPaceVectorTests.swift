@testable import ParleyCrypto
import XCTest

/// CPace ristretto255/SHA-512 against draft-irtf-cfrg-cpace-21's test vectors
/// (Resources/cpace-testvectors.json, group G_Coffee25519; intermediate values from
/// Resources/cpace-ristretto255-sha512.md, the draft's appendix).
final class CPaceVectorTests: SecretsTestCase {
    private struct Suite {
        let prs, ci, sid, g, ya, adA, yaElement, yb, adB, ybElement, k, iskIR, iskSY, sidOutIR, sidOutOC: [UInt8]
    }

    private func suite() throws -> Suite {
        let all = try XCTUnwrap(TestResources.json("cpace-testvectors.json") as? [String: Any])
        let vectors = try XCTUnwrap(all["G_Coffee25519"] as? [String: String])
        func value(_ name: String) throws -> [UInt8] { try TestResources.hex(XCTUnwrap(vectors[name], "missing \(name)")) }
        return try Suite(prs: value("PRS"), ci: value("CI"), sid: value("sid"), g: value("g"), ya: value("ya"), adA: value("ADa"),
                         yaElement: value("Ya"), yb: value("yb"), adB: value("ADb"), ybElement: value("Yb"), k: value("K"),
                         iskIR: value("ISK_IR"), iskSY: value("ISK_SY"), sidOutIR: value("sid_output_ir"), sidOutOC: value("sid_output_oc"))
    }

    private func bytes(of secret: SecretBytes) throws -> [UInt8] { try secret.withUnsafeBytes { Array($0) } }

    func testStringUtilitiesMatchDraftVectors() throws {
        XCTAssertEqual(CPace.prependLen([]), [0x00])
        XCTAssertEqual(CPace.prependLen(Array("1234".utf8)), try TestResources.hex("0431323334"))
        XCTAssertEqual(CPace.prependLen((0..<127).map { UInt8($0) }).prefix(1), [0x7f])
        XCTAssertEqual(Array(CPace.prependLen((0..<128).map { UInt8($0) }).prefix(3)), [0x80, 0x01, 0x00])
        XCTAssertEqual(CPace.lvCat(Array("1234".utf8), Array("5".utf8), [], Array("678".utf8)), try TestResources.hex("043132333401350003363738"))
        XCTAssertFalse(CPace.lexicographicallyLarger([0], [0, 0]))
        XCTAssertTrue(CPace.lexicographicallyLarger([1], [0, 0]))
        XCTAssertTrue(CPace.lexicographicallyLarger([0, 0], [0]))
        XCTAssertFalse(CPace.lexicographicallyLarger([0, 0], [1]))
        XCTAssertFalse(CPace.lexicographicallyLarger([0, 1], [1]))
        XCTAssertFalse(CPace.lexicographicallyLarger(Array("ABCD".utf8), Array("BCD".utf8)))
        XCTAssertEqual(CPace.orderedConcat(Array("ABCD".utf8), Array("BCD".utf8)), try TestResources.hex("6f6342434441424344"))
        XCTAssertEqual(CPace.orderedConcat(Array("BCD".utf8), Array("ABCDE".utf8)), try TestResources.hex("6f634243444142434445"))
        let a = Array("PartyA".utf8), b = Array("PartyB".utf8)
        XCTAssertEqual(CPace.transcriptIR(ya: Array("123".utf8), adA: a, yb: Array("234".utf8), adB: b),
                       try TestResources.hex("03313233065061727479410332333406506172747942"))
        XCTAssertEqual(CPace.transcriptOC(ya: Array("123".utf8), adA: a, yb: Array("234".utf8), adB: b),
                       try TestResources.hex("6f6303323334065061727479420331323306506172747941"))
        XCTAssertEqual(CPace.transcriptOC(ya: Array("3456".utf8), adA: a, yb: Array("2345".utf8), adB: b),
                       try TestResources.hex("6f63043334353606506172747941043233343506506172747942"))
    }

    func testGeneratorStringHashAndGeneratorMatchDraft() throws {
        let v = try suite()
        let prs = SecretBytes(copying: v.prs)
        defer { prs.erase() }
        // generator_string: 170 bytes, from the draft's appendix.
        let expectedString = try TestResources.hex("""
            11435061636552697374726574746f3235350850617373776f726464
            00000000000000000000000000000000000000000000000000000000
            00000000000000000000000000000000000000000000000000000000
            00000000000000000000000000000000000000000000000000000000
            00000000000000000000000000000000180b415f696e69746961746f
            720b425f726573706f6e646572107e4b4791d6a8ef019b936c79fb7f
            2c57
            """)
        var built: [UInt8] = []
        for part in CPace.generatorStringParts(prs: prs, ci: v.ci, sid: v.sid) {
            switch part {
            case let .public(bytes): built += bytes
            case let .secret(secret): built += try bytes(of: secret)
            }
        }
        XCTAssertEqual(built.count, 170)
        XCTAssertEqual(built, expectedString)
        let hash = try SHA512.hash(secretParts: CPace.generatorStringParts(prs: prs, ci: v.ci, sid: v.sid))
        defer { hash.erase() }
        XCTAssertEqual(try bytes(of: hash), try TestResources.hex("""
            da6d3ddc8802fca9058755ffd3ebde08a9c2c74945901a258482a288
            b6663af06bf645c93cd1c51512307199c80e84908916d983b34af772
            05f90851a657ee27
            """))
        let g = try CPace.generator(prs: prs, ci: v.ci, sid: v.sid)
        defer { g.erase() }
        XCTAssertEqual(try bytes(of: g), v.g)
    }

    func testMessagesSecretPointAndISKMatchDraft() throws {
        let v = try suite()
        let prs = SecretBytes(copying: v.prs)
        defer { prs.erase() }
        let partyA = try CPace.Party(prs: prs, ci: v.ci, sid: v.sid, scalar: SecretBytes(copying: v.ya))
        let partyB = try CPace.Party(prs: prs, ci: v.ci, sid: v.sid, scalar: SecretBytes(copying: v.yb))
        XCTAssertEqual(partyA.message, v.yaElement)
        XCTAssertEqual(partyB.message, v.ybElement)

        // K from both sides.
        let ya = SecretBytes(copying: v.ya), yb = SecretBytes(copying: v.yb)
        defer { ya.erase(); yb.erase() }
        let kA = try CPace.scalarMultVerify(scalar: ya, element: v.ybElement)
        let kB = try CPace.scalarMultVerify(scalar: yb, element: v.yaElement)
        defer { kA.erase(); kB.erase() }
        XCTAssertEqual(try bytes(of: kA), v.k)
        XCTAssertEqual(try bytes(of: kB), v.k)

        // ISK in the initiator-responder order, through the parties.
        let transcriptIR = CPace.transcript(.initiatorResponder, ya: v.yaElement, adA: v.adA, yb: v.ybElement, adB: v.adB)
        XCTAssertEqual(transcriptIR.count, 74)
        let iskA = try partyA.deriveISK(peerMessage: v.ybElement, transcript: transcriptIR)
        let iskB = try partyB.deriveISK(peerMessage: v.yaElement, transcript: transcriptIR)
        defer { iskA.erase(); iskB.erase() }
        XCTAssertEqual(try bytes(of: iskA), v.iskIR)
        XCTAssertEqual(try bytes(of: iskB), v.iskIR)

        // ISK in the parallel order.
        let transcriptOC = CPace.transcript(.parallel, ya: v.yaElement, adA: v.adA, yb: v.ybElement, adB: v.adB)
        XCTAssertEqual(transcriptOC.count, 76)
        let iskSY = try CPace.intermediateSessionKey(sid: v.sid, k: kA, transcript: transcriptOC)
        defer { iskSY.erase() }
        XCTAssertEqual(try bytes(of: iskSY), v.iskSY)

        XCTAssertEqual(CPace.sidOutput(transcript: transcriptIR), v.sidOutIR)
        XCTAssertEqual(CPace.sidOutput(transcript: transcriptOC), v.sidOutOC)
    }

    func testPartyRunsOnceAndErasesItsScalar() throws {
        let v = try suite()
        let party = try CPace.Party(prs: nil, ci: v.ci, sid: v.sid, entropy: SystemEntropy.shared)
        let isk = try party.deriveISK(peerMessage: v.ybElement, transcript: [])
        isk.erase()
        XCTAssertThrowsError(try party.deriveISK(peerMessage: v.ybElement, transcript: [])) {
            XCTAssertEqual($0 as? CryptoError, .invalidState("this CPace party has already finished"))
        }
    }

    func testScalarMultVerifyMatchesDraftForValidPoint() throws {
        let all = try XCTUnwrap(TestResources.json("cpace-testvectors.json") as? [String: Any])
        let points = try XCTUnwrap(all["G_Coffee25519_points"] as? [String: Any])
        let valid = try XCTUnwrap(points["Valid"] as? [String: String])
        let s = SecretBytes(copying: try TestResources.hex(XCTUnwrap(valid["s"])))
        defer { s.erase() }
        let result = try CPace.scalarMultVerify(scalar: s, element: try TestResources.hex(XCTUnwrap(valid["X"])))
        defer { result.erase() }
        XCTAssertEqual(try bytes(of: result), try TestResources.hex(XCTUnwrap(valid["G.scalar_mult_vfy(s,X)"])))
    }

    func testInvalidPointsAbortBothDraftCases() throws {
        let all = try XCTUnwrap(TestResources.json("cpace-testvectors.json") as? [String: Any])
        let points = try XCTUnwrap(all["G_Coffee25519_points"] as? [String: Any])
        let valid = try XCTUnwrap(points["Valid"] as? [String: String])
        let s = SecretBytes(copying: try TestResources.hex(XCTUnwrap(valid["s"])))
        defer { s.erase() }
        for name in ["Invalid Y1", "Invalid Y2"] {
            let element = try TestResources.hex(XCTUnwrap(points[name] as? String, "missing \(name)"))
            XCTAssertThrowsError(try CPace.scalarMultVerify(scalar: s, element: element), name) {
                XCTAssertEqual($0 as? CryptoError, .invalidPublicKey, name)
            }
        }
        // A party given an invalid peer message aborts and keeps no K or ISK.
        let v = try suite()
        let party = try CPace.Party(prs: nil, ci: v.ci, sid: v.sid)
        XCTAssertThrowsError(try party.deriveISK(peerMessage: [UInt8](repeating: 0, count: 32), transcript: []))
        XCTAssertThrowsError(try party.deriveISK(peerMessage: [UInt8](repeating: 0xff, count: 31), transcript: []))
    }

    func testSampledScalarsAreReducedAndNonZero() throws {
        for _ in 0..<64 {
            let scalar = CPace.sampleScalar(entropy: SystemEntropy.shared)
            defer { scalar.erase() }
            let raw = try bytes(of: scalar)
            XCTAssertEqual(raw[31] & 0xf0, 0, "bits above 252 must be clear")
            XCTAssertTrue(raw.contains { $0 != 0 })
        }
    }
}
