import CParleyShims
import CWebSockets
import ParleyLWS
import Glibc
import ParleyProtocol

/// One connection attempt of a client, as the core sees it: host resolution, an lws client
/// socket per resolved address until one reaches TLS, certificate verification, message
/// reassembly and writes. Only the loop thread touches it. Each lws socket (wsi) of the
/// attempt holds a +1 reference (its opaque user data) from `lws_client_connect_via_info`
/// to `LWS_CALLBACK_WSI_DESTROY`.
///
/// The client detaches it (`client = nil`) when its core has moved on; from then on the
/// transport only finishes closing and reports nothing.
///
/// `@unchecked Sendable`: a resolver worker holds it only to post it back to the loop thread.
final class SignallingTransport: @unchecked Sendable {
    enum Stage {
        case resolving
        case connecting
        case established
        case finished
    }

    private(set) var client: SignallingClient?
    let loop: SignallingLoop
    let url: SignallingURL
    let trust: ServerTrust
    /// The local address to bind to, if any.
    private let localAddress: String?
    private(set) var stage = Stage.resolving
    /// The current socket; callbacks of earlier sockets of this attempt (other addresses)
    /// are ignored except for releasing their reference.
    private var wsi: OpaquePointer?
    /// Addresses of the host, tried in order while a connection fails before TLS.
    private var addresses: [String] = []
    private var nextAddress = 0
    /// Set while `lws_client_connect_via_info` runs: lws may destroy the new socket inside it.
    private var connectInFlight = false
    private var destroyedDuringConnect = false

    /// The current socket got as far as the server's certificate.
    private var sawCertificate = false
    /// SHA-256 of the server's leaf certificate, recorded at verification depth 0.
    private var leafSHA256: [UInt8]?
    /// Pinned mode: the leaf matched the pin.
    private var pinMatched = false
    /// Why certificate verification refused the server, for the connection error.
    private var verificationFailure: SignallingClientError?

    /// The message being reassembled from WebSocket fragments and lws receive chunks.
    private var receiving: [UInt8] = []
    private var receivingBinary = true
    /// Set by `close`: the close frame to send from the next WRITEABLE.
    private var pendingClose: WebSocketClose?
    /// The close frame the server sent, if any.
    private var peerClose: (code: UInt16, reason: String)?

    /// Seconds a closing connection may take to send its close frame before it is cut.
    static let closeFlushSeconds: Int32 = 3
    /// A reassembly buffer grown past this is released after its message.
    static let keptReceiveCapacity = 4096

    init(client: SignallingClient, loop: SignallingLoop, url: SignallingURL, trust: ServerTrust, localAddress: String? = nil) {
        self.localAddress = localAddress
        self.client = client
        self.loop = loop
        self.url = url
        self.trust = trust
    }

    // MARK: Opening

    /// Resolves the host off the loop thread (lws 4.1.6 as packaged resolves synchronously,
    /// which would stall every client of the loop), then connects.
    func open() {
        if HostResolver.isNumericAddress(url.host) {
            addresses = [url.host]
            return connectNext()
        }
        let loop = self.loop
        HostResolver.resolve(url.host) { [self] result in
            loop.post { [self] in
                guard stage == .resolving, client != nil else { return }
                switch result {
                case let .success(resolved):
                    addresses = resolved
                    connectNext()
                case let .failure(error):
                    fail(error)
                }
            }
        }
    }

    private func connectNext() {
        guard nextAddress < addresses.count else {
            return fail(SignallingClientError(.serverUnreachable, "no address of \(url.host) accepted a connection"))
        }
        let address = addresses[nextAddress]
        nextAddress += 1
        connect(address: address)
    }

    private func connect(address: String) {
        stage = .connecting
        wsi = nil
        sawCertificate = false
        leafSHA256 = nil
        pinMatched = false
        verificationFailure = nil
        var vhost: OpaquePointer?
        var serverName = url.host
        if case let .certificateAuthority(caFilePath, name) = trust {
            guard access(caFilePath, R_OK) == 0 else {
                return fail(SignallingClientError(.certificateInvalid, "cannot read the CA file '\(caFilePath)': \(String(cString: strerror(errno)))"))
            }
            guard let caVhost = loop.vhost(forCertificateAuthority: caFilePath) else {
                return fail(SignallingClientError(.transportSetupFailed, "libwebsockets could not load the CA file '\(caFilePath)'"))
            }
            vhost = caVhost
            serverName = name ?? url.host
        }
        let strings = CStrings([address, url.path, serverName, SignallingLoop.subprotocol, "http/1.1", localAddress ?? ""])
        var info = lws_client_connect_info()
        info.context = loop.context
        info.address = strings[0]
        info.port = Int32(url.port)
        // TLS, and nothing else: LCCSCF_ALLOW_SELFSIGNED would accept before the pin check.
        info.ssl_connection = Int32(LCCSCF_USE_SSL.rawValue)
        info.path = strings[1]
        // Host header, SNI and (with a CA) the name check; lws strips a ":port".
        info.host = strings[2]
        info.origin = nil
        info.protocol = strings[3]
        info.alpn = strings[4]
        info.vhost = vhost
        // Bind the socket to this local address (lws: an interface name or IP).
        if localAddress != nil { info.iface = strings[5] }
        info.opaque_user_data = Unmanaged.passRetained(self).toOpaque()
        loop.liveTransports += 1
        connectInFlight = true
        destroyedDuringConnect = false
        let created = withExtendedLifetime(strings) { lws_client_connect_via_info(&info) }
        connectInFlight = false
        guard let created else {
            // A NULL return reports the failure, with or without a WSI_DESTROY (which
            // released the reference); release it here if lws did not.
            if !destroyedDuringConnect { releaseReference() }
            return failOrTryNext(SignallingClientError(.serverUnreachable, "cannot start a connection to \(address) port \(url.port)"))
        }
        if stage == .connecting { wsi = created }
    }

    /// A socket failed: before TLS got to the certificate another address may work.
    private func failOrTryNext(_ error: SignallingClientError) {
        guard client != nil else { return }
        guard !sawCertificate, nextAddress < addresses.count else { return fail(error) }
        // Connect from the inbox, not from inside the failing socket's callback.
        loop.post { [self] in
            guard stage == .connecting, wsi == nil, client != nil else { return }
            connectNext()
        }
    }

    // MARK: Closing

    /// The core is done with this connection: send `close` (once established) and cut
    /// the socket after `closeFlushSeconds` at the latest. Reports nothing afterwards.
    func close(_ close: WebSocketClose) {
        client = nil
        switch stage {
        case .resolving:
            stage = .finished
        case .connecting:
            stage = .finished
            if let wsi { lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC) }
        case .established:
            guard let wsi, pendingClose == nil else { return }
            pendingClose = close
            lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, SignallingTransport.closeFlushSeconds)
            lws_callback_on_writable(wsi)
        case .finished:
            break
        }
    }

    /// Messages are queued in the core: write them when the socket can take them.
    func requestWrite() {
        guard stage == .established, pendingClose == nil, let wsi else { return }
        lws_callback_on_writable(wsi)
    }

    /// The connection could not be made: tell the client (once) and stop.
    private func fail(_ error: SignallingClientError) {
        stage = .finished
        guard let client else { return }
        self.client = nil
        client.transportEnded(self, .transportFailed(error))
    }

    private func releaseReference() {
        loop.liveTransports -= 1
        Unmanaged.passUnretained(self).release()
    }

    private func isCurrent(_ socket: OpaquePointer) -> Bool { wsi == socket }

    // MARK: lws callbacks (loop thread)

    /// LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION, once per certificate of the
    /// chain and per problem found. Returns the callback's result: 0 accepts, 1 refuses.
    func verifyCertificate(storeContext: UnsafeMutableRawPointer?, preverifyOK: Bool) -> Int32 {
        sawCertificate = true
        var digest = [UInt8](repeating: 0, count: SignallingClientConfiguration.pinCount)
        let depth = CParleyShims_verify_leaf_sha256(storeContext, &digest)
        switch trust {
        case let .pinned(pin):
            guard depth >= 0 else {
                verificationFailure = SignallingClientError(.certificateInvalid, "cannot read the server's certificate")
                CParleyShims_verify_set_result(storeContext, 0)
                return 1
            }
            // Issuers of a pinned certificate play no part: the leaf check alone decides.
            guard depth == 0 else {
                CParleyShims_verify_set_result(storeContext, 1)
                return 0
            }
            leafSHA256 = digest
            guard digest == pin else {
                pinMatched = false
                verificationFailure = .tlsPinMismatch(expected: pin, got: digest)
                CParleyShims_verify_set_result(storeContext, 0)
                return 1
            }
            pinMatched = true
            CParleyShims_verify_set_result(storeContext, 1)
            return 0
        case .certificateAuthority:
            if depth == 0 { leafSHA256 = digest }
            if !preverifyOK {
                // OpenSSL's verdict stands (lws refuses); remember where it failed.
                verificationFailure = SignallingClientError(
                    .certificateInvalid, "the server's certificate did not verify against the CA file (chain depth \(depth))")
            }
            return 0
        }
    }

    /// LWS_CALLBACK_CLIENT_ESTABLISHED. Returns nonzero to close at once.
    func established(_ socket: OpaquePointer) -> Int32 {
        guard wsi == nil || isCurrent(socket), stage == .connecting else { return -1 }
        wsi = socket
        stage = .established
        guard let client else { return 0 }
        let verified: Bool
        switch trust {
        case .pinned: verified = pinMatched
        case .certificateAuthority: verified = verificationFailure == nil
        }
        guard verified, let leafSHA256 else {
            // Unreachable unless lws skipped verification (for example a resumed session).
            fail(verificationFailure ?? SignallingClientError(.certificateInvalid, "the server's certificate was never verified"))
            return -1
        }
        client.transportConnected(serverCertificateSHA256: leafSHA256)
        return 0
    }

    /// LWS_CALLBACK_CLIENT_CONNECTION_ERROR: `text` is lws's reason.
    func connectionError(_ socket: OpaquePointer, _ text: String) {
        guard isCurrent(socket), stage == .connecting else { return }
        wsi = nil
        let reason = text.isEmpty ? "" : ": \(text)"
        failOrTryNext(verificationFailure ?? SignallingClientError(.serverUnreachable, "cannot connect to \(url.host) port \(url.port)\(reason)"))
    }

    /// LWS_CALLBACK_CLIENT_RECEIVE: one chunk of a message.
    func received(_ socket: OpaquePointer, _ bytes: UnsafeRawBufferPointer) {
        guard isCurrent(socket), stage == .established, let client else { return }
        if lws_is_first_fragment(socket) != 0 {
            receiving.removeAll(keepingCapacity: receiving.capacity <= SignallingTransport.keptReceiveCapacity)
            receivingBinary = lws_frame_is_binary(socket) != 0
        }
        guard receivingBinary else { return client.transportInput(self, .receivedText) }
        let remaining = Int(lws_remaining_packet_payload(socket))
        let total = receiving.count + bytes.count + remaining
        // Refuse as soon as the announced frame length passes the limit, without buffering it.
        guard total <= client.incomingLimit else { return client.transportInput(self, .receivedTooLarge(byteCount: total)) }
        receiving.append(contentsOf: bytes)
        guard lws_is_final_fragment(socket) != 0 else { return }
        let message = receiving
        receiving.removeAll(keepingCapacity: receiving.capacity <= SignallingTransport.keptReceiveCapacity)
        client.transportInput(self, .received(message))
    }

    /// LWS_CALLBACK_CLIENT_WRITEABLE: a batch of queued messages (several frames in one TLS
    /// record, see `WebSocketBatchWriter`), or the close frame. Returns nonzero to close.
    func writeable(_ socket: OpaquePointer) -> Int32 {
        guard isCurrent(socket) else { return 0 }
        if let pendingClose {
            var reason = Array(pendingClose.reason.utf8.prefix(123))
            reason.withUnsafeMutableBufferPointer { buffer in
                lws_close_reason(socket, lws_close_status(rawValue: UInt32(pendingClose.code)), buffer.baseAddress, buffer.count)
            }
            return -1
        }
        guard stage == .established, let client else { return 0 }
        let (batch, more) = client.nextOutgoingBatch()
        guard !batch.isEmpty else { return 0 }
        // Every queued message is a whole envelope within the server's limit, at most
        // SignalLimits.maxMessageBytes: a batch fits the loop's writer.
        guard loop.batchWriter.writeBatch(socket, messages: batch, masked: true) else { return -1 }
        if more { lws_callback_on_writable(socket) }
        return 0
    }

    /// LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: the server's close frame payload.
    func peerClosing(_ socket: OpaquePointer, _ payload: UnsafeRawBufferPointer) {
        guard isCurrent(socket), payload.count >= 2 else { return }
        let code = UInt16(payload[0]) << 8 | UInt16(payload[1])
        peerClose = (code, String(decoding: payload.dropFirst(2), as: UTF8.self))
    }

    /// LWS_CALLBACK_CLIENT_CLOSED: an established connection ended.
    func closed(_ socket: OpaquePointer) {
        guard isCurrent(socket) else { return }
        reportClosed()
    }

    private func reportClosed() {
        stage = .finished
        guard let client else { return }
        self.client = nil
        client.transportEnded(self, .transportClosed(code: peerClose?.code, reason: peerClose?.reason ?? ""))
    }

    /// LWS_CALLBACK_WSI_DESTROY: lws lets go of one socket of this transport.
    func destroyed(_ socket: OpaquePointer) {
        if connectInFlight { destroyedDuringConnect = true }
        if isCurrent(socket) {
            wsi = nil
            switch stage {
            case .established:
                reportClosed()
            case .connecting:
                failOrTryNext(verificationFailure ?? SignallingClientError(.serverUnreachable, "the connection to \(url.host) port \(url.port) failed"))
            case .resolving, .finished:
                break
            }
        }
        releaseReference()
    }
}

/// C strings that live as long as this value (strdup'd, freed on deinit).
private final class CStrings {
    private let pointers: [UnsafeMutablePointer<CChar>]

    init(_ strings: [String]) {
        // strdup fails only when memory is exhausted.
        pointers = strings.map { strdup($0)! }
    }

    subscript(index: Int) -> UnsafePointer<CChar> { UnsafePointer(pointers[index]) }

    deinit { for pointer in pointers { free(pointer) } }
}
