import CParleyShims
import CWebSockets
import ParleyLWS
import Glibc

// The lws protocol callbacks. They are top-level functions (C function pointers) in a file
// other than main.swift, and run only on the service thread. The loop is reached through
// the context's user pointer; per-socket objects through the wsi's opaque user data (+1
// from instantiation to WSI_DESTROY).

/// Protocol ids (`lws_protocols.id`) telling the two vhosts apart.
enum ProtocolID {
    static let signalling: UInt32 = 1
    static let metrics: UInt32 = 2
}

private func loop(of wsi: OpaquePointer) -> ServerLoop? {
    guard let context = lws_get_context(wsi), let raw = lws_context_user(context) else { return nil }
    return Unmanaged<ServerLoop>.fromOpaque(raw).takeUnretainedValue()
}

private func protocolID(of wsi: OpaquePointer) -> UInt32 {
    lws_get_protocol(wsi)?.pointee.id ?? 0
}

func signallingCallback(_ wsi: OpaquePointer?, _ reason: lws_callback_reasons, _ user: UnsafeMutableRawPointer?,
                        _ input: UnsafeMutableRawPointer?, _ length: Int) -> Int32 {
    guard let wsi, let loop = loop(of: wsi) else { return 0 }
    let connection = lws_get_opaque_user_data(wsi).map { Unmanaged<ServerConnection>.fromOpaque($0).takeUnretainedValue() }
    switch reason {
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
        // Before TLS: past the socket limit the TCP connection is closed at once.
        return loop.admitSocket() ? 0 : 1
    case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
        // user is the vhost's SSL_CTX: idle connections keep no TLS buffers, and no
        // session state outlives a connection.
        CParleyShims_ssl_ctx_release_buffers(user)
        CParleyShims_ssl_ctx_disable_session_cache(user)
    case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
        let accepted = loop.accepted(wsi)
        lws_set_opaque_user_data(wsi, Unmanaged.passRetained(accepted).toOpaque())
    case LWS_CALLBACK_ESTABLISHED:
        if let connection { loop.established(connection) }
    case LWS_CALLBACK_RECEIVE:
        guard let connection else { return -1 }
        let bytes = UnsafeRawBufferPointer(start: input, count: input == nil ? 0 : length)
        loop.received(connection, bytes, binary: lws_frame_is_binary(wsi) != 0,
                      final: lws_is_final_fragment(wsi) != 0, remaining: Int(lws_remaining_packet_payload(wsi)))
    case LWS_CALLBACK_SERVER_WRITEABLE:
        guard let connection else { return -1 }
        return loop.writeable(connection)
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        // The device said goodbye: it is offline now, not when lws later sees the TCP close.
        if let connection { loop.closed(connection) }
    case LWS_CALLBACK_CLOSED:
        if let connection { loop.closed(connection) }
    case LWS_CALLBACK_WSI_DESTROY:
        if let raw = lws_get_opaque_user_data(wsi) {
            lws_set_opaque_user_data(wsi, nil)
            let owned = Unmanaged<ServerConnection>.fromOpaque(raw)
            loop.destroyed(owned.takeUnretainedValue())
            owned.release()
        }
    case LWS_CALLBACK_HTTP:
        // A plain HTTPS request on the WebSocket port: only upgrades are served here.
        _ = lws_return_http_status(wsi, 426, "this port speaks parley/1 over WebSocket only")
        return lws_http_transaction_completed(wsi) != 0 ? -1 : 0
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        loop.drainCommands()
    default:
        break
    }
    return 0
}

func metricsCallback(_ wsi: OpaquePointer?, _ reason: lws_callback_reasons, _ user: UnsafeMutableRawPointer?,
                     _ input: UnsafeMutableRawPointer?, _ length: Int) -> Int32 {
    guard let wsi, let loop = loop(of: wsi) else { return 0 }
    switch reason {
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
        return loop.metricsSockets < AdapterTuning.maxMetricsSockets ? 0 : 1
    case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
        loop.metricsSockets += 1
        lws_set_opaque_user_data(wsi, Unmanaged.passRetained(MetricsConnection()).toOpaque())
    case LWS_CALLBACK_WSI_DESTROY:
        if let raw = lws_get_opaque_user_data(wsi) {
            lws_set_opaque_user_data(wsi, nil)
            Unmanaged<MetricsConnection>.fromOpaque(raw).release()
            loop.metricsSockets -= 1
        }
    case LWS_CALLBACK_HTTP:
        guard let raw = lws_get_opaque_user_data(wsi) else { return -1 }
        let connection = Unmanaged<MetricsConnection>.fromOpaque(raw).takeUnretainedValue()
        let path = input.map { String(cString: $0.assumingMemoryBound(to: CChar.self)) } ?? ""
        guard path == "/metrics" else {
            _ = lws_return_http_status(wsi, 404, "only /metrics is served here")
            return lws_http_transaction_completed(wsi) != 0 ? -1 : 0
        }
        connection.body = Array(loop.renderMetrics(loop.snapshot()).utf8)
        var headers = [UInt8](repeating: 0, count: lwsPre + 512)
        let result: Int32 = headers.withUnsafeMutableBufferPointer { buffer in
            let start = buffer.baseAddress! + lwsPre
            var cursor: UnsafeMutablePointer<UInt8>? = start
            let end = buffer.baseAddress! + buffer.count - 1
            if lws_add_http_common_headers(wsi, 200, "text/plain; version=0.0.4; charset=utf-8",
                                           lws_filepos_t(connection.body.count), &cursor, end) != 0 { return 1 }
            return lws_finalize_write_http_header(wsi, start, &cursor, end)
        }
        guard result == 0 else { return 1 }
        lws_callback_on_writable(wsi)
    case LWS_CALLBACK_HTTP_WRITEABLE:
        guard let raw = lws_get_opaque_user_data(wsi) else { return -1 }
        let connection = Unmanaged<MetricsConnection>.fromOpaque(raw).takeUnretainedValue()
        var frame = [UInt8](repeating: 0, count: lwsPre) + connection.body
        let size = connection.body.count
        connection.body = []
        let written = frame.withUnsafeMutableBufferPointer {
            lws_write(wsi, $0.baseAddress! + lwsPre, size, LWS_WRITE_HTTP_FINAL)
        }
        guard written == size else { return 1 }
        return lws_http_transaction_completed(wsi) != 0 ? -1 : 0
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        break  // handled once, by the signalling protocol
    default:
        break
    }
    return 0
}
