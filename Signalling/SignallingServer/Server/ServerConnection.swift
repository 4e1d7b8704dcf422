import CWebSockets
import DequeModule
import SignallingCore

/// One accepted socket on the signalling listener, owned by the service thread. lws holds a
/// +1 reference in the wsi's opaque user data from `SERVER_NEW_CLIENT_INSTANTIATED` until
/// `WSI_DESTROY`; the `ConnectionID` is given at acceptance and never reused.
final class ServerConnection {
    let id: ConnectionID
    let wsi: OpaquePointer
    let acceptedAt: UInt64
    /// The WebSocket upgrade finished and the core knows the connection.
    var established = false
    /// The core has forgotten the connection (it asked for a close, or lws closed it).
    var finished = false
    /// A message being assembled from WebSocket fragments (and lws's rx chunks).
    var receiving: [UInt8] = []
    /// WebSocket frames of the message being assembled.
    var receivedFragments = 0
    /// Encoded messages waiting to be written (framed when written, several per batch).
    var sendQueue = Deque<[UInt8]>()
    var queuedBytes = 0
    /// Set by the core's `.close`: the WebSocket close status to send once the queue is empty.
    var closeStatus: UInt16?
    var closeReason: [UInt8] = []

    init(id: ConnectionID, wsi: OpaquePointer, acceptedAt: UInt64) {
        self.id = id
        self.wsi = wsi
        self.acceptedAt = acceptedAt
    }

    /// Drops everything queued (the connection is going away).
    func discardQueue() -> Int {
        let dropped = queuedBytes
        sendQueue.removeAll()
        queuedBytes = 0
        receiving = []
        return dropped
    }
}

/// A plain-HTTP connection to the metrics listener: the response body being written.
final class MetricsConnection {
    var body: [UInt8] = []
}
