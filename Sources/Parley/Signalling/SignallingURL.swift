/// The address of a signalling server: `wss://host[:port][/path]`.
///
/// Only `wss` is accepted: signalling without TLS would expose device IDs and let anyone
/// on the path replay or block authentication. `host` is a DNS name, an IPv4 address, or
/// an IPv6 address in brackets (`wss://[::1]:8443/`); the port defaults to 443 and the
/// path to `/`. User information (`user@host`) and fragments (`#...`) are refused.
public struct SignallingURL: Equatable, Sendable, CustomStringConvertible {
    /// The host as written, without brackets for IPv6.
    public let host: String
    public let port: Int
    /// Starts with `/`; may carry a query.
    public let path: String

    public static let defaultPort = 443

    public init(_ text: String) throws(SignallingClientError) {
        let scheme = "wss://"
        guard text.utf8.count > scheme.utf8.count,
              String(text.prefix(scheme.count)).lowercased() == scheme else {
            if text.lowercased().hasPrefix("ws://") {
                throw SignallingURL.invalid(text, "plain ws:// is not supported; use wss://")
            }
            throw SignallingURL.invalid(text, "it must start with wss://")
        }
        for scalar in text.unicodeScalars where scalar.value <= 0x20 || scalar.value >= 0x7f {
            throw SignallingURL.invalid(text, "it contains a space, control or non-ASCII character")
        }
        let rest = text.dropFirst(scheme.count)
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var path = String(rest[authorityEnd...])
        guard !path.contains("#") else { throw SignallingURL.invalid(text, "a fragment (#...) has no meaning here") }
        if path.isEmpty { path = "/" } else if path.hasPrefix("?") { path = "/" + path }
        guard !authority.contains("@") else {
            throw SignallingURL.invalid(text, "user information (user@host) is not supported")
        }

        var hostPart: Substring
        var portPart: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw SignallingURL.invalid(text, "an IPv6 address must end with ]")
            }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw SignallingURL.invalid(text, "unexpected text after the IPv6 address") }
                portPart = after.dropFirst()
            }
            guard !hostPart.isEmpty, hostPart.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
                throw SignallingURL.invalid(text, "the IPv6 address may hold only hex digits, ':' and '.'")
            }
        } else {
            if let colon = authority.firstIndex(of: ":") {
                hostPart = authority[..<colon]
                portPart = authority[authority.index(after: colon)...]
            } else {
                hostPart = authority
            }
            guard !hostPart.isEmpty else { throw SignallingURL.invalid(text, "the host is missing") }
            guard hostPart.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }),
                  !hostPart.hasPrefix("."), !hostPart.hasPrefix("-"), hostPart.utf8.count <= 253 else {
                throw SignallingURL.invalid(text, "the host must be a DNS name or an IP address")
            }
        }

        var port = SignallingURL.defaultPort
        if let portPart {
            guard !portPart.isEmpty, portPart.utf8.count <= 5, portPart.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let value = Int(portPart), (1...65535).contains(value) else {
                throw SignallingURL.invalid(text, "the port must be a number from 1 to 65535")
            }
            port = value
        }
        self.host = String(hostPart)
        self.port = port
        self.path = path
    }

    /// True when `host` is an IPv6 address (written in brackets).
    public var isIPv6: Bool { host.contains(":") }

    public var description: String {
        let shownHost = isIPv6 ? "[\(host)]" : host
        return "wss://\(shownHost):\(port)\(path)"
    }

    private static func invalid(_ text: String, _ reason: String) -> SignallingClientError {
        // Only the first 200 characters: the URL may come from untrusted configuration.
        SignallingClientError(.invalidURL, "'\(text.prefix(200))' is not a signalling server URL: \(reason)")
    }
}
