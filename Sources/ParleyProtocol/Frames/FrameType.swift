/// What a frame on the direct path carries: the 5-bit type of the frame header
/// (PROTOCOL.md, "Frames"). The header travels in the clear, so an observer of the
/// path sees these types; every payload is sealed.
public enum FrameType: UInt8, CaseIterable, Sendable {
    /// A fragment of an audio frame (unreliable).
    case audio = 1
    /// A fragment of a video frame (unreliable).
    case video = 2
    /// Reliable, ordered message data (messages and file streams).
    case messageData = 3
    /// Acknowledgements for `messageData`.
    case messageAck = 4
    /// Call control on the direct path: the sealed goodbye.
    case control = 5
}
