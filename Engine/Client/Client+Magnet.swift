import BTMetainfo
import BTStorage
import BTWire
import Foundation
import NIOCore

/// Adding a torrent from a magnet link (BEP 9, BEP 53).
extension Client {
    /// Adds a torrent known by a magnet link. Until its info dictionary is known the torrent is
    /// ``TorrentState/fetchingMetadata`` (``TorrentStatus/metadataProgress``): it takes peers from the link's
    /// `x.pe`, announces to its `tr` trackers, looks it up in the DHT (when the client runs one) and learns
    /// peers by PEX; the connected peers that advertise `ut_metadata` supply the dictionary, which is
    /// verified against the link's info-hashes (peers that sent bad pieces lose reputation and are
    /// disconnected). Then the torrent (with the link's trackers and web seeds) is checked and downloaded
    /// like one added with ``addTorrent(_:downloadDirectory:resume:limits:filePriorities:)``, keeping the
    /// peers already connected; only the files of the link's BEP 53 `so` are wanted when it has one.
    ///
    /// With `resume`, the complete .torrent is kept beside the resume data (`RESUME.torrent`): when it is
    /// there, the torrent is added from it at once and nothing is fetched. A link whose metadata never comes
    /// stays fetching.
    /// - Throws: ``EngineError`` (`duplicateTorrent`, `storageFailed`, `invalidConfiguration`, `shutDown`).
    @discardableResult
    public func addTorrent(
        magnet: MagnetLink, downloadDirectory: String, resume: String? = nil, limits: TorrentLimits? = nil
    ) async throws(EngineError) -> TorrentHandle {
        try await lifecycle.add(magnet: magnet, downloadDirectory: downloadDirectory, resume: resume, limits: limits)
    }

}

extension ClientCore {
    /// A magnet's info dictionary verified: builds its torrent (with the link's trackers and web seeds) and
    /// sets it up (``TorrentLifecycle/adoptMetadata(_:of:metadata:core:)``). A dictionary that hashes right but that
    /// the parser refuses stops the torrent (``TorrentState/failed``).
    func metadataVerified(_ session: TorrentSession, bytes: [UInt8]) {
        guard let metadata = session.metadata else { return }
        let torrent: Torrent
        do {
            torrent = try Torrent(infoDictionary: bytes, magnet: metadata.magnet)
        } catch {
            session.state = .failed
            session.error = "the metadata is not a valid torrent: \(error)"
            configuration.logger.warning("\(session.handle.name): \(session.error!)")
            return
        }
        guard torrent.filesMissingPieceLayers.isEmpty else {
            // BEP 52: a v2 or hybrid info dictionary has no piece hashes; fetch the layers first.
            pieceLayers.start(torrent, session: session)
            return
        }
        let core = self
        Task { await TorrentLifecycle.adoptMetadata(torrent, of: session, metadata: metadata, core: core) }
    }

    /// The check after a magnet's metadata is over: every connection learns the piece count (an active one
    /// sends our availability and reports the peer's), and requests start.
    func metadataArrived(_ session: TorrentSession) {
        guard torrents[session.handle.wireInfoHash] === session else { return }
        rebuildNameIndexes()  // a magnet with btih alone learnt a hybrid's v2 hash
        let now = loop.now
        for connection in Array(session.connections.values) where !connection.isClosed {
            let remote = connection.isIncoming || IPAddress(connection.host) != nil ? connection.endpoint.address : nil
            let config = connections.peerConfiguration(session, remote: remote, byV2Identity: connection.dialledAsV2)
            guard let actions = connection.withMachine({ $0.metadataArrived(config, now: now) }) else { continue }
            perform(actions, on: connection)
        }
    }
}

extension Client {
    /// The torrent behind `handle` (for a magnet: built from the fetched info dictionary with the link's
    /// trackers and web seeds, so `Torrent.encoded()` is a complete .torrent); nil while a magnet's metadata
    /// is being fetched, or when the torrent is not in the client.
    public func torrent(of handle: TorrentHandle) async -> Torrent? {
        try? await onLoop { core in
            guard let session = core.session(handle), session.hasMetadata else { return nil }
            return session.torrent
        }
    }
}
