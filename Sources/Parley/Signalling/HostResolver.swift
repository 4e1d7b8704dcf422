import Dispatch
import Glibc

/// Host name resolution off the loop thread (`getaddrinfo` on a Dispatch worker).
enum HostResolver {
    /// True for an IPv4 or IPv6 address literal, which lws connects to without resolving.
    static func isNumericAddress(_ host: String) -> Bool {
        var storage = in6_addr()
        return inet_pton(AF_INET, host, &storage) == 1 || inet_pton(AF_INET6, host, &storage) == 1
    }

    /// Resolves `host` to the numeric forms of its addresses (IPv4 and IPv6, in the order
    /// the system prefers, duplicates removed) and calls `completion` on a Dispatch worker.
    static func resolve(_ host: String, completion: @escaping @Sendable (Result<[String], SignallingClientError>) -> Void) {
        DispatchQueue.global().async {
            var hints = addrinfo()
            hints.ai_family = AF_UNSPEC
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var list: UnsafeMutablePointer<addrinfo>?
            let status = getaddrinfo(host, nil, &hints, &list)
            guard status == 0, list != nil else {
                let reason = String(cString: gai_strerror(status))
                return completion(.failure(SignallingClientError(.serverUnreachable, "cannot resolve '\(host)': \(reason)")))
            }
            defer { freeaddrinfo(list) }
            var addresses: [String] = []
            var next = list
            while let entry = next {
                var text = [CChar](repeating: 0, count: Int(NI_MAXHOST))
                if getnameinfo(entry.pointee.ai_addr, entry.pointee.ai_addrlen, &text, socklen_t(text.count), nil, 0, NI_NUMERICHOST) == 0 {
                    let address = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                    if !addresses.contains(address) { addresses.append(address) }
                }
                next = entry.pointee.ai_next
            }
            guard !addresses.isEmpty else {
                return completion(.failure(SignallingClientError(.serverUnreachable, "'\(host)' has no usable address")))
            }
            completion(.success(addresses))
        }
    }
}
