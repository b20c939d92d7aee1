import BTMetainfo
import BTStorage
import BTWire
import Foundation
import NIOCore

/// Adding a torrent from a magnet link (BEP 9, BEP 53) or without its piece layers (BEP 52), and setting it
/// up once the metadata is there.
extension TorrentLifecycle {
    /// Adds a torrent known by a magnet link (``Client/addTorrent(magnet:downloadDirectory:resume:limits:)``).
    func add(
        magnet: MagnetLink, downloadDirectory: String, resume: String?, limits: TorrentLimits?
    ) async throws(EngineError) -> TorrentHandle {
        if let saved = Self.savedTorrent(of: magnet, resume: resume) {
            configuration.logger.info("metadata of \(magnet.infoHashes) read from \(saved.path)")
            return try await add(
                saved.torrent, downloadDirectory: downloadDirectory, resume: resume, limits: limits,
                filePriorities: nil)
        }
        let placeholder = MagnetMetadata.placeholder(for: magnet)
        let handle = TorrentHandle(infoHashes: magnet.infoHashes, name: placeholder.name)
        let session = fetchingSession(
            handle, placeholder: placeholder, magnet: magnet, downloadDirectory: downloadDirectory, resume: resume,
            limits: limits)
        try await onLoop { core throws(EngineError) in
            try core.addSession(session)
            for peer in magnet.peers {
                core.connections.addPeer(host: peer.host, port: peer.port, source: .user, to: session)
            }
        }
        configuration.logger.info("added \(handle) from a magnet link, fetching its metadata")
        return handle
    }

    /// Adds a v2 or hybrid torrent some of whose piece layers are missing (a .torrent without `piece layers`,
    /// BEP 52 keeps them outside the info dictionary): it is ``TorrentState/fetchingMetadata`` while the layers
    /// are fetched from peers (``PieceLayerExchanger``), then checked and downloaded as
    /// ``Client/addTorrent(_:downloadDirectory:resume:limits:filePriorities:)`` does. When `RESUME.torrent` beside the
    /// resume data is this torrent with every layer, it is added from it at once.
    /// - Throws: ``EngineError`` (`duplicateTorrent`, `invalidConfiguration`, `shutDown`).
    func add(
        lackingPieceLayers torrent: Torrent, downloadDirectory: String, resume: String?, limits: TorrentLimits?,
        filePriorities: [FilePriority]?
    ) async throws(EngineError) -> TorrentHandle {
        let magnet = MagnetLink(torrent)
        if let saved = Self.savedTorrent(of: magnet, resume: resume), saved.torrent.filesMissingPieceLayers.isEmpty {
            configuration.logger.info("piece layers of \(torrent.name) read from \(saved.path)")
            return try await add(
                saved.torrent, downloadDirectory: downloadDirectory, resume: resume, limits: limits,
                filePriorities: filePriorities)
        }
        var placeholder = MagnetMetadata.placeholder(for: magnet)
        placeholder.announceTiers = torrent.announceTiers
        let handle = TorrentHandle(infoHashes: torrent.infoHashes, name: torrent.name)
        let session = fetchingSession(
            handle, placeholder: placeholder, magnet: magnet, downloadDirectory: downloadDirectory, resume: resume,
            limits: limits)
        session.metadata!.filePriorities = filePriorities
        try await onLoop { core throws(EngineError) in
            try core.addSession(session)
            core.pieceLayers.start(torrent, session: session)
        }
        configuration.logger.info("added \(handle), fetching its piece layers")
        return handle
    }

    /// A session for a torrent whose metadata (or piece layers) is still to be fetched: `placeholder` (no files)
    /// with its storage, ``TorrentState/fetchingMetadata``.
    private func fetchingSession(
        _ handle: TorrentHandle, placeholder: Torrent, magnet: MagnetLink, downloadDirectory: String, resume: String?,
        limits: TorrentLimits?
    ) -> TorrentSession {
        let report = Self.storageEvents(for: placeholder, to: events)
        let store = PieceStore(
            torrent: placeholder, storage: configuration.makeStorage(placeholder, downloadDirectory, report),
            pool: configuration.workerPool, events: report)
        let session = TorrentSession(
            handle: handle, torrent: placeholder, store: store, verified: Bitfield(count: 0), resumePath: resume,
            now: core.loop.now)
        session.metadata = MagnetMetadata(magnet: magnet, downloadDirectory: downloadDirectory)
        session.state = .fetchingMetadata
        session.reportedFinished = false
        session.limits = limits ?? configuration.defaultTorrentLimits
        return session
    }

    /// The .torrent kept beside `resume` for `magnet`, when it is there and is the magnet's torrent.
    static func savedTorrent(of magnet: MagnetLink, resume: String?) -> (torrent: Torrent, path: String)? {
        guard let path = MagnetMetadata.torrentPath(resume: resume),
            let data = FileManager.default.contents(atPath: path),
            let torrent = try? Torrent(bytes: Array(data)),
            magnet.infoHashes.isHash(ofInfoDictionary: torrent.infoBytes)
        else { return nil }
        return (torrent, path)
    }

    /// Sets a magnet's torrent up once its metadata is verified: keeps the .torrent beside the resume data,
    /// opens the storage, checks existing data (the link's `so` sets the file priorities), then tells the
    /// connected peers the piece count (they get our bitfield, we learn theirs) and downloads.
    static func adoptMetadata(
        _ torrent: Torrent, of session: TorrentSession, metadata: MagnetMetadata, core: ClientCore
    )
        async
    {
        let configuration = core.configuration
        if let path = MagnetMetadata.torrentPath(resume: session.resumePath) {
            do {
                try Data(torrent.encoded()).write(to: URL(fileURLWithPath: path), options: .atomic)
            } catch {
                configuration.logger.warning("cannot keep the metadata of \(session.handle.name) in \(path): \(error)")
            }
        }
        let report = storageEvents(for: torrent, to: core.events)
        let store = PieceStore(
            torrent: torrent, storage: configuration.makeStorage(torrent, metadata.downloadDirectory, report),
            pool: configuration.workerPool, events: report)
        let adopted: Bool? = try? await core.loop.submit {
            guard core.torrents[session.handle.wireInfoHash] === session, !core.isShutDown else { return false }
            session.adoptMetadata(torrent, store: store)
            session.pausedBeforeCheck = session.state == .paused
            session.state = .checking
            session.checkProgress = 0
            return true
        }.get()
        guard adopted == true else { return }
        configuration.logger.info(
            "metadata of \(session.handle.name) verified: \(torrent.name), \(torrent.layout.pieceCount) pieces")
        let priorities =
            metadata.filePriorities
            ?? MagnetMetadata.priorities(selectOnly: metadata.magnet.selectOnly, fileCount: torrent.layout.files.count)
        do {
            try await checkExistingData(
                of: session, resume: session.resumePath, filePriorities: priorities, core: core)
        } catch {
            _ = try? await core.loop.submit { core.downloads.fail(session, error: error) }.get()
            return
        }
        _ = try? await core.loop.submit { core.metadataArrived(session) }.get()
    }
}
