import BTMetainfo
import BTWire
import NIOCore

/// Metadata exchange (BEP 9, `ut_metadata`) in the engine, both ways. Our extension handshake advertises
/// `ut_metadata` on every connection of a torrent that is not private (libtorrent does not offer a private
/// torrent's metadata either), with `metadata_size` once we have the info dictionary; a peer's requests are
/// answered by the torrent's BTWire ``MetadataServe`` (data, or reject while we have none, rate-limited).
/// For a magnet (``TorrentSession/metadata``), every connection whose peer advertises `ut_metadata` joins
/// BTWire's ``MetadataFetch``, which plans the requests, verifies the dictionary against the info-hashes and
/// names the peers that lied: they lose reputation and are disconnected. The verified dictionary goes to
/// ``ClientCore/metadataVerified(_:bytes:)``. The BEP 52 hash exchange (``PieceLayerExchanger``) rides on
/// these hooks: its handshake bit, its peers, its tick and its closed connections are passed on from here.
final class MetadataExchanger: EngineComponent, @unchecked Sendable {
    unowned let core: ClientCore
    /// Our extension message id for `ut_metadata` (libtorrent uses 2 too).
    static let messageID: UInt8 = 2

    init(core: ClientCore) { self.core = core }

    /// Sets `ut_metadata` (and `metadata_size`, or the wait for metadata) in a connection's configuration.
    func configure(_ config: inout PeerConfiguration, for session: TorrentSession) {
        core.pieceLayers.configure(&config, for: session)
        if session.metadata != nil {
            config.awaitsMetadata = true
            config.extensionHandshake.messages[ExtensionHandshake.Name.metadata] = Self.messageID
        } else if !session.torrent.isPrivate, !session.torrent.infoBytes.isEmpty {
            config.extensionHandshake.messages[ExtensionHandshake.Name.metadata] = Self.messageID
            config.extensionHandshake.metadataSize = session.torrent.infoBytes.count
        }
    }

    /// A connection's peer may have sent its extension handshake: one that advertises `ut_metadata` joins the
    /// fetch of a magnet (once).
    func look(at connection: PeerConnection) {
        if connection.session?.metadata?.layers != nil { core.pieceLayers.look(at: connection) }
        guard let session = connection.session, session.metadata != nil, !session.metadata!.isAdopting,
            connection.isActive, !session.metadata!.seen.contains(connection.key),
            let remote = connection.machine?.remoteExtensions
        else { return }
        session.metadata!.seen.insert(connection.key)
        guard let id = remote.messages[ExtensionHandshake.Name.metadata], id != 0 else { return }
        let actions = session.metadata!.fetch.addPeer(connection.key, metadataSize: remote.metadataSize, now: loop.now)
        perform(actions, session: session)
    }

    /// A `ut_metadata` message from `connection`'s peer: a request is answered, anything else is the fetch's.
    func received(_ message: MetadataMessage, from connection: PeerConnection) {
        guard let session = connection.session else { return }
        let now = loop.now
        if case .request = message {
            guard let answer = session.metadataServe.answer(message, from: connection.key, now: now) else { return }
            if case .data = answer { connection.servedMetadata = true }
            send(answer, to: connection)
            return
        }
        guard session.metadata != nil, !session.metadata!.isAdopting else { return }
        look(at: connection)
        let actions = session.metadata!.fetch.received(message, from: connection.key, now: now)
        perform(actions, session: session)
    }

    /// Every second: connections whose extension handshake came since, and requests past their deadline.
    func tick(_ session: TorrentSession, now: NIODeadline) {
        core.pieceLayers.tick(session, now: now)
        guard session.metadata != nil, !session.metadata!.isAdopting else { return }
        for connection in session.connections.values { look(at: connection) }
        guard session.metadata != nil, !session.metadata!.isAdopting else { return }
        perform(session.metadata!.fetch.tick(now: now), session: session)
    }

    /// The connection closed: its requests go to other peers, its serving window is forgotten.
    func closed(_ connection: PeerConnection, session: TorrentSession) {
        session.metadataServe.peerLeft(connection.key)
        core.pieceLayers.closed(connection, session: session)
        guard session.metadata != nil, !session.metadata!.isAdopting,
            session.metadata!.seen.remove(connection.key) != nil
        else { return }
        perform(session.metadata!.fetch.peerLeft(connection.key, now: loop.now), session: session)
    }

    /// What the fetch asks for.
    private func perform(_ actions: [MetadataFetch<UInt64>.Action], session: TorrentSession) {
        for action in actions {
            switch action {
            case .send(let message, let key):
                if let connection = session.connections[key] { send(message, to: connection) }
            case .hashMismatch(let suppliers):
                configuration.logger.info(
                    "metadata of \(session.handle.name) did not verify; \(suppliers.count) suppliers are suspects")
            case .blame(let key, let reason):
                blame(key, reason, session: session)
            case .completed(let bytes):
                session.metadata?.isAdopting = true
                core.metadataVerified(session, bytes: bytes)
                return
            }
        }
    }

    /// A peer lied about the metadata: a corrupt piece for the ledger (a bad copy counts as much as a bad
    /// piece of data), and the connection ends.
    private func blame(_ key: UInt64, _ reason: MetadataFetch<UInt64>.BlameReason, session: TorrentSession) {
        guard let address = session.peerAddresses[key] else { return }
        let update = core.ledger.pieceFailed(contributors: [address])
        configuration.logger.info("blamed \(address) for the metadata of \(session.handle.name): \(reason)")
        guard let connection = session.connections[key] else { return }
        let blacklisted = update.newlyBlacklisted.contains(address)
        core.connections.disconnect(
            connection, blacklisted ? .blacklisted : .protocolViolation, detail: "bad metadata: \(reason)")
    }

    private func send(_ message: MetadataMessage, to connection: PeerConnection) {
        let now = loop.now
        guard let actions = connection.withMachine({ $0.sendExtension(.metadata(message), now: now) }) else { return }
        core.perform(actions, on: connection, refill: false)
    }
}
