/// Checks BEP 47 symbolic link targets the way libtorrent's `sanitize_symlinks` does: a target must name a
/// file or folder of the torrent itself (directly, relative to the link's folder, or through other links of
/// the torrent); any other link is made to point at itself, so no link can lead out of the download.
///
/// Targets are already sanitized path elements (no `.`, `..`, separators or absolute paths), given below the
/// torrent's root folder like ``TorrentFile/path``.
package enum SymlinkTargets {
    /// Links followed at most while resolving one target (a bound on hostile chains).
    package static let maxHops = 64

    /// The checked target of every file (nil for files that are not links), in file order.
    package static func validate(paths: [[String]], targets: [[String]?]) -> [[String]?] {
        guard targets.contains(where: { $0 != nil }) else { return targets }
        var files: [[String]: Int] = [:]
        var folders = Set<[String]>()
        for (index, path) in paths.enumerated() {
            if files[path] == nil { files[path] = index }
            for end in 1..<max(1, path.count) { folders.insert(Array(path[0..<end])) }
        }
        var result = targets
        // Links whose target may be a folder, by the link's own path.
        var folderLinks: [[String]: [String]] = [:]
        var toResolve: [Int] = []
        for index in paths.indices {
            guard let target = targets[index] else { continue }
            let path = paths[index]
            if let file = files[target] {
                if targets[file] != nil { folderLinks[path] = target }
                continue
            }
            if folders.contains(target) {
                folderLinks[path] = target
                continue
            }
            // Older torrents give targets relative to the link's folder.
            let relative = Array(path.dropLast()) + target
            if folders.contains(relative) {
                result[index] = relative
                folderLinks[path] = relative
                continue
            }
            if let file = files[relative] {
                result[index] = relative
                if targets[file] != nil { folderLinks[path] = relative }
                continue
            }
            folderLinks[path] = target
            toResolve.append(index)
        }
        // Targets that go through other links: follow each link at most once.
        for index in toResolve {
            var target = result[index] ?? []
            var traversed = Set<[String]>()
            var valid = true
            var end = 1
            while end < target.count {
                let branch = Array(target[0..<end])
                if folders.contains(branch) {
                    end += 1
                    continue
                }
                guard let link = folderLinks[branch], traversed.count < maxHops, traversed.insert(branch).inserted
                else {
                    valid = false
                    break
                }
                target = link + target[end...]
                end = 1
            }
            if !valid || (files[target] == nil && !folders.contains(target)) { result[index] = paths[index] }
        }
        return result
    }
}
