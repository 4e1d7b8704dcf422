/// A file name a peer proposed, made safe to create in the download directory: no
/// directory part, no control characters, no leading dot (no hidden files, no "..").
public enum DownloadName {
    /// Longest name kept, in UTF-8 bytes (well under every file system's 255).
    public static let maxBytes = 120

    /// The last path component of `proposed` with every character other than letters,
    /// digits, space and `. _ - + ( ) ,` replaced by "_"; "file" when nothing is left.
    public static func sanitize(_ proposed: String?) -> String {
        let base = (proposed ?? "").split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        var name = String(String.UnicodeScalarView(base.unicodeScalars.map { scalar in
            let allowed = scalar.properties.isAlphabetic || scalar.properties.numericType != nil
                || " ._-+(),".unicodeScalars.contains(scalar)
            return allowed && scalar.value >= 0x20 && !(0x7F...0x9F).contains(scalar.value) ? scalar : "_"
        }))
        while let first = name.first, first == "." || first == " " { name.removeFirst() }
        while let last = name.last, last == " " || last == "." { name.removeLast() }
        while name.utf8.count > maxBytes { name.removeLast() }
        return name.isEmpty ? "file" : name
    }

    /// "name.ext", then "name (1).ext", "name (2).ext", ... for the `attempt`-th try.
    public static func variant(_ name: String, attempt: Int) -> String {
        guard attempt > 0 else { return name }
        if let dot = name.lastIndex(of: "."), dot != name.startIndex {
            return "\(name[..<dot]) (\(attempt))\(name[dot...])"
        }
        return "\(name) (\(attempt))"
    }
}
