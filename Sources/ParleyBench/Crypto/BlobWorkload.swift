import ParleyCrypto

/// Sealed blobs (SDP offers and answers, ICE candidates) of 1 KiB: sealing, opening,
/// or both, with `SealedBlobSealer`/`SealedBlobOpener` from a completed handshake.
final class BlobWorkload: Workload {
    enum Step: String {
        case seal, open
        case sealAndOpen = "seal+open"
    }

    static let contentCount = 1024
    /// The kind byte is opaque to the crypto core; any value serves.
    static let kind: UInt8 = 1

    let name: String
    let batchSize = 16
    let payloadBytes: Int? = BlobWorkload.contentCount
    let displayUnit = DisplayUnit.nanoseconds
    private let step: Step
    private let sealer: SealedBlobSealer
    private let opener: SealedBlobOpener
    private let content = BlobWorkload.sdpLikeContent()
    private var wires: [[UInt8]]

    /// - Parameter call: both sides of a completed handshake: the caller seals, the callee opens.
    init(_ step: Step, call: (caller: CallKeys, callee: CallKeys)) {
        name = "sealed blob \(step.rawValue) 1 KiB"
        self.step = step
        sealer = call.caller.blobSealer
        opener = call.callee.blobOpener
        wires = [[UInt8]](repeating: [], count: batchSize)
    }

    deinit {
        sealer.erase()
        opener.erase()
    }

    func measure(_ count: Int) throws -> Duration {
        let clock = ContinuousClock()
        if step == .open { try seal(count) }
        let start = clock.now
        if step != .open { try seal(count) }
        let contentTotal = step == .seal ? count * BlobWorkload.contentCount : try open(count)
        let elapsed = start.duration(to: clock.now)
        guard contentTotal == count * BlobWorkload.contentCount else {
            throw BenchmarkError(workload: name, problem: "opened \(contentTotal) content bytes from \(count) blobs")
        }
        return elapsed
    }

    private func seal(_ count: Int) throws {
        for index in 0..<count { wires[index] = try sealer.seal(kind: BlobWorkload.kind, content: content) }
    }

    private func open(_ count: Int) throws -> Int {
        var total = 0
        for index in 0..<count { total += try opener.open(wires[index]).content.count }
        return total
    }

    /// 1 KiB of text shaped like an SDP offer: CRLF-terminated attribute lines.
    static func sdpLikeContent() -> [UInt8] {
        let head = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
            + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\n"
            + "a=fmtp:111 minptime=10;useinbandfec=1\r\na=ice-ufrag:8hhY\r\na=ice-pwd:asd88fgpdd777uzjYhagZg\r\n"
        var text = Array(head.utf8)
        var port = 50_000
        while text.count < contentCount {
            text += Array("a=candidate:1 1 udp 2122260223 192.168.1.23 \(port) typ host generation 0\r\n".utf8)
            port += 1
        }
        return Array(text.prefix(contentCount))
    }
}
