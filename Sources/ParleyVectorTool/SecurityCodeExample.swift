import ParleyCrypto

/// One typed security code and what the spec's normalisation makes of it (no
/// code, a PRS, or `invalidSecurityCode`), cross-checked against
/// `SecurityCode.parse`. A parsed code's bytes are not readable, so a PRS is
/// checked through CPace: a caller with the parsed code and a CPace party with
/// the spec's PRS, given the same scalar, must commit to the same Ya.
struct SecurityCodeExample {
    /// The text as typed; nil when no code was given at all.
    let input: String?
    /// The rule this example shows.
    let shows: String

    static let all = [
        SecurityCodeExample(input: "482 913", shows: "a space is removed"),
        SecurityCodeExample(input: "482-913", shows: "a '-' is removed"),
        SecurityCodeExample(input: "482\t913", shows: "a tab is removed"),
        SecurityCodeExample(input: "Blue-Fox 42", shows: "ASCII letters are lower-cased"),
        SecurityCodeExample(input: "P@ss~word!", shows: "ASCII punctuation counts"),
        SecurityCodeExample(input: String(repeating: "7777-", count: 16), shows: "64 bytes after normalisation are accepted"),
        SecurityCodeExample(input: nil, shows: "no text: no code"),
        SecurityCodeExample(input: "", shows: "empty text: no code"),
        SecurityCodeExample(input: " - \t", shows: "only separators: no code"),
        SecurityCodeExample(input: String(repeating: "7777-", count: 16) + "7", shows: "65 bytes after normalisation are refused"),
        SecurityCodeExample(input: "caf\u{E9}", shows: "non-ASCII is refused (no Unicode normalisation)"),
        SecurityCodeExample(input: "482\u{A0}913", shows: "a no-break space is not a separator: refused"),
        SecurityCodeExample(input: "482\n913", shows: "a line feed is not a separator: refused"),
        SecurityCodeExample(input: "482\u{7F}913", shows: "DEL (0x7f) is refused"),
    ]

    func make() throws -> JSON {
        var parseError: CryptoError?
        var parsed: SecurityCode?
        do { parsed = try SecurityCode.parse(input) } catch { parseError = error as? CryptoError }
        defer { parsed?.erase() }
        let what = "security code \(input.map { "\"\($0)\"" } ?? "nil")"

        let outcome: String
        let prs: JSON
        let flag: JSON
        let errorCode: JSON
        switch SpecFormulas.normalisedCode(input) {
        case .noCode:
            check(parseError == nil && parsed == nil, "\(what): no code")
            (outcome, prs, flag, errorCode) = ("no code", .hex([]), .integer(0), .null)
        case let .code(bytes):
            guard let parsed else { fatalError("spec and code disagree on \(what): the spec gives a code") }
            check(try SecurityCodeExample.code(parsed, hasPRS: bytes), "\(what): PRS")
            (outcome, prs, flag, errorCode) = ("code", .hex(bytes), .integer(1), .null)
        case .invalid:
            let invalid = CryptoError.invalidSecurityCode("").code
            check(parseError?.code == invalid, "\(what): invalidSecurityCode")
            (outcome, prs, flag, errorCode) = ("invalidSecurityCode", .null, .null, .integer(invalid))
        }
        return .object([
            ("input", input.map(JSON.string) ?? .null),
            ("shows", .string(shows)),
            ("outcome", .string(outcome)),
            ("PRS", prs),
            ("code_set_flag", flag),
            ("error_code", errorCode),
        ])
    }

    /// Seed of the probe's identity and scalar; neither appears in the vector file.
    private static let probeSeed = Array("parley/1 protocol vectors: security code probe".utf8)

    /// True when `code` is the PRS `prs`: a caller built with `code` (given a call
    /// ID, its only draw is the scalar) and a CPace party built with `prs` and the
    /// same drawn scalar must commit to the same Ya.
    private static func code(_ code: SecurityCode, hasPRS prs: [UInt8]) throws -> Bool {
        let identity = DeviceIdentity(entropy: DeterministicEntropy(seed: probeSeed + [0]))
        defer { identity.erase() }
        let sid = [UInt8](repeating: 0, count: SpecConstants.callIDCount)
        let initiator = try CallInitiator(identity: identity, calleeID: identity.deviceID, securityCode: code, callID: sid,
                                          entropy: DeterministicEntropy(seed: probeSeed))
        defer { initiator.erase() }
        guard case let .invite(invite) = try HandshakeMessage.decode(initiator.inviteMessage) else { return false }

        let drawn = DeterministicEntropy(seed: probeSeed).bytes(CPace.scalarCount)
        let prsSecret = SecretBytes(copying: prs)
        defer { prsSecret.erase() }
        let ci = SpecFormulas.channelIdentifier(caller: identity.deviceID, callee: identity.deviceID)
        // CPace.Party takes over the scalar's copy and erases it.
        let party = try CPace.Party(prs: prsSecret, ci: ci, sid: sid, scalar: SecretBytes(copying: SpecFormulas.scalar(fromDrawn: drawn)))
        defer { party.erase() }
        let adA = SpecFormulas.associatedData(role: .caller, codeSet: true, callID: sid, identityKey: identity.publicKey)
        return invite.commitment == SpecFormulas.commitment(ci: ci, sid: sid, elementA: party.message, adA: adA)
    }
}
