/// Turns the path elements of a .torrent file into names that are safe to create on disk, the way
/// libtorrent does (its `sanitize_append_path_element`), so that every torrent libtorrent opens opens here too
/// and its files land under the same names.
///
/// The rules, per element:
/// - `/`, `\` and NUL are dropped, and so are invisible Unicode formatting characters that can disguise a name
///   (U+061C, U+200B–U+200F, U+202A–U+202E, U+2060–U+2064, U+2066–U+2069, U+FEFF).
/// - Invalid UTF-8 (bad or truncated sequences, overlong forms, surrogates, code points past U+10FFFF),
///   C0 and C1 control characters and DEL each become `_`.
/// - An element that is empty, `.` or `..` after that becomes `_` (file paths) or is dropped (the torrent's
///   name, where an empty result is replaced by the info-hash).
/// - An element is cut at 240 bytes, keeping an extension of up to 9 characters, so it stays under the
///   255-byte name limit of common file systems.
///
/// The result contains no separator, no NUL, and is never empty, `.` or `..`, so a path made of such elements
/// cannot leave the folder it is joined to.
package enum PathSanitizer {
    /// Bytes of an element kept before the extension is looked for (libtorrent's value).
    package static let maxElementBytes = 240

    /// The sanitized form of one path element; nil when the element is dropped (only when `force` is false).
    /// - Parameter force: keep an element even when nothing valid is left of it (as `_`); file path
    ///   elements are forced, the torrent's name is not.
    package static func element(_ element: some Collection<UInt8>, force: Bool) -> String? {
        let bytes = Array(element)
        if bytes == [UInt8(ascii: ".")] && !force { return nil }
        if bytes.isEmpty { return "_" }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var added = 0
        var dots = 0
        var foundExtension = false
        var index = 0
        while index < bytes.count {
            let (codePoint, length) = codePoint(bytes, at: index)
            if let codePoint, isFiltered(codePoint) {
                index += length
                continue
            }
            guard let codePoint, isValid(codePoint) else {
                out.append(UInt8(ascii: "_"))
                added += 1
                index += length
                continue
            }
            out.append(contentsOf: bytes[index..<(index + length)])
            if codePoint == 0x2E { dots += 1 }
            added += length
            if added >= maxElementBytes && !foundExtension {
                // Keep the extension: a dot among the last 9 bytes, past what is already copied.
                var dot: Int?
                var probe = bytes.count - 1
                while probe > max(bytes.count - 10, index) {
                    if bytes[probe] == UInt8(ascii: ".") {
                        dot = probe
                        break
                    }
                    probe -= 1
                }
                guard let dot else { break }
                foundExtension = true
                index = dot
                continue
            }
            index += length
        }
        if added == dots && added <= 2 { return force ? "_" : nil }
        return String(decoding: out, as: UTF8.self)
    }

    /// The sanitized elements of a path, each forced (see ``element(_:force:)``).
    package static func path(_ elements: [ArraySlice<UInt8>]) -> [String] {
        elements.map { element($0, force: true) ?? "_" }
    }

    /// Characters removed from names: separators and invisible formatting characters.
    static func isFiltered(_ codePoint: Int32) -> Bool {
        switch codePoint {
        // NUL is dropped rather than replaced: libtorrent 2.0 and 2.1 turn `a\0b` into `ab`.
        case 0x00, 0x2F, 0x5C: return true
        case 0x061C, 0x200B...0x200F, 0x202A...0x202E, 0x2060...0x2064, 0x2066...0x2069, 0xFEFF: return true
        default: return false
        }
    }

    /// Characters allowed in a name on Linux: everything but C0 and C1 controls and DEL.
    static func isValid(_ codePoint: Int32) -> Bool {
        !(codePoint < 32 || codePoint == 0x7F || (codePoint >= 0x80 && codePoint <= 0x9F))
    }

    /// Decodes the UTF-8 sequence at `index`: the code point (nil when invalid) and how many bytes to skip.
    /// An invalid lead byte skips one byte, a bad sequence its announced length, a truncated one the rest.
    static func codePoint(_ bytes: [UInt8], at index: Int) -> (Int32?, Int) {
        let lead = bytes[index]
        let length: Int
        switch lead {
        case 0..<0x80: return (Int32(lead), 1)
        case _ where lead >> 5 == 0b110: length = 2
        case _ where lead >> 4 == 0b1110: length = 3
        case _ where lead >> 3 == 0b11110: length = 4
        case _ where lead >> 2 == 0b111110: length = 5
        default: return (nil, 1)
        }
        let available = bytes.count - index
        if length > available { return (nil, available) }
        if length > 4 { return (nil, length) }
        var value = Int32(lead) & [0, 0, 0x1F, 0x0F, 0x07][length]
        for offset in 1..<length {
            let byte = bytes[index + offset]
            guard byte & 0xC0 == 0x80 else { return (nil, length) }
            value = value << 6 | Int32(byte & 0x3F)
        }
        let minimum: Int32 = [0, 0, 0x80, 0x800, 0x10000][length]
        if value < minimum || value > 0x10FFFF || (0xD800...0xDFFF).contains(value) { return (nil, length) }
        return (value, length)
    }
}
