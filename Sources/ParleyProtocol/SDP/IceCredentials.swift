/// An ICE agent's username fragment and password (RFC 8839 `ice-ufrag`, `ice-pwd`).
/// They authenticate connectivity checks, so they travel only inside the sealed SDP
/// and are never logged (`description` hides the password).
public struct IceCredentials: Equatable, Sendable, CustomStringConvertible {
    public var usernameFragment: String
    public var password: String

    public init(usernameFragment: String, password: String) {
        self.usernameFragment = usernameFragment
        self.password = password
    }

    public var description: String { "IceCredentials(ufrag: \(usernameFragment), pwd: <\(password.utf8.count) bytes>)" }
}
