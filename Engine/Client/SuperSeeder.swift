import BTMetainfo
import BTWire
import NIOCore

/// Super-seeding (BEP 16) in the engine: a torrent with ``TorrentLimits/superSeeding`` that is complete hides
/// its pieces from each new connection (the connection's own view of our pieces starts empty, so the state
/// machine sends have-none or no bitfield, and refuses requests for pieces outside it) and offers pieces with
/// `have` as the torrent's ``SuperSeeding`` policy decides. Connections made before super-seeding was switched
/// on keep the full view they were given; switching it off announces every piece to each connection.
final class SuperSeeder: EngineComponent, @unchecked Sendable {
    unowned let core: ClientCore
    /// Each super-seeding torrent's policy, by wire info-hash.
    private var policies: [[UInt8]: SuperSeeding<UInt64>] = [:]

    init(core: ClientCore) { self.core = core }

    /// Whether `session` super-seeds now: asked for, and every piece verified (a torrent still downloading
    /// seeds normally, as libtorrent does).
    func isActive(_ session: TorrentSession) -> Bool {
        session.limits.superSeeding && session.hasMetadata && session.picker.have.isAllSet
    }

    /// Wire settings of a new connection of `session`: an empty view of our pieces and no wish for the peer's.
    func configure(_ config: inout PeerConfiguration, for session: TorrentSession) {
        guard isActive(session) else { return }
        config.localPieces = Bitfield(count: config.localPieces.count)
        config.wantedPieces = Bitfield(count: config.localPieces.count)
    }

    /// A connection of `session` finished its handshakes: its first offers.
    func connected(_ connection: PeerConnection) {
        guard let session = connection.session, isActive(session), hidesPieces(connection) else { return }
        let now = loop.now
        decide(session) { policy, swarm in policy.peerJoined(connection.key, swarm: swarm, now: core.instant(now)) }
    }

    /// `connection`'s peer announced pieces (`piece`: one `have`; nil: a bitfield, have-all or have-none).
    func announced(_ connection: PeerConnection, piece: Int?) {
        guard let session = connection.session, policies[session.handle.wireInfoHash] != nil else { return }
        let now = core.instant(loop.now)
        decide(session) { policy, swarm in policy.peerAnnounced(connection.key, piece: piece, swarm: swarm, now: now) }
    }

    /// The one-second tick: forgets peers that left, replaces offers that waited too long.
    func tick(_ session: TorrentSession, now: NIODeadline) {
        let key = session.handle.wireInfoHash
        guard var policy = policies[key] else { return }
        for peer in policy.peers where session.connections[peer]?.isClosed ?? true { policy.peerLeft(peer) }
        policies[key] = policy
        decide(session) { policy, swarm in policy.tick(swarm: swarm, now: core.instant(now)) }
    }

    /// The torrent's limits changed: switching super-seeding off announces every piece to every connection.
    func apply(_ session: TorrentSession) {
        let key = session.handle.wireInfoHash
        guard !isActive(session), policies.removeValue(forKey: key) != nil else { return }
        let now = loop.now
        let pieceCount = session.picker.layout.pieceCount
        for connection in session.connections.values where connection.isActive {
            var actions: [PeerAction] = []
            _ = connection.withMachine { machine in
                actions += machine.setWantedPieces(session.wantedPiecesForInterest, now: now)
                for piece in 0..<pieceCount where !machine.localPieces[piece] {
                    actions += machine.havePiece(piece, now: now)
                }
            }
            core.perform(actions, on: connection, refill: false)
        }
    }

    /// Whether `connection` was set up super-seeding (its view of our pieces is not the torrent's).
    private func hidesPieces(_ connection: PeerConnection) -> Bool {
        guard let machine = connection.machine else { return false }
        return !machine.localPieces.isAllSet
    }

    /// Runs `body` on the torrent's policy and sends each offer it makes as a `have` on its connection.
    private func decide(
        _ session: TorrentSession,
        _ body: (inout SuperSeeding<UInt64>, SuperSeeding<UInt64>.Swarm) -> [SuperSeeding<UInt64>.Offer]
    ) {
        let key = session.handle.wireInfoHash
        var policy =
            policies[key]
            ?? SuperSeeding(
                pieceCount: session.picker.layout.pieceCount, seed: UInt64(truncatingIfNeeded: key.hashValue))
        let swarm = SuperSeeding<UInt64>.Swarm(
            peerHas: { peer, piece in session.connections[peer]?.machine?.peerPieces[piece] ?? false },
            availability: { piece in session.picker.availability(ofPiece: piece) })
        let offers = body(&policy, swarm)
        policies[key] = policy
        let now = loop.now
        for offer in offers {
            guard let connection = session.connections[offer.peer], connection.isActive,
                let actions = connection.withMachine({ $0.havePiece(offer.piece, now: now) })
            else { continue }
            core.perform(actions, on: connection, refill: false)
        }
    }
}
