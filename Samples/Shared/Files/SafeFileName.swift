/// A name a peer proposed for a file, made safe to create inside a directory this side
/// chose: only the last path component is kept, every byte outside `A-Z a-z 0-9 . _ -` becomes
/// `_`, leading dots are dropped (no hidden files, no `..`), and the result is at most
/// `maxLength` bytes. A name with nothing left becomes `received.bin`.
public enum SafeFileName {
    public static let maxLength = 100
    public static let fallback = "received.bin"

    public static func sanitize(_ proposed: String?) -> String {
        guard let proposed else { return fallback }
        let last = proposed.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        var bytes = last.utf8.map { byte -> UInt8 in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                return byte
            default:
                return UInt8(ascii: "_")
            }
        }
        while bytes.first == UInt8(ascii: ".") { bytes.removeFirst() }
        if bytes.count > maxLength { bytes = Array(bytes.suffix(maxLength)) }
        while bytes.first == UInt8(ascii: ".") { bytes.removeFirst() }
        let name = String(decoding: bytes, as: UTF8.self)
        return name.isEmpty || bytes.allSatisfy({ $0 == UInt8(ascii: "_") }) ? fallback : name
    }

    /// `name`, or `name-1`, `name-2`, ... (before the extension) for the first that `exists` says is free.
    public static func unique(_ name: String, exists: (String) -> Bool) -> String? {
        if !exists(name) { return name }
        let (stem, suffix): (Substring, Substring)
        if let dot = name.lastIndex(of: "."), dot != name.startIndex {
            (stem, suffix) = (name[..<dot], name[dot...])
        } else {
            (stem, suffix) = (name[...], "")
        }
        for number in 1...999 {
            let candidate = "\(stem)-\(number)\(suffix)"
            if !exists(candidate) { return candidate }
        }
        return nil
    }
}
