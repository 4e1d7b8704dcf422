import CWebSockets
import Logging
import Synchronization

/// Sends libwebsockets' own errors and warnings to swift-log (label `parley.lws`) instead of
/// stderr, and drops its notices (two startup lines per context). lws's log level is
/// process-wide: the server and every client loop call this; the last call wins, with the
/// same effect. No payload passes through lws logging.
package func routeLWSLogs() {
    lws_set_log_level(Int32(LLL_ERR) | Int32(LLL_WARN), lwsLogLine)
}

private let lwsLogger = Mutex(Logger(label: "parley.lws"))

private func lwsLogLine(_ level: Int32, _ line: UnsafePointer<CChar>?) {
    guard let line else { return }
    var text = String(cString: line)
    while text.last == "\n" { text.removeLast() }
    lwsLogger.withLock { logger in
        if level & Int32(LLL_ERR) != 0 { logger.error("lws: \(text)") } else { logger.warning("lws: \(text)") }
    }
}
