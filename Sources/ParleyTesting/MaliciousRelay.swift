import ParleyCrypto
import ParleyProtocol

/// A hostile signalling server, scripted: installed as the `InMemoryRelay`'s
/// interceptor, it changes what devices receive. Each behaviour targets the sealed
/// blobs delivered to one device (counted from 0 in delivery order), or the
/// handshake itself:
///
/// - `drop`, `replay`, `reorder`, `corrupt`, `inject`: what a relay can do to sealed
///   SDP and candidates without any key;
/// - `stripCodeFlag`: clears the "code set" flag of invites (a downgrade attempt);
/// - `substituteKeys`: a relay in the middle that runs the handshake itself with each
///   side, with an identity of its own and a guess of the security code, and, when
///   both sides' keys are its own, re-seals every blob so the call can go on.
///
/// `delivered` records every message actually handed to a device.
public final class MaliciousRelay {
    public enum Behaviour {
        case drop(to: DeviceID, blobs: Set<Int>)
        /// Every sealed blob to the device is delivered twice, and all of them again at the end of each batch.
        case replay(to: DeviceID)
        /// Consecutive pairs of sealed blobs to the device are swapped.
        case reorder(to: DeviceID)
        /// One bit of these blobs is flipped.
        case corrupt(to: DeviceID, blobs: Set<Int>)
        /// After each sealed blob to the device, a forged one (right layout, random body) follows.
        case inject(to: DeviceID)
        case stripCodeFlag
        case substituteKeys(guessedCode: String?)
    }

    public private(set) var delivered: [RelayedMessage] = []
    /// Keys the relay obtained by substitution (towards the caller, towards the callee).
    public private(set) var stolenKeys: [CallKeys] = []
    private let behaviours: [Behaviour]
    private var blobCounts: [DeviceID: Int] = [:]
    private var heldForReorder: [DeviceID: RelayedMessage] = [:]
    private var seenBlobs: [DeviceID: [RelayedMessage]] = [:]
    private var middle: [CallID: Middle] = [:]
    private var random = Xoshiro256StarStar(seed: 0x5eed)
    private let relayIdentity = DeviceIdentity()

    /// The code the substituting relay guesses (parsed once, erased by `erase()`).
    private let guessedCode: SecurityCode?

    public init(_ behaviours: [Behaviour], on relay: InMemoryRelay) {
        self.behaviours = behaviours
        var guess: String?
        for case let .substituteKeys(guessed) in behaviours { guess = guessed }
        guessedCode = try? SecurityCode.parse(guess)
        relay.interceptor = { self.intercept($0) }  // the relay keeps its interceptor alive
    }

    /// Erases every key and handshake secret the relay holds.
    public func erase() {
        stolenKeys.forEach { $0.erase() }
        for state in middle.values { state.erase() }
        middle = [:]
        relayIdentity.erase()
        guessedCode?.erase()
    }

    private func intercept(_ message: RelayedMessage) -> [RelayedMessage] {
        var out = [message]
        for behaviour in behaviours {
            out = out.flatMap { apply(behaviour, to: $0) }
        }
        delivered += out
        return out
    }

    private func isSealedBlob(_ message: RelayedMessage) -> Bool {
        if case let .signal(_, payload) = message.message, payload.first == CallSpec.PayloadType.sealedBlob { return true }
        return false
    }

    private func apply(_ behaviour: Behaviour, to message: RelayedMessage) -> [RelayedMessage] {
        switch behaviour {
        case let .drop(target, blobs):
            guard message.to == target, isSealedBlob(message) else { return [message] }
            return blobs.contains(nextIndex(target, "drop")) ? [] : [message]
        case let .replay(target):
            guard message.to == target, isSealedBlob(message) else { return [message] }
            seenBlobs[target, default: []].append(message)
            return [message, message] + seenBlobs[target, default: []]
        case let .reorder(target):
            guard message.to == target else { return [message] }
            guard isSealedBlob(message) else {
                // Anything else releases a held blob, so nothing is held forever.
                if let held = heldForReorder.removeValue(forKey: target) { return [message, held] }
                return [message]
            }
            if let held = heldForReorder.removeValue(forKey: target) { return [message, held] }
            heldForReorder[target] = message
            return []
        case let .corrupt(target, blobs):
            guard message.to == target, isSealedBlob(message), case let .signal(id, payload) = message.message else { return [message] }
            guard blobs.contains(nextIndex(target, "corrupt")) else { return [message] }
            var flipped = payload
            flipped[flipped.count / 2] ^= 0x10
            return [RelayedMessage(to: target, message: .signal(callID: id, payload: flipped))]
        case let .inject(target):
            guard message.to == target, isSealedBlob(message), case let .signal(id, payload) = message.message else { return [message] }
            // The next sequence number (so the replay window lets it through to
            // authentication), a random body.
            var forged = payload
            var sequence = forged[1..<9].reduce(UInt64(0)) { $0 << 8 | UInt64($1) } + 1
            for index in stride(from: 8, through: 1, by: -1) {
                forged[index] = UInt8(truncatingIfNeeded: sequence)
                sequence >>= 8
            }
            for index in 9..<forged.count { forged[index] = UInt8(truncatingIfNeeded: random.next()) }
            return [message, RelayedMessage(to: target, message: .signal(callID: id, payload: forged))]
        case .stripCodeFlag:
            guard case let .incomingCall(caller, id, payload) = message.message, payload.count > 35 else { return [message] }
            var stripped = payload
            stripped[35] &= ~HandshakeAssociatedData.flagCodeSet  // type(1) commitment(32) version role flags
            return [RelayedMessage(to: message.to, message: .incomingCall(caller: caller, callID: id, payload: stripped))]
        case .substituteKeys:
            return substitute(message)
        }
    }

    private var indexCounters: [String: Int] = [:]
    private func nextIndex(_ device: DeviceID, _ behaviour: String) -> Int {
        let key = behaviour + device.description
        let index = indexCounters[key, default: 0]
        indexCounters[key] = index + 1
        return index
    }

    // MARK: The relay in the middle

    private final class Middle {
        let caller: DeviceID
        let callee: DeviceID
        let callerInvite: [UInt8]
        let towardsCaller: CallResponder
        let towardsCallee: CallInitiator
        var pendingConfirmToCallee: [UInt8]?
        var pendingFinishToCaller: [UInt8]?
        var callerKeys: CallKeys?
        var calleeKeys: CallKeys?

        init(caller: DeviceID, callee: DeviceID, callerInvite: [UInt8], towardsCaller: CallResponder, towardsCallee: CallInitiator) {
            self.caller = caller
            self.callee = callee
            self.callerInvite = callerInvite
            self.towardsCaller = towardsCaller
            self.towardsCallee = towardsCallee
        }

        func erase() {
            towardsCaller.erase()
            towardsCallee.erase()
            callerKeys?.erase()
            calleeKeys?.erase()
        }
    }

    private func substitute(_ message: RelayedMessage) -> [RelayedMessage] {
        let code = guessedCode
        switch message.message {
        case let .incomingCall(caller, id, payload):
            // Posing as the callee towards the caller; calling the callee itself.
            let towardsCaller = CallResponder(identity: relayIdentity, callerID: caller, securityCode: code,
                                              policy: .acceptAnyIdentity, entropy: SystemEntropy.shared, posingAs: message.to)
            guard let towardsCallee = try? CallInitiator(identity: relayIdentity, calleeID: message.to, securityCode: code,
                                                         policy: .acceptAnyIdentity, callID: id.bytes, entropy: SystemEntropy.shared)
            else { return [message] }
            middle[id] = Middle(caller: caller, callee: message.to, callerInvite: payload, towardsCaller: towardsCaller,
                                towardsCallee: towardsCallee)
            return [RelayedMessage(to: message.to, message: .incomingCall(caller: caller, callID: id, payload: towardsCallee.inviteMessage))]
        case let .accept(id, payload):
            guard let state = middle[id], message.to == state.caller,
                  let confirm = try? state.towardsCallee.consumeResponse(payload),
                  let response = try? state.towardsCaller.consumeInvite(state.callerInvite) else { return [message] }
            state.pendingConfirmToCallee = confirm
            return [RelayedMessage(to: state.caller, message: .accept(callID: id, payload: response))]
        case let .signal(id, payload):
            guard let state = middle[id] else { return [message] }
            switch payload.first {
            case CallSpec.PayloadType.confirm where message.to == state.callee:
                if let (finish, keys) = try? state.towardsCaller.consumeConfirm(payload) {
                    state.pendingFinishToCaller = finish
                    state.callerKeys = keys
                    stolenKeys.append(keys)
                }
                guard let confirm = state.pendingConfirmToCallee else { return [] }
                return [RelayedMessage(to: state.callee, message: .signal(callID: id, payload: confirm))]
            case CallSpec.PayloadType.finish where message.to == state.caller:
                if let keys = try? state.towardsCallee.consumeFinish(payload) {
                    state.calleeKeys = keys
                    stolenKeys.append(keys)
                }
                guard let finish = state.pendingFinishToCaller else { return [] }
                return [RelayedMessage(to: state.caller, message: .signal(callID: id, payload: finish))]
            case CallSpec.PayloadType.sealedBlob:
                // Re-seal from one side's keys to the other's.
                let (from, to) = message.to == state.callee ? (state.callerKeys, state.calleeKeys) : (state.calleeKeys, state.callerKeys)
                guard let from, let to, let blob = try? from.blobOpener.open(payload),
                      let resealed = try? to.blobSealer.seal(kind: blob.kind, content: blob.content) else { return [message] }
                return [RelayedMessage(to: message.to, message: .signal(callID: id, payload: resealed))]
            default:
                return [message]
            }
        default:
            return [message]
        }
    }
}
