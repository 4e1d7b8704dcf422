/// What a sample reports to its user: one line, no stack trace.
public enum SampleError: Error, Equatable, CustomStringConvertible {
    /// A configuration file or flag is wrong.
    case configuration(String)
    /// A file cannot be read or written.
    case file(String, String)
    /// The identity key file cannot be loaded or created.
    case identity(String)

    public var description: String {
        switch self {
        case let .configuration(text): return text
        case let .file(path, reason): return "\(path): \(reason)"
        case let .identity(text): return text
        }
    }
}
