extension Client {
    /// Renames file `index` of a running torrent to `path`: components below its download folder, the
    /// torrent's own folder included for a multi-file torrent (as `FileStorage.paths(of:)` names them). The
    /// data already written is moved on disk, later reads and writes use the new path, and the resume data is
    /// written at once, carrying the new name, so a restart (also after `kill -9`) finds the file there without
    /// checking it again. The Transmission RPC's `torrent-rename-path`.
    /// - Throws: ``EngineError`` (`unknownTorrent`, `invalidConfiguration` for a torrent without metadata or an
    ///   index out of range, `storageFailed` when the file cannot be moved, `shutDown`).
    public func renameFile(_ handle: TorrentHandle, index: Int, to path: [String]) async throws(EngineError) {
        let target = try await onLoop { core throws(EngineError) in
            let session = try core.requireSession(handle)
            guard session.hasMetadata, session.torrent.files.indices.contains(index), !path.isEmpty else {
                throw EngineError(.invalidConfiguration, "\(handle.name) has no file \(index) to rename")
            }
            return SessionStorage(session)
        }
        do {
            try await target.store.renameFile(index, to: path)
        } catch {
            throw EngineError(.storageFailed, "cannot rename file \(index) of \(handle.name): \(error)")
        }
        do {
            try await target.saveResumeData()
        } catch {
            throw EngineError(
                .storageFailed,
                "renamed, but cannot write the resume data \(target.session.resumePath ?? ""): \(error)")
        }
        configuration.logger.info("\(handle): file \(index) renamed to \(path.joined(separator: "/"))")
    }
}
