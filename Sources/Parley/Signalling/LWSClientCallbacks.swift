import CWebSockets

// The lws callbacks of the signalling client. They are top-level functions (C function
// pointers) and run only on a loop's thread. The loop is reached through the context's
// user pointer, a connection through the wsi's opaque user data (+1 from connect to
// WSI_DESTROY). Some reasons arrive with a placeholder wsi that has no opaque user data
// (EVENT_WAIT_CANCELLED, PROTOCOL_INIT, GET_THREAD_ID, ...): only the reasons of a real
// client connection look for a transport.

private func transport(of wsi: OpaquePointer) -> SignallingTransport? {
    lws_get_opaque_user_data(wsi).map { Unmanaged<SignallingTransport>.fromOpaque($0).takeUnretainedValue() }
}

func signallingClientCallback(_ wsi: OpaquePointer?, _ reason: lws_callback_reasons, _ user: UnsafeMutableRawPointer?,
                              _ input: UnsafeMutableRawPointer?, _ length: Int) -> Int32 {
    guard let wsi else { return 0 }
    switch reason {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        guard let context = lws_get_context(wsi), let raw = lws_context_user(context) else { return 0 }
        Unmanaged<SignallingLoop>.fromOpaque(raw).takeUnretainedValue().drainInbox()
    case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
        // user is the X509_STORE_CTX, length is OpenSSL's preverify_ok. An unknown socket is refused.
        guard let transport = transport(of: wsi) else { return 1 }
        return transport.verifyCertificate(storeContext: user, preverifyOK: length != 0)
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        guard let transport = transport(of: wsi) else { return -1 }
        return transport.established(wsi)
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        // lws passes its reason with its length (strlen); no terminator is relied on.
        let reason = UnsafeRawBufferPointer(start: input, count: input == nil ? 0 : length)
        let text = String(decoding: reason.prefix { $0 != 0 }, as: UTF8.self)
        transport(of: wsi)?.connectionError(wsi, text)
    case LWS_CALLBACK_CLIENT_RECEIVE:
        guard let transport = transport(of: wsi) else { return -1 }
        transport.received(wsi, UnsafeRawBufferPointer(start: input, count: input == nil ? 0 : length))
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        guard let transport = transport(of: wsi) else { return -1 }
        return transport.writeable(wsi)
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        transport(of: wsi)?.peerClosing(wsi, UnsafeRawBufferPointer(start: input, count: input == nil ? 0 : length))
    case LWS_CALLBACK_CLIENT_CLOSED:
        transport(of: wsi)?.closed(wsi)
    case LWS_CALLBACK_WSI_DESTROY:
        if let raw = lws_get_opaque_user_data(wsi) {
            lws_set_opaque_user_data(wsi, nil)
            Unmanaged<SignallingTransport>.fromOpaque(raw).takeUnretainedValue().destroyed(wsi)
        }
    default:
        break
    }
    return 0
}

