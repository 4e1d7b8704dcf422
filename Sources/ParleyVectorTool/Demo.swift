import ParleyCrypto

#if canImport(Glibc)
import Glibc
#endif

/// `parley-vectors --demo [--mismatch]`: two devices in one process run a complete
/// call handshake, exchange a sealed SDP blob and sealed frames both ways, hang up,
/// and show that every key of the call is gone. With `--mismatch` the two sides
/// enter different security codes and the demo shows the failure instead.
/// Exit status 0 when everything behaved as the protocol says, 1 otherwise.
enum Demo {
    static func run(mismatch: Bool) -> Int32 {
        let before = SecretBytes.liveCount
        let alice = DeviceIdentity(), bob = DeviceIdentity()
        defer { alice.erase(); bob.erase() }
        print("Parley crypto demo: two devices, one call, in this process")
        print("  alice  \(alice.deviceID.printable)  (\(alice.deviceID.fingerprint))")
        print("  bob    \(bob.deviceID.printable)  (\(bob.deviceID.fingerprint))")
        let aliceCode = "482 913", bobCode = mismatch ? "482 914" : "482-913"
        print("  security code: alice typed \"\(aliceCode)\", bob typed \"\(bobCode)\"")
        do {
            let callerCode = try SecurityCode.parse(aliceCode), calleeCode = try SecurityCode.parse(bobCode)
            defer { callerCode?.erase(); calleeCode?.erase() }
            let caller = try CallInitiator(identity: alice, calleeID: bob.deviceID, securityCode: callerCode)
            let callee = CallResponder(identity: bob, callerID: alice.deviceID, securityCode: calleeCode)
            defer { caller.erase(); callee.erase() }
            let invite = caller.inviteMessage
            let response = try callee.consumeInvite(invite)
            let confirm = try caller.consumeResponse(response)
            print("  handshake: invite \(invite.count) B -> response \(response.count) B -> confirm \(confirm.count) B", terminator: "")
            let (finish, bobKeys) = try callee.consumeConfirm(confirm)
            let aliceKeys = try caller.consumeFinish(finish)
            print(" -> finish \(finish.count) B")
            callerCode?.erase(); calleeCode?.erase()  // the codes are not needed once the keys exist
            defer { aliceKeys.erase(); bobKeys.erase() }
            guard !mismatch else {
                print("FAIL: different codes produced keys")
                return 1
            }
            print("  SAS  alice: \(aliceKeys.sas)   bob: \(bobKeys.sas)   \(aliceKeys.sas == bobKeys.sas ? "match" : "DIFFER")")

            let offer = Array("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=parley\r\nt=0 0\r\nm=audio 9 UDP 111\r\n".utf8)
            let blob = try aliceKeys.blobSealer.seal(kind: 1, content: offer)
            let opened = try bobKeys.blobOpener.open(blob)
            print("  sealed SDP offer: \(offer.count) B of SDP -> \(blob.count) B on the wire (padded), opened by bob: \(opened.content == offer)")

            let start = Timestamp.zero
            let aliceFrames = aliceKeys.frameSealer, bobFrames = bobKeys.frameOpener
            let bobReplies = bobKeys.frameSealer, aliceInbox = aliceKeys.frameOpener
            defer { aliceFrames.erase(); bobFrames.erase(); bobReplies.erase(); aliceInbox.erase() }
            var delivered = (toBob: 0, toAlice: 0, bytes: 0)
            for index in 0..<250 {
                let now = start + .milliseconds(20 * index) + .seconds(index >= 125 ? 120 : 0)  // a rekey half way
                let audio = [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: 160)
                let packet = try aliceFrames.seal(type: 1, payload: audio, now: now)
                if try bobFrames.open(packet, now: now).payload == audio { delivered.toBob += 1 }
                let reply = try bobReplies.seal(type: 3, payload: Array("ack \(index)".utf8), now: now)
                if try aliceInbox.open(reply, now: now).header.type == 3 { delivered.toAlice += 1 }
                delivered.bytes += packet.count + reply.count
            }
            print("  frames: \(delivered.toBob) audio to bob, \(delivered.toAlice) messages to alice, \(delivered.bytes) B sealed, "
                  + "24 B overhead each; keys rotated \(aliceFrames.epoch) time(s)")

            let during = SecretBytes.liveCount
            aliceKeys.erase(); bobKeys.erase()
            aliceFrames.erase(); bobFrames.erase(); bobReplies.erase(); aliceInbox.erase()
            let erased = (try? bobFrames.open(try aliceFrames.seal(type: 1, payload: [0], now: start), now: start)) == nil
            alice.erase(); bob.erase()
            let after = SecretBytes.liveCount
            print("  hang-up: live secrets \(during) during the call -> \(after) after (before the call: \(before)); "
                  + "erased keys refuse to work: \(erased)")
            let ok = aliceKeys.sas == bobKeys.sas && opened.content == offer && delivered.toBob == 250 && delivered.toAlice == 250
                && after == before && erased
            print(ok ? "OK" : "FAIL")
            return ok ? 0 : 1
        } catch CryptoError.securityCodeMismatch where mismatch {
            print("  -> \(CryptoError.securityCodeMismatch) (error \(CryptoError.securityCodeMismatch.code))")
            print("OK: the mismatch was detected and no keys were handed out")
            return 0
        } catch {
            print("FAIL: \(error)")
            return 1
        }
    }
}
