import ParleyCrypto
import ParleyProtocol
import SignallingServer
import XCTest

/// The server relays a real call end to end: the four handshake messages, then sealed
/// blobs both ways, byte for byte and in order (PROTOCOL.md, "Calls": "Payloads are
/// relayed byte for byte"; "in the order received").
final class SealedRelayOverTLSTests: ServerTestCase {
    static let blobsPerDirection = 200

    func testRealHandshakeWithASecurityCodeThenTwoHundredSealedBlobsEachWayArriveInOrder() throws {
        // 200 blobs plus the handshake exceed the default burst of 200 messages per
        // connection; this test is about relaying, not rate limits (BadInputTests covers those).
        let fixture = try startServer { options in
            options.core.messagesPerSecond = 10_000
            options.core.messageBurst = 10_000
        }
        let caller = try logIn(fixture)
        let callee = try logIn(fixture)
        try caller.socket.expect(.presenceUpdate(device: callee.id, online: true))

        let call = try RelayedCall.run(caller: caller, callee: callee, callerCode: "Blue-Fox 42", calleeCode: "bluefox42")
        defer { call.erase() }
        XCTAssertEqual(call.callerKeys.sas, call.calleeKeys.sas)
        XCTAssertEqual(call.callerKeys.peerDeviceID, callee.id)
        XCTAssertEqual(call.calleeKeys.peerDeviceID, caller.id)
        XCTAssertEqual(call.handshakeMessages.map(\.count), [148, 148, 65, 33])

        // Contents of varied sizes (several padding buckets), each tagged with its index.
        func content(_ direction: UInt8, _ index: Int) -> [UInt8] {
            [direction, UInt8(index >> 8), UInt8(index & 0xff)] + randomBytes((index * 37) % 1500)
        }
        var sentByCaller: [[UInt8]] = [], sentByCallee: [[UInt8]] = []
        for index in 0..<Self.blobsPerDirection {
            let fromCaller = content(1, index), fromCallee = content(2, index)
            sentByCaller.append(fromCaller)
            sentByCallee.append(fromCallee)
            try caller.socket.send(.signal(callID: call.callID, payload: try call.callerKeys.blobSealer.seal(kind: 1, content: fromCaller)))
            try callee.socket.send(.signal(callID: call.callID, payload: try call.calleeKeys.blobSealer.seal(kind: 2, content: fromCallee)))
        }

        for index in 0..<Self.blobsPerDirection {
            guard case let .signal(callID, wire) = try callee.socket.nextMessage() else { return XCTFail("blob \(index) to the callee") }
            XCTAssertEqual(callID, call.callID)
            let blob = try call.calleeKeys.blobOpener.open(wire)
            XCTAssertEqual(blob.sequence, UInt64(index), "in order")
            XCTAssertEqual(blob.kind, 1)
            XCTAssertEqual(blob.content, sentByCaller[index])
        }
        for index in 0..<Self.blobsPerDirection {
            guard case let .signal(callID, wire) = try caller.socket.nextMessage() else { return XCTFail("blob \(index) to the caller") }
            XCTAssertEqual(callID, call.callID)
            let blob = try call.callerKeys.blobOpener.open(wire)
            XCTAssertEqual(blob.sequence, UInt64(index), "in order")
            XCTAssertEqual(blob.kind, 2)
            XCTAssertEqual(blob.content, sentByCallee[index])
        }
        try caller.socket.expectNothingElseThenPong()
        try callee.socket.expectNothingElseThenPong()
        XCTAssertEqual(fixture.server.metricsSnapshot().statistics.relayedByType["signal"], 2 + 2 * Self.blobsPerDirection)
    }

    func testLargestSealedBlobIsRelayedIntact() throws {
        let fixture = try startServer()
        let caller = try logIn(fixture)
        let callee = try logIn(fixture)
        try caller.socket.expect(.presenceUpdate(device: callee.id, online: true))
        let call = try RelayedCall.run(caller: caller, callee: callee, callerCode: nil, calleeCode: nil)
        defer { call.erase() }

        let content = randomBytes(SpecConstants.blobMaxContent)
        let wire = try call.callerKeys.blobSealer.seal(kind: 1, content: content)
        XCTAssertEqual(wire.count, SealedBlob.maxWireCount)
        XCTAssertEqual(try SignalCodec.encode(.signal(callID: call.callID, payload: wire)).count, SignalLimits.maxMessageBytes)
        try caller.socket.send(.signal(callID: call.callID, payload: wire))
        guard case let .signal(_, relayed) = try callee.socket.nextMessage() else { return XCTFail("no blob") }
        XCTAssertEqual(relayed, wire, "byte for byte")
        XCTAssertEqual(try call.calleeKeys.blobOpener.open(relayed).content, content)
    }
}
