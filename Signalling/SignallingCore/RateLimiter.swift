import ParleyCrypto

/// Two token buckets per connection: messages and bytes, each with a rate and a
/// burst (ServerConfiguration). A message is admitted when both buckets hold enough.
struct RateLimiter {
    private var messageTokens: Double
    private var byteTokens: Double
    private var refilled: Timestamp
    private let messagesPerSecond: Double
    private let messageBurst: Double
    private let bytesPerSecond: Double
    private let byteBurst: Double

    init(configuration: ServerConfiguration, now: Timestamp) {
        messagesPerSecond = configuration.messagesPerSecond
        messageBurst = configuration.messageBurst
        bytesPerSecond = configuration.bytesPerSecond
        byteBurst = configuration.byteBurst
        messageTokens = messageBurst
        byteTokens = byteBurst
        refilled = now
    }

    mutating func admit(bytes: Int, now: Timestamp) -> Bool {
        let elapsed = Double(now.since(refilled).components.seconds) + Double(now.since(refilled).components.attoseconds) / 1e18
        refilled = max(refilled, now)
        messageTokens = min(messageBurst, messageTokens + elapsed * messagesPerSecond)
        byteTokens = min(byteBurst, byteTokens + elapsed * bytesPerSecond)
        guard messageTokens >= 1, byteTokens >= Double(bytes) else { return false }
        messageTokens -= 1
        byteTokens -= Double(bytes)
        return true
    }
}
