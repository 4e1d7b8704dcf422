// Shared by the ParleyCrypto fuzz targets (FuzzSealedBlob, FuzzFrame, FuzzHandshake).
// Each of those binaries is this file, FuzzCommon.swift (oracle, input reader, seed
// writer), one Fuzz*.swift target file and the ParleyCrypto sources compiled as a single
// module (see run.sh), so the harness reaches `package` and internal API without an import.
//
// A target file provides:
//   - `LLVMFuzzerTestOneInput`, which runs one input;
//   - `fuzzStartUp()`, run once before the first input (precomputation, self-checks);
//   - `fuzzSeeds()`, the seed inputs, written to a directory on request.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// MARK: Oracle

/// Runs one call into ParleyCrypto. Success and a thrown `CryptoError` are the only
/// acceptable outcomes; any other error is a bug (traps and crashes stop the process
/// on their own).
func outcome<T>(_ what: String, _ body: () throws -> T) -> Result<T, CryptoError> {
    do {
        return .success(try body())
    } catch let error as CryptoError {
        return .failure(error)
    } catch {
        fuzzBug("\(what) threw \(type(of: error)) (\(error)), not a CryptoError")
    }
}

extension Result {
    var failed: Bool {
        if case .failure = self { return true }
        return false
    }
}

/// The live-secret count once start-up is over. Every input must leave it unchanged:
/// a secret still alive after its input returned was kept past its call.
nonisolated(unsafe) private var secretsBaseline = 0

/// Checks that the input just run released or erased every secret it created.
func checkNoSecretOutlivesInput() {
    fuzzCheck(SecretBytes.liveCount == secretsBaseline,
              "\(SecretBytes.liveCount - secretsBaseline) secret(s) outlived the input that created them")
}

// MARK: Tampering

/// Edits made to an honestly sealed message, at positions the input chooses.
/// Encoding: count (1, used modulo 5), then per edit: kind (1) | position (2) | value (1).
struct Tamper {
    enum Edit {
        case flip(position: Int, mask: UInt8)
        case truncate(position: Int)
        case insert(position: Int, byte: UInt8)
        case delete(position: Int)
    }

    static let maxEdits = 4
    var edits: [Edit] = []

    init(_ input: inout FuzzInput) {
        for _ in 0..<Int(input.byte()) % (Tamper.maxEdits + 1) {
            let kind = input.byte() % 4
            let position = Int(input.uint16())
            let value = input.byte()
            switch kind {
            case 0: edits.append(.flip(position: position, mask: value))
            case 1: edits.append(.truncate(position: position))
            case 2: edits.append(.insert(position: position, byte: value))
            default: edits.append(.delete(position: position))
            }
        }
    }

    /// Encodes edits for seed inputs.
    static func encode(_ edits: [(kind: UInt8, position: UInt16, value: UInt8)]) -> [UInt8] {
        [UInt8(edits.count)] + edits.flatMap { [$0.kind, UInt8($0.position >> 8), UInt8($0.position & 0xff), $0.value] }
    }

    /// Applies the edits in order; positions wrap around the current length.
    func apply(to message: [UInt8]) -> [UInt8] {
        var bytes = message
        for edit in edits {
            switch edit {
            case let .flip(position, mask):
                if !bytes.isEmpty { bytes[position % bytes.count] ^= mask }
            case let .truncate(position):
                bytes.removeLast(bytes.count - position % (bytes.count + 1))
            case let .insert(position, byte):
                bytes.insert(byte, at: position % (bytes.count + 1))
            case let .delete(position):
                if !bytes.isEmpty { bytes.remove(at: position % bytes.count) }
            }
        }
        return bytes
    }
}

// MARK: The honest call

/// One honest call handshake, run once per process from fixed seeds, so every input
/// (and every rerun of a crash file) sees the same identities, messages and keys.
/// Nothing here is ever erased: inputs that need keys a sealer or opener will erase
/// work on copies (`duplicate`).
// @unchecked: CallKeys is single-owner and not Sendable; libFuzzer runs every input on one
// thread and the harness only reads these keys (it copies them per input).
struct HonestCall: @unchecked Sendable {
    static let shared = HonestCall()

    static let callerEphemeralSeed = Array("parley fuzz caller ephemeral".utf8)
    static let calleeEphemeralSeed = Array("parley fuzz callee ephemeral".utf8)

    let caller: DeviceIdentity
    let callee: DeviceIdentity
    /// A third device, for messages signed by someone the call did not name.
    let stranger: DeviceIdentity
    let callID: [UInt8]
    /// Messages 1 to 4 as they went over the wire.
    let invite: [UInt8]
    let response: [UInt8]
    let confirm: [UInt8]
    let finish: [UInt8]
    let callerKeys: CallKeys
    let calleeKeys: CallKeys

    private init() {
        caller = DeviceIdentity(entropy: DeterministicEntropy(seed: Array("parley fuzz caller identity".utf8)))
        callee = DeviceIdentity(entropy: DeterministicEntropy(seed: Array("parley fuzz callee identity".utf8)))
        stranger = DeviceIdentity(entropy: DeterministicEntropy(seed: Array("parley fuzz stranger identity".utf8)))
        callID = (0..<UInt8(SpecConstants.callIDCount)).map { $0 &* 17 }
        do {
            let initiator = try CallInitiator(identity: caller, calleeID: callee.deviceID, securityCode: nil, callID: callID,
                                              entropy: DeterministicEntropy(seed: HonestCall.callerEphemeralSeed))
            let responder = CallResponder(identity: callee, callerID: caller.deviceID, securityCode: nil,
                                          entropy: DeterministicEntropy(seed: HonestCall.calleeEphemeralSeed))
            invite = initiator.inviteMessage
            response = try responder.consumeInvite(invite)
            confirm = try initiator.consumeResponse(response)
            (finish, calleeKeys) = try responder.consumeConfirm(confirm)
            callerKeys = try initiator.consumeFinish(finish)
        } catch {
            fatalError("the honest handshake failed, so no fuzz target can run: \(error)")
        }
        fuzzCheck(callerKeys.sas == calleeKeys.sas, "the honest handshake ended with different SAS on each side")
    }

    /// A caller that sends exactly `invite` again (same identity, call ID and entropy seed).
    func makeInitiator(policy: PeerIdentityPolicy = .requireDeviceID) -> CallInitiator {
        // Cannot fail: the same arguments succeeded in the honest run at start-up.
        try! CallInitiator(identity: caller, calleeID: callee.deviceID, securityCode: nil, policy: policy, callID: callID,
                           entropy: DeterministicEntropy(seed: HonestCall.callerEphemeralSeed))
    }

    /// A callee that answers `invite` with exactly `response` (same identity and entropy seed).
    func makeResponder(policy: PeerIdentityPolicy = .requireDeviceID, securityCode: SecurityCode? = nil) -> CallResponder {
        CallResponder(identity: callee, callerID: caller.deviceID, securityCode: securityCode, policy: policy,
                      entropy: DeterministicEntropy(seed: HonestCall.calleeEphemeralSeed))
    }

    /// A copy of `keys` holding its own copies of the traffic secrets. Frame sealers and
    /// openers erase keys as they rekey; handing them copies keeps the shared call intact.
    static func duplicate(_ keys: CallKeys) -> CallKeys {
        CallKeys(role: keys.role, callID: keys.callID, localDeviceID: keys.localDeviceID, peerDeviceID: keys.peerDeviceID,
                 peerIdentityKey: keys.peerIdentityKey, sas: keys.sas, transcriptHash: keys.transcriptHash,
                 signalSend: copy(keys.signalSend), signalReceive: copy(keys.signalReceive),
                 frameSend: copy(keys.frameSend), frameReceive: copy(keys.frameReceive))
    }

    private static func copy(_ secret: SecretBytes) -> SecretBytes {
        // Cannot fail: the shared keys are never erased.
        try! secret.withUnsafeBytes { source in
            SecretBytes(count: source.count) { $0.copyMemory(from: source) }
        }
    }
}

// MARK: libFuzzer hooks

/// Runs the honest handshake and the target's start-up, then records the secrets
/// baseline. With PARLEY_FUZZ_SEED_DIR set, writes the target's seed inputs into
/// that directory and exits instead of fuzzing.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutableRawPointer?, _ argv: UnsafeMutableRawPointer?) -> CInt {
    _ = HonestCall.shared
    fuzzStartUp()
    secretsBaseline = SecretBytes.liveCount
    if let directory = getenv("PARLEY_FUZZ_SEED_DIR") {
        writeSeeds(fuzzSeeds(), into: String(cString: directory))
        exit(0)
    }
    return 0
}
