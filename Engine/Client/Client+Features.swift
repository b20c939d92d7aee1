import BTMetainfo
import BTStorage
import Foundation

/// Checks, limits, file priorities and status snapshots of a ``Client``.
extension Client {
    // MARK: Checking

    /// Re-checks a torrent's data (the seed's `hashcheck`): closes its connections (reason `hashChecking`),
    /// stops requesting and announcing, lets the blocks already received be written, hashes every piece
    /// (``TorrentStatus/state`` is ``TorrentState/checking`` with ``TorrentStatus/checkProgress``
    /// meanwhile), updates the verified pieces, reports `piece_hash_pass` for every good piece and
    /// `piece_hash_fail` for every piece that was verified before and is not any more, then resumes
    /// downloading or seeding, dialling again the peers it had dialled (a paused torrent stays paused).
    /// Returns when the check is over.
    /// - Throws: ``EngineError`` (`unknownTorrent`, `storageFailed`, `shutDown`; `invalidConfiguration` while it
    ///   is checked already or a magnet's metadata is being fetched).
    public func recheck(_ handle: TorrentHandle) async throws(EngineError) {
        try await lifecycle.recheck(handle)
    }

    // MARK: Limits

    /// Changes a torrent's upload and download limits and peer maximum (both the torrent's and the
    /// client's limits hold). Lowering the peer maximum below the current count closes the newest
    /// connections with reason `tooMany`.
    /// - Throws: ``EngineError`` (`unknownTorrent`, `shutDown`).
    public func setLimits(_ limits: TorrentLimits, for handle: TorrentHandle) async throws(EngineError) {
        try await onLoop { core throws(EngineError) in
            let session = try core.requireSession(handle)
            session.limits = limits
            core.applyLimits(session)
        }
        configuration.logger.info("limits of \(handle): \(limits)")
    }

    // MARK: File priorities

    /// Sets the priority of every file of a torrent (one per file, pad files included): `FilePriority/skip`
    /// stops downloading the pieces only skipped files need (a skipped file is not created unless a piece
    /// it shares with a wanted file needs it), `FilePriority/high` files are downloaded first. The torrent
    /// is finished (``TorrentState/seeding``, `torrent_finished`) once every wanted piece is verified; it
    /// returns to downloading when a skipped file is wanted again. Priorities are saved in the resume data.
    /// - Throws: ``EngineError`` (`unknownTorrent`, `invalidConfiguration` when the count is wrong,
    ///   `shutDown`).
    public func setFilePriorities(_ handle: TorrentHandle, _ priorities: [FilePriority]) async throws(EngineError) {
        let store = try await onLoop { core throws(EngineError) in
            let session = try core.requireSession(handle)
            guard priorities.count == session.torrent.layout.files.count else {
                throw EngineError(
                    .invalidConfiguration,
                    "\(handle.name) has \(session.torrent.layout.files.count) files, got \(priorities.count) priorities"
                )
            }
            core.downloads.setFilePriorities(priorities, of: session)
            return session.store
        }
        for (index, priority) in priorities.enumerated() { await store.setPriority(priority, ofFile: index) }
    }

    /// The priority of every file of a torrent, or nil when it is not in the client.
    public func filePriorities(_ handle: TorrentHandle) async -> [FilePriority]? {
        try? await onLoop { core in
            core.session(handle).map { session in
                session.torrent.layout.files.indices.map { session.picker.priority(ofFile: $0) }
            }
        }
    }

    // MARK: Status

    /// The connections of a torrent (queued and connecting ones included), oldest first; empty when it is not
    /// in the client.
    public func peers(of handle: TorrentHandle) async -> [PeerStatus] {
        (try? await onLoop { core in core.session(handle).map { core.reports.peerStatuses($0) } ?? [] }) ?? []
    }

    /// Totals over every torrent: rates, bytes, peers, torrents by state.
    public func sessionStatus() async -> SessionStatus {
        SessionStatus(summing: await statuses())
    }

    /// The addresses blacklisted for this session: peers whose reputation in the client-wide ledger fell to
    /// the threshold because they sent corrupt pieces (they are neither dialled nor accepted again).
    public var blacklist: Set<IPAddress> {
        get async { (try? await onLoop { core in core.ledger.blacklisted }) ?? [] }
    }

    /// The reputation of `address` in the client-wide ledger (100 for an address never seen).
    public func reputation(of address: IPAddress) async -> Int {
        (try? await onLoop { core in core.ledger.score(of: address.unmapped) }) ?? 100
    }

    /// Adds a torrent from a .torrent file (see ``addTorrent(_:downloadDirectory:resume:limits:filePriorities:)``).
    /// - Throws: ``EngineError`` (`invalidConfiguration` when the file cannot be read or is not a torrent, and
    ///   the errors of adding it).
    @discardableResult
    public func addTorrent(
        file path: String, downloadDirectory: String, resume: String? = nil, limits: TorrentLimits? = nil,
        filePriorities: [FilePriority]? = nil
    ) async throws(EngineError) -> TorrentHandle {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EngineError(.invalidConfiguration, "cannot read \(path)")
        }
        return try await addTorrent(
            bytes: Array(data), downloadDirectory: downloadDirectory, resume: resume, limits: limits,
            filePriorities: filePriorities)
    }
}
