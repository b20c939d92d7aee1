/// Gives files whose paths collide distinct names, as libtorrent does: the second `foo/bar.txt` becomes
/// `foo/bar.1.txt`, a file whose path is also a folder of another file becomes `name.1`.
///
/// Paths are compared without regard to ASCII case (so the files stay apart on case-insensitive file
/// systems too). Folders are claimed first, so a file never takes a folder's name. Each attempt at a new name
/// that is itself taken counts as a collision; past ``maxCollisions`` the torrent is refused, because a
/// hostile file of many equal names would otherwise cost quadratic time.
package enum DuplicatePaths {
    /// Collisions tolerated before giving up (libtorrent's `max_duplicate_filenames`).
    package static let maxCollisions = 500

    /// The full paths (torrent name included for multi-file torrents) made unique. Pad files take part as
    /// libtorrent has them (they claim folders and names too), except that pad files of one size may share a
    /// name: their bytes are never written.
    package static func disambiguate(
        _ paths: [[String]], isPad: [Bool], lengths: [Int64]
    ) throws(MetainfoError) -> [[String]] {
        var taken = Set<[UInt8]>()
        for path in paths where path.count > 1 {
            var prefix: [UInt8] = []
            for component in path.dropLast() {
                if !prefix.isEmpty { prefix.append(UInt8(ascii: "/")) }
                prefix.append(contentsOf: lowercased(component))
                taken.insert(prefix)
            }
        }
        var padSizes: [[UInt8]: Int64] = [:]
        var result = paths
        var collisions = 0
        for index in paths.indices {
            let path = paths[index]
            let key = lowercased(path.joined(separator: "/"))
            if taken.insert(key).inserted {
                if isPad[index] { padSizes[key] = lengths[index] }
                continue
            }
            if isPad[index], padSizes[key] == lengths[index] { continue }
            let last = Array(path[path.count - 1].utf8)
            // The extension starts at the last dot of the file name; a name that is all extension (a single
            // file named `.x`) keeps its whole name as the base, as libtorrent's `remove_extension` does.
            let dot = last.lastIndex(of: UInt8(ascii: "."))
            let isWholePath = path.count == 1 && dot == 0
            let base = dot.map { isWholePath ? last : Array(last[..<$0]) } ?? last
            let ext = dot.map { Array(last[$0...]) } ?? []
            var counter = 0
            while true {
                counter += 1
                let name = String(decoding: base, as: UTF8.self) + ".\(counter)" + String(decoding: ext, as: UTF8.self)
                let candidate = Array(path.dropLast()) + [name]
                if taken.insert(lowercased(candidate.joined(separator: "/"))).inserted {
                    result[index] = candidate
                    break
                }
                collisions += 1
                guard collisions <= maxCollisions else {
                    throw MetainfoError(
                        .duplicatePath,
                        "more than \(maxCollisions) colliding file names (\(path.joined(separator: "/")) and others)")
                }
            }
        }
        return result
    }

    /// ASCII lower case of `text`'s UTF-8 bytes (libtorrent compares names this way).
    static func lowercased(_ text: String) -> [UInt8] {
        text.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }
    }
}
