import Foundation
import ParleySampleKit
import XCTest

/// parley-agent driven as a script drives it: real processes, a real parley-signal over TLS
/// on 127.0.0.1, real libnice on loopback. Timeouts bound the waits; nothing asserts how
/// long anything took.
final class AgentCallTests: AgentTestCase {
    // MARK: Answer policies

    func testAnswerAllEchoesMessagesTakesAFileWithCodesFromEnvironmentAndFileAndErasesKeys() throws {
        try FileManager.default.createDirectory(atPath: scratch.file("inbox"), withIntermediateDirectories: true)
        let bob = try serve("bob", ["--calls", "1", "--no-audio", "--receive-dir", scratch.file("inbox")],
                            environment: ["PARLEY_SECURITY_CODE": "482-915"])
        XCTAssertEqual(bob.events.first?["event"] as? String, "online", "the first stdout line is the online event")
        let bobID = try bob.deviceID()

        // Alice's connection comes from a config file, her code from a file.
        try scratch.write("code.txt", Array("482915\n".utf8))
        try scratch.write("alice.conf", Array("""
            server = \(server.url)
            pin = \(server.pin)
            identity = \(scratch.file("alice.key"))
            ice_address = 127.0.0.1
            code_file = \(scratch.file("code.txt"))
            """.utf8))
        let payload = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
        try scratch.write("my report;1.bin", payload)
        let alice = try run("alice", ["call", bobID, "--config", scratch.file("alice.conf"), "--no-audio",
                                      "--send-message", "hello", "--send-message", "wörld \"quoted\"\n",
                                      "--send", scratch.file("my report;1.bin"), "--expect-messages", "2"])
        XCTAssertEqual(alice.waitForExit(), 0, alice.child.transcript)
        XCTAssertEqual(bob.waitForExit(), 0, bob.child.transcript)

        // Both saw the same SAS; the path is direct on loopback.
        let aliceSAS = try alice.event("sas")["sas"] as? String
        XCTAssertNotNil(aliceSAS)
        XCTAssertEqual(aliceSAS, try bob.event("sas")["sas"] as? String)
        XCTAssertEqual(try alice.event("path")["type"] as? String, "direct")
        XCTAssertEqual(try bob.event("incoming")["peer"] as? String, try alice.deviceID())

        // Bob got the messages; Alice got them back, in order, text exact.
        XCTAssertEqual(bob.events("message").compactMap { $0["text"] as? String }, ["hello", "wörld \"quoted\"\n"])
        XCTAssertEqual(alice.events("message").compactMap { $0["text"] as? String }, ["hello", "wörld \"quoted\"\n"])

        // The file arrived whole, under a sanitized name inside the receive directory.
        let file = try bob.event("file")
        XCTAssertEqual(file["digest_ok"] as? Bool, true)
        XCTAssertEqual(file["size"] as? Int, payload.count)
        XCTAssertEqual(file["name"] as? String, "my_report_1.bin")
        let saved = try XCTUnwrap(file["saved"] as? String)
        XCTAssertEqual(saved, scratch.file("inbox") + "/my_report_1.bin")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: saved)), Data(payload))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch.file("inbox")), ["my_report_1.bin"],
                       "no temporary file is left behind")
        XCTAssertEqual(try alice.event("file_sent")["ok"] as? Bool, true)

        // Stats on both sides, and every key erased when the call ended.
        let stats = try alice.event("stats")
        XCTAssertEqual(stats["messages_sent"] as? Int, 2)
        XCTAssertEqual(stats["messages_received"] as? Int, 2)
        XCTAssertNotNil(stats["setup_ms"] as? Int)
        try assertEndedWithKeysErased(alice, code: 0)
        try assertEndedWithKeysErased(bob, code: 0)
        XCTAssertEqual(alice.events("state").compactMap { $0["state"] as? String }.last, "ended")
        XCTAssertTrue(bob.child.stderr.allSatisfy { !$0.contains("482") }, "the security code is never logged")
    }

    func testAllowlistAnswersListedDevicesAndRejectsOthers() throws {
        let aliceID = try makeIdentity("alice")
        let bob = try serve("bob", ["--answer", "allowlist", "--allow", aliceID, "--calls", "1", "--no-audio"])
        let bobID = try bob.deviceID()

        let mallory = try call("mallory", bobID, ["--no-audio", "--send-message", "let me in"])
        XCTAssertEqual(mallory.waitForExit(), 75, mallory.child.transcript)
        let rejected = try bob.event("rejected")
        XCTAssertEqual(rejected["reason"] as? String, "not_allowed")
        XCTAssertNotNil(try mallory.event("error")["message"] as? String)
        XCTAssertTrue(bob.events("message").isEmpty)
        XCTAssertTrue(bob.child.isRunning, "a rejected call does not count toward --calls")

        let alice = try call("alice", bobID, ["--no-audio", "--send-message", "hi"])
        XCTAssertEqual(alice.waitForExit(), 0, alice.child.transcript)
        XCTAssertEqual(bob.waitForExit(), 0, bob.child.transcript)
        XCTAssertEqual(bob.events("message").compactMap { $0["text"] as? String }, ["hi"])
        try assertEndedWithKeysErased(bob, code: 0)
    }

    func testNeverRejectsEveryCallAndStaysOnline() throws {
        let bob = try serve("bob", ["--answer", "never"])
        let bobID = try bob.deviceID()
        for name in ["alice", "carol"] {
            let caller = try call(name, bobID, ["--no-audio", "--send-message", "hello"])
            XCTAssertEqual(caller.waitForExit(), 75, caller.child.transcript)
            XCTAssertTrue(caller.events("state").allSatisfy { $0["state"] as? String != "connected" })
        }
        _ = try bob.event("rejected") { $0["reason"] as? String == "policy" }
        XCTAssertEqual(bob.events("rejected").count, 2)
        XCTAssertTrue(bob.events("ended").isEmpty, "no call was answered")
        XCTAssertTrue(bob.child.isRunning)
        bob.child.signal(SIGTERM)
        XCTAssertEqual(bob.waitForExit(), 0, "SIGTERM ends serve cleanly")
    }

    func testServeKeepsReconnectingWhenTheServerGoesAwayAndReportsIt() throws {
        let bob = try serve("bob", ["--no-audio"])
        server.stop()
        let first = try bob.event("connection") { $0["state"] as? String == "reconnecting" }
        XCTAssertNotNil(first["reason"] as? String)
        _ = try bob.event("connection") { $0["attempt"] as? Int == 3 }
        XCTAssertTrue(bob.child.isRunning, "serve waits for the server forever")
        _ = try bob.child.line(stderr: true) { $0.contains("reconnecting in") }

        // The server comes back on the same port with the same certificate: Bob is online again.
        let port = server.port
        server = try SignalServerProcess(stateDirectory: scratch.file("server-state"), extraArguments: ["--port", "\(port)"])
        XCTAssertEqual(server.port, port)
        _ = try bob.child.line(within: .seconds(30)) { $0.contains("\"event\":\"online\"") && $0 != bob.child.stdout.first }
        bob.child.signal(SIGTERM)
        XCTAssertEqual(bob.waitForExit(), 0)
    }

    func testABusyAgentRejectsASecondCall() throws {
        let bob = try serve("bob", ["--no-audio", "--calls", "1"])
        let bobID = try bob.deviceID()
        let alice = try call("alice", bobID, ["--no-audio", "--duration", "30"])
        _ = try bob.event("state") { $0["state"] as? String == "connected" }
        // The server knows Bob is in a call and answers busy itself; were the invite to reach
        // Bob, the agent would reject it (reason busy). Either way Carol is not answered.
        let carol = try call("carol", bobID, ["--no-audio"])
        XCTAssertEqual(carol.waitForExit(), 75, carol.child.transcript)
        let carolEnd = try carol.event("ended")
        XCTAssertTrue([5002, 5003].contains(carolEnd["error"] as? Int ?? 0), "\(carolEnd)")
        XCTAssertTrue(bob.events("rejected").allSatisfy { $0["reason"] as? String == "busy" })
        XCTAssertEqual(bob.events("incoming").count, bob.events("rejected").count + 1)
        alice.child.signal(SIGINT)
        XCTAssertEqual(alice.waitForExit(), 0, alice.child.transcript)
        XCTAssertEqual(bob.waitForExit(), 0, bob.child.transcript)
        try assertEndedWithKeysErased(alice, code: 0)
        try assertEndedWithKeysErased(bob, code: 0)
    }

    // MARK: Audio

    func testAToneWAVCrossesTheCallAsOpusAndIsRecordedFaithfully() throws {
        let sent = ToneAnalysis.signal(hertz: 1000, seconds: 3)
        try scratch.write("tone.wav", WAVFile.encode(samples: sent, sampleRate: ToneAnalysis.sampleRate))
        // Bob sends the default tone (440 Hz) back while he records; Alice records it.
        let bob = try serve("bob", ["--calls", "1", "--record", scratch.file("out.wav")])
        let alice = try call("alice", try bob.deviceID(), ["--play", scratch.file("tone.wav"), "--record", scratch.file("back.wav")])
        XCTAssertEqual(alice.waitForExit(), 0, alice.child.transcript)
        XCTAssertEqual(bob.waitForExit(), 0, bob.child.transcript)

        let stats = try alice.event("stats")
        XCTAssertEqual(stats["audio_frames_sent"] as? Int, 150, "3 s in 20 ms frames")
        XCTAssertEqual(try alice.event("media")["audio"] as? String, "opus/48000 pt 111", "Opus was negotiated in SDP")
        let recording = try WAVFile.load(path: scratch.file("out.wav"))
        XCTAssertEqual(recording.sampleRate, 48_000)
        XCTAssertGreaterThan(recording.samples.count, ToneAnalysis.sampleRate * 2, "most of the 3 s arrived")
        XCTAssertEqual(try bob.event("recording")["samples"] as? Int, recording.samples.count, "the header was fixed up on close")

        let match = ToneAnalysis.bestCorrelation(sent: sent, recording: recording.samples)
        XCTAssertGreaterThan(match.correlation, 0.9, "the recording is the sent signal (offset \(match.offset))")
        let atTone = ToneAnalysis.goertzel(recording.samples, hertz: 1000)
        let offTone = ToneAnalysis.goertzel(recording.samples, hertz: 1500)
        XCTAssertGreaterThan(atTone, 100 * offTone, "the energy is at 1 kHz")
        XCTAssertEqual(ToneAnalysis.zeroCrossingsPerSecond(recording.samples), 2000, accuracy: 100)

        // Negative controls: another frequency, or the right one with another loudness pattern, scores low.
        let other = ToneAnalysis.bestCorrelation(sent: ToneAnalysis.signal(hertz: 1500, seconds: 3), recording: recording.samples)
        XCTAssertLessThan(other.correlation, 0.3)
        let reshaped = ToneAnalysis.bestCorrelation(sent: ToneAnalysis.signal(hertz: 1000, seconds: 3, seed: 99),
                                                    recording: recording.samples)
        XCTAssertLessThan(reshaped.correlation, 0.5)

        let back = try WAVFile.load(path: scratch.file("back.wav")).samples
        XCTAssertGreaterThan(back.count, ToneAnalysis.sampleRate, "Bob's tone played while Alice's file did")
        XCTAssertEqual(ToneAnalysis.zeroCrossingsPerSecond(back), 880, accuracy: 40, "the default tone is 440 Hz")
        XCTAssertGreaterThan(ToneAnalysis.goertzel(back, hertz: 440), 100 * ToneAnalysis.goertzel(back, hertz: 1000))
    }

    // MARK: Messages

    func testPipeModeSendsEachMessageThroughTheCommandAndItsLinesBack() throws {
        let command = #"while IFS= read -r line; do printf 'got %s\n' "$line"; done"#
        let bob = try serve("bob", ["--calls", "1", "--no-audio", "--messages", "pipe", "--pipe", command])
        let alice = try call("alice", try bob.deviceID(), ["--no-audio", "--send-message", "one", "--send-message", "two words",
                                                            "--expect-messages", "2"])
        XCTAssertEqual(alice.waitForExit(), 0, alice.child.transcript)
        XCTAssertEqual(bob.waitForExit(), 0, bob.child.transcript)
        XCTAssertEqual(alice.events("message").compactMap { $0["text"] as? String }, ["got one", "got two words"])
        XCTAssertEqual(bob.events("message").compactMap { $0["text"] as? String }, ["one", "two words"])
    }

    func testTheExampleConfigFileIsAcceptedAndFlagsOverrideIt() throws {
        // Flags replace what points outside the scratch directory; every other key is the example's.
        let example = SampleLayout.root + "/Samples/CallAgent/parley-agent.conf.example"
        try FileManager.default.createDirectory(atPath: scratch.file("inbox"), withIntermediateDirectories: true)
        let bob = try serve("bob", ["--config", example, "--code", "1234", "--receive-dir", scratch.file("inbox"),
                                    "--record", scratch.file("bob.wav")])
        XCTAssertTrue(bob.child.isRunning)
        XCTAssertEqual(try bob.event("online")["realm"] as? String, "home", "the realm comes from the file")
    }

    // MARK: Exit codes

    func testCodeMismatchExits77OnBothSidesAndErasesKeys() throws {
        let bob = try serve("bob", ["--calls", "1", "--no-audio", "--code", "111111"])
        let alice = try call("alice", try bob.deviceID(), ["--no-audio", "--send-message", "secret"],
                             environment: ["PARLEY_SECURITY_CODE": "222222"])
        XCTAssertEqual(alice.waitForExit(), 77, alice.child.transcript)
        XCTAssertEqual(bob.waitForExit(), 77, bob.child.transcript)
        try assertEndedWithKeysErased(alice, code: 77)
        try assertEndedWithKeysErased(bob, code: 77)
        XCTAssertTrue(bob.events("message").isEmpty)
        XCTAssertTrue(alice.events("sas").isEmpty, "no SAS without confirmed keys")
        for agent in [alice, bob] {
            XCTAssertTrue(agent.child.stderr.allSatisfy { !$0.contains("111111") && !$0.contains("222222") }, agent.child.transcript)
            XCTAssertTrue(agent.child.stdout.allSatisfy { !$0.contains("111111") && !$0.contains("222222") })
        }
    }

    func testAnUnreachableServerExits69WithOneErrorLine() throws {
        // A port nothing listens on: the server was started and stopped for this.
        let url = server.url
        server.stop()
        let alice = try run("alice", ["call", try makeIdentity("ghost"), "--server", url, "--pin", server.pin,
                                      "--identity", scratch.file("alice.key"), "--ice-address", "127.0.0.1", "--connect-timeout", "2"])
        XCTAssertEqual(alice.waitForExit(), 69, alice.child.transcript)
        let error = try alice.event("error")
        XCTAssertEqual(error["code"] as? Int, 69)
        XCTAssertTrue((error["message"] as? String ?? "").contains("unreachable"))
        XCTAssertEqual(alice.child.stderr.filter { $0.contains("error:") }.count, 1, alice.child.transcript)
        XCTAssertTrue(alice.child.stderr.allSatisfy { !$0.contains("Fatal error") && !$0.contains("Backtrace") })
    }

    func testUsageConfigurationAndInputErrorsHaveTheirOwnExitCodes() throws {
        let id = try makeIdentity("peer")
        let usage = try run("usage", ["call", id, "--no-such-flag"])
        XCTAssertEqual(usage.waitForExit(), 64)
        let notAnID = try run("usage-id", ["call", "not-a-device"])
        XCTAssertEqual(notAnID.waitForExit(), 64)
        let noServer = try run("config", ["call", id, "--identity", scratch.file("x.key")])
        XCTAssertEqual(noServer.waitForExit(), 78)
        XCTAssertTrue((try noServer.event("error")["message"] as? String ?? "").contains("--server"))
        let missingConfig = try run("config-missing", ["serve", "--config", scratch.file("missing.conf")])
        XCTAssertEqual(missingConfig.waitForExit(), 66)
        try scratch.write("bad.conf", Array("colour = blue\n".utf8))
        let badConfig = try run("config-key", ["serve", "--config", scratch.file("bad.conf")])
        XCTAssertEqual(badConfig.waitForExit(), 78)
        try scratch.write("broken.wav", Array("RIFF....WAVEfmt ".utf8))
        let badWAV = try run("wav", ["call", id] + connection("wav") + ["--play", scratch.file("broken.wav")])
        XCTAssertEqual(badWAV.waitForExit(), 66)
        XCTAssertTrue((try badWAV.event("error")["message"] as? String ?? "").contains("broken.wav"))
        let noFile = try run("send", ["call", id] + connection("send") + ["--send", scratch.file("missing.bin")])
        XCTAssertEqual(noFile.waitForExit(), 66)
        let noDirectory = try run("inbox", ["serve"] + connection("inbox") + ["--receive-dir", scratch.file("missing-dir")])
        XCTAssertEqual(noDirectory.waitForExit(), 74)
        let allowlist = try run("allow", ["serve", "--answer", "allowlist"] + connection("allow"))
        XCTAssertEqual(allowlist.waitForExit(), 78)
        let badAllow = try run("allow-bad", ["serve", "--answer", "allowlist", "--allow", "nobody"] + connection("allow-bad"))
        XCTAssertEqual(badAllow.waitForExit(), 78)
        for agent in [noServer, badWAV, noFile, noDirectory, allowlist, badAllow] {
            XCTAssertEqual(agent.child.stderr.filter { $0.hasPrefix("parley-agent: error: ") }.count, 1, agent.child.transcript)
            XCTAssertEqual(agent.events("error").count, 1, agent.child.transcript)
        }
    }
}
