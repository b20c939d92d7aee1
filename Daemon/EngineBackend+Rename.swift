import BTEngine
import BTMetainfo

/// `torrent-rename-path` on an ``EngineBackend``: a file or folder of a live torrent renamed on disk through
/// the engine (which writes its resume data with the new names), and the new names kept in the daemon's state.
extension EngineBackend {
    /// Each file's path below the download folder as the torrent is laid out now: the torrent's folder and
    /// the file's path (a single-file torrent: its name), or where `torrent-rename-path` put it.
    static func diskPaths(_ torrent: Torrent, _ entry: DaemonState.Entry) -> [[String]] {
        torrent.files.enumerated().map { index, file in
            entry.renamedFiles?[index] ?? (torrent.isSingleFile ? file.path : [torrent.name] + file.path)
        }
    }

    /// The new paths of the files that renaming `path` (a file, or a folder holding files, as `torrent-get`
    /// names them) to `name` moves, by file index; pad files (never on disk) are left alone.
    /// - Throws: ``DaemonError`` (`invalidArgument`) when `path` names no file or folder of the torrent, or the
    ///   new path is taken.
    static func renaming(_ paths: [[String]], pads: Set<Int>, path: String, name: String) throws(DaemonError)
        -> [Int: [String]]
    {
        let old = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard !old.isEmpty else { throw DaemonError(.invalidArgument, "path must name a file or a folder") }
        var new = old
        new[new.count - 1] = name
        let moved = paths.indices.filter { !pads.contains($0) && paths[$0].starts(with: old) }
        guard !moved.isEmpty else { throw DaemonError(.invalidArgument, "the torrent has no file or folder \(path)") }
        guard new == old || !paths.contains(where: { $0.starts(with: new) }) else {
            throw DaemonError(.invalidArgument, "\(new.joined(separator: "/")) already exists in the torrent")
        }
        var result: [Int: [String]] = [:]
        for index in moved {
            var renamed = paths[index]
            renamed[old.count - 1] = name
            result[index] = renamed
        }
        return result
    }

    /// Renames a file or folder of a torrent (`torrent-rename-path`): each file under it is renamed by the
    /// engine (moved on disk when written, resume data updated), then the state keeps the new names. Returns
    /// the path and name as the request gave them, as Transmission answers.
    public func renamePath(id: Int, path: String, name: String) async throws(DaemonError)
        -> (path: String, name: String)
    {
        guard let handle = await handles([id]).first?.1, let torrent = torrents[id]?.torrent,
            let entry = state.torrents[id: id]
        else { throw DaemonError(.invalidArgument, "torrent \(id) does not exist") }
        guard fetching[id] == nil else {
            throw DaemonError(.invalidArgument, "the files of a magnet can be renamed once its metadata is known")
        }
        let pads = Set(torrent.files.indices.filter { torrent.files[$0].isPadFile })
        let moves = try Self.renaming(Self.diskPaths(torrent, entry), pads: pads, path: path, name: name)
        let isRoot = path.split(separator: "/", omittingEmptySubsequences: true).count == 1
        for (index, target) in moves.sorted(by: { $0.key < $1.key }) {
            do {
                try await client.renameFile(handle, index: index, to: target)
            } catch {
                throw DaemonError(.engineFailed, "\(error)")
            }
            // Kept file by file: what the engine renamed stays listed so, also when a later file fails.
            state.torrents.update(id) { entry in
                entry.renamedFiles = (entry.renamedFiles ?? [:]).merging([index: target]) { $1 }
                if isRoot { entry.name = name }
            }
            try record(id)
        }
        logger.info("torrent \(id): \(path) renamed to \(name) (\(moves.count) files)")
        return (path, name)
    }
}
