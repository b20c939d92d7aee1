import BTMetainfo
import BTWire
import Foundation
import NIOCore

/// The BEP 52 hash exchange in the engine (`hash request`, `hashes`, `hash reject`), both ways.
///
/// Serving: a peer's `hash request` for a torrent whose piece layers we have is answered by the session's
/// ``PieceLayerServing`` (BTWire's ``PieceLayerServe``, rate-limited per peer) with the hashes and their proof
/// up to the file's `pieces root`, or a `hash reject` (no layers yet, the block layer, over the rate).
///
/// Fetching, eagerly: when a v2 or hybrid torrent's info dictionary is known but some of its piece layers
/// are not (a magnet after BEP 9, or a .torrent without `piece layers`), the session stays
/// ``TorrentState/fetchingMetadata`` with a ``PendingPieceLayers``: every connection whose peer speaks v2
/// joins BTWire's ``PieceLayerFetch``, which plans the requests over the peers, verifies each answer against
/// the file's root and names the peers whose hashes do not verify (they lose reputation and are
/// disconnected, as for bad metadata). Once every layer is verified the torrent, with its layers, is adopted
/// as a magnet's is (``TorrentLifecycle/adoptMetadata(_:of:metadata:core:)``): `RESUME.torrent` is written with
/// `piece layers`, the storage verifies pieces by them, and requests start. Nothing is requested before:
/// a v2-only torrent has no other hashes. A hybrid whose layers do not come within
/// ``PendingPieceLayers/hybridWait`` (3 s when none of its peers speaks v2) is adopted without them and checks pieces by its
/// v1 SHA-1 hashes, as libtorrent downloads a hybrid whose v2 hashes it lacks.
final class PieceLayerExchanger: EngineComponent, @unchecked Sendable {
    unowned let core: ClientCore

    init(core: ClientCore) { self.core = core }

    /// Sets the BEP 52 v2 bit in a v2 or hybrid torrent's handshake (the peer may then ask us for hashes).
    func configure(_ config: inout PeerConfiguration, for session: TorrentSession) {
        if session.knownInfoHashes.v2 != nil { config.localReserved[.v2Upgrade] = true }
    }

    /// A v2 or hybrid torrent's info dictionary is known (`torrent`) but some of its piece layers are not:
    /// starts fetching them on the session (still fetching its metadata) and asks the peers connected.
    func start(_ torrent: Torrent, session: TorrentSession) {
        guard session.metadata != nil else { return }
        session.metadata!.isAdopting = true
        session.metadata!.layers = PendingPieceLayers(torrent: torrent, now: loop.now)
        if !torrent.isPrivate { session.metadataServe.setInfoDictionary(torrent.infoBytes) }
        let missing = torrent.filesMissingPieceLayers.count
        configuration.logger.info("\(session.handle.name): fetching the piece layers of \(missing) file(s) from peers")
        for connection in session.connections.values { look(at: connection) }
    }

    /// A connection whose handshakes are done joins the fetch once, if its peer speaks v2.
    func look(at connection: PeerConnection) {
        guard let session = connection.session, let pending = session.metadata?.layers, connection.isActive,
            !pending.seen.contains(connection.key)
        else { return }
        session.metadata!.layers!.seen.insert(connection.key)
        guard PendingPieceLayers.speaksV2(connection.machine?.remoteHandshake, torrent: pending.torrent) else {
            if redialsByV2Identity(connection, session: session, torrent: pending.torrent) { return }
            configuration.logger.debug("\(connection.endpoint) does not speak v2: not asked for piece layers")
            return
        }
        session.metadata!.layers!.askedPeers += 1
        perform(session.metadata!.layers!.fetch.addPeer(connection.key, now: loop.now), session: session)
    }

    /// A hybrid learnt its v2 hash only with its metadata (a magnet with `btih` alone), and `connection` was
    /// dialled by the v1 hash through an MSE handshake (whether RC4 or plaintext was selected after it) to a
    /// peer that sets BEP 52's v2 bit: libtorrent answers no hash request there, and cannot upgrade a
    /// connection whose torrent the MSE handshake already named. It is closed and, half a second later (libtorrent
    /// keeps one connection per address and drops a second one that arrives before the first is gone),
    /// dialled again by the truncated v2 hash (see `ConnectionManager.dialsByV2Identity`). Returns whether it
    /// was.
    func redialsByV2Identity(_ connection: PeerConnection, session: TorrentSession, torrent: Torrent) -> Bool {
        guard torrent.version == .hybrid, !connection.isIncoming, !connection.plaintextOnly, !connection.dialledAsV2,
            connection.machine?.remoteHandshake?.reserved[.v2Upgrade] == true,
            core.connections.dialsByV2Identity(host: connection.host, port: connection.port, session: session)
        else { return false }
        let (host, port, source) = (connection.host, connection.port, connection.machine?.source ?? .tracker)
        configuration.logger.info(
            "\(connection.endpoint) speaks v2 on a v1 connection: redialling it by the hybrid's v2 info-hash")
        core.connections.disconnect(connection, .local, detail: "redialled by the hybrid's v2 info-hash")
        loop.scheduleTask(in: .milliseconds(500)) { [core] in
            guard !core.isShutDown, core.torrents[session.handle.wireInfoHash] === session else { return }
            core.connections.addPeer(host: host, port: port, source: source, to: session)
        }
        return true
    }

    /// A hash exchange message from `connection`'s peer.
    func received(_ message: PeerMessage, from connection: PeerConnection) {
        guard let session = connection.session else { return }
        let now = loop.now
        switch message {
        case .hashRequest(let request):
            serve(request, to: connection, session: session, now: now)
        case .hashes(let hashes) where isBlockBlameRequest(hashes.request, session: session):
            receivedBlockLayer(message, from: connection, session: session)
        case .hashReject(let request) where isBlockBlameRequest(request, session: session):
            receivedBlockLayer(message, from: connection, session: session)
        case .hashes(let hashes):
            guard session.metadata?.layers != nil else { return }
            look(at: connection)
            perform(session.metadata!.layers!.fetch.received(hashes, from: connection.key, now: now), session: session)
        case .hashReject(let request):
            configuration.logger.debug("\(connection.endpoint) rejected \(request)")
            guard session.metadata?.layers != nil else { return }
            perform(
                session.metadata!.layers!.fetch.rejected(request, by: connection.key, now: now), session: session)
        default:
            return
        }
    }

    /// Every second: connections that became active since, requests past their deadline, and a hybrid that
    /// waited long enough.
    func tick(_ session: TorrentSession, now: NIODeadline) {
        tickBlockBlame(session, now: now)
        guard session.metadata?.layers != nil else { return }
        for connection in session.connections.values { look(at: connection) }
        guard let pending = session.metadata?.layers else { return }
        if pending.hybridGivesUp(now: now) {
            configuration.logger.info(
                "\(session.handle.name): no peer gave piece layers; downloading the hybrid by its v1 hashes")
            adopt(session, torrent: pending.torrentWithLayers)
            return
        }
        perform(session.metadata!.layers!.fetch.tick(now: now), session: session)
    }

    /// The connection closed: its requests go to other peers, its serving window is forgotten.
    func closed(_ connection: PeerConnection, session: TorrentSession) {
        session.pieceLayerServing?.peerLeft(connection.key)
        guard session.metadata?.layers?.seen.remove(connection.key) != nil else { return }
        perform(session.metadata!.layers!.fetch.peerLeft(connection.key, now: loop.now), session: session)
    }

    private func serve(_ request: HashRequest, to connection: PeerConnection, session: TorrentSession, now: NIODeadline)
    {
        let answer: PieceLayerServe.Answer
        if session.hasMetadata, session.torrent.version != .v1 {
            if session.pieceLayerServing == nil {
                session.pieceLayerServing = PieceLayerServing(torrent: session.torrent)
            }
            if request.baseLayer == 0 {
                serveBlocks(request, to: connection, session: session, now: now)
                return
            }
            answer = session.pieceLayerServing!.answer(request, from: connection.key, now: now)
        } else {
            answer = .reject(request)
        }
        let message: PeerMessage
        switch answer {
        case .hashes(let hashes): message = .hashes(hashes)
        case .reject(let request): message = .hashReject(request)
        }
        send(message, to: connection)
    }

    /// What the fetch asks for.
    private func perform(_ actions: [PieceLayerFetch<UInt64>.Action], session: TorrentSession) {
        for action in actions {
            switch action {
            case .send(let request, let key):
                configuration.logger.debug("asking \(key) for \(request)")
                if let connection = session.connections[key] { send(.hashRequest(request), to: connection) }
            case .blame(let key):
                blame(key, session: session)
            case .layerVerified:
                guard let pending = session.metadata?.layers, pending.fetch.isComplete else { continue }
                configuration.logger.info("\(session.handle.name): every piece layer verified")
                adopt(session, torrent: pending.torrentWithLayers)
                return
            }
        }
    }

    /// The layers are all known (or a hybrid stops waiting): the torrent is set up as a magnet's is.
    private func adopt(_ session: TorrentSession, torrent: Torrent) {
        guard let metadata = session.metadata else { return }
        session.metadata!.layers = nil
        let core = self.core
        Task { await TorrentLifecycle.adoptMetadata(torrent, of: session, metadata: metadata, core: core) }
    }

    /// A peer's hashes did not prove up to the file's root: a corrupt piece for the ledger, and the
    /// connection ends.
    func blame(_ key: UInt64, session: TorrentSession, detail: String = "piece layer hashes do not verify") {
        guard let address = session.peerAddresses[key] else { return }
        let update = core.ledger.pieceFailed(contributors: [address])
        configuration.logger.info("blamed \(address) of \(session.handle.name): \(detail)")
        guard let connection = session.connections[key] else { return }
        let blacklisted = update.newlyBlacklisted.contains(address)
        core.connections.disconnect(connection, blacklisted ? .blacklisted : .protocolViolation, detail: detail)
    }

    func send(_ message: PeerMessage, to connection: PeerConnection) {
        let now = loop.now
        guard let actions = connection.withMachine({ $0.sendHashExchange(message, now: now) }) else { return }
        core.perform(actions, on: connection, refill: false)
    }
}
