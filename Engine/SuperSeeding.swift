import BTMetainfo

/// Super-seeding (BEP 16): a seed that hides what it has and offers each peer a piece or two at a time, so that
/// the swarm, not the seed, spreads each piece after the first copy.
///
/// A pure policy, generic over the peer's key and I/O-free: the engine tells it who joined, left and announced
/// which piece (and the time), and it answers which pieces to offer to whom (each offer is a `have` the engine
/// sends). What a peer has and how many peers have a piece stay with their owners (the peer's state machine,
/// the ``PiecePicker``): the policy asks for them through a ``Swarm`` view when it decides.
///
/// The rules, as libtorrent applies them (`torrent::get_piece_to_super_seed`, `peer_connection::superseed_piece`):
/// - A peer is offered ``offersPerPeer`` pieces when it connects: pieces it lacks that no peer has and no other
///   peer is offered, ties broken at random. Where libtorrent then offers pieces the swarm already has (the
///   least offered, then the rarest), this policy offers nothing more: the peer gets those from the swarm, and
///   the seed uploads each piece about once. Only a peer left without an offer for ``patience`` is offered
///   such a piece (least offered, then rarest), so a swarm whose holders do not upload still completes.
/// - An offer is replaced once it is seen coming back: the peer has the piece and so does another peer (BEP 16:
///   "until it sees the piece it sent to the peer being received by another peer"). When the peer is the only
///   one, or another peer does not take the piece within ``patience``, the peer having it is enough
///   (libtorrent's non-strict mode), so a swarm of one or of peers that never trade still completes.
/// - An offer of a piece the peer already had (its bitfield arrived after the offer) is replaced at once.
/// - Requests are served only for pieces offered to the peer: the engine's per-peer view of our pieces holds
///   exactly the offers, so the state machine refuses the rest (reject with BEP 6, ignore without).
public struct SuperSeeding<Peer: Hashable & Sendable>: Sendable {
    /// What the policy asks of the swarm when it decides: whether a peer has a piece (its announced
    /// pieces) and how many peers have a piece (the availability the picker counts).
    public struct Swarm {
        /// Whether `peer` announced `piece`.
        public var peerHas: (Peer, Int) -> Bool
        /// How many connected peers announced `piece`.
        public var availability: (Int) -> Int

        /// A view over the two questions.
        public init(peerHas: @escaping (Peer, Int) -> Bool, availability: @escaping (Int) -> Int) {
            self.peerHas = peerHas
            self.availability = availability
        }
    }

    /// A piece to announce (`have`) to a peer.
    public struct Offer: Hashable, Sendable {
        /// Who is offered the piece.
        public var peer: Peer
        /// The piece offered.
        public var piece: Int

        /// An offer of `piece` to `peer`.
        public init(peer: Peer, piece: Int) {
            self.peer = peer
            self.piece = piece
        }
    }

    /// One piece offered to one peer, and since when the peer has it (nil: still downloading it).
    private struct Pending: Sendable {
        var piece: Int
        var heldSince: EngineInstant?
    }

    /// Number of pieces of the torrent.
    public let pieceCount: Int
    /// Pieces offered to a peer at once (libtorrent: two).
    public let offersPerPeer: Int
    /// How long an offer the peer completed waits to be seen at another peer before it is replaced anyway.
    public let patience: Duration

    /// Since when each peer without an offer has had none.
    private var idleSince: [Peer: EngineInstant] = [:]
    /// Current offers of each peer, oldest first.
    private var pending: [Peer: [Pending]] = [:]
    /// How many peers currently hold an offer of each piece.
    private var offerCounts: [Int]
    /// The tie-breaking generator (BTMetainfo's SplitMix64), so a run repeats from its seed.
    private var random: SeededRandom

    /// A policy for a torrent of `pieceCount` pieces.
    public init(pieceCount: Int, offersPerPeer: Int = 2, patience: Duration = .seconds(30), seed: UInt64 = 0x5eed) {
        self.pieceCount = max(0, pieceCount)
        self.offersPerPeer = max(1, offersPerPeer)
        self.patience = patience
        self.offerCounts = [Int](repeating: 0, count: max(0, pieceCount))
        self.random = SeededRandom(seed: seed)
    }

    /// The peers the policy follows.
    public var peers: Set<Peer> { Set(pending.keys) }

    /// The pieces currently offered to `peer`, oldest first.
    public func offers(to peer: Peer) -> [Int] { pending[peer]?.map(\.piece) ?? [] }

    /// Whether `piece` is currently offered to `peer`.
    public func isOffered(_ piece: Int, to peer: Peer) -> Bool {
        pending[peer]?.contains { $0.piece == piece } ?? false
    }

    /// `peer` connected: the pieces to offer it now (at most ``offersPerPeer``; fewer when it lacks fewer).
    public mutating func peerJoined(_ peer: Peer, swarm: Swarm, now: EngineInstant) -> [Offer] {
        guard pending[peer] == nil else { return [] }
        pending[peer] = []
        return topUp(peer, swarm: swarm, now: now)
    }

    /// `peer` left: its offers are forgotten.
    public mutating func peerLeft(_ peer: Peer) {
        idleSince[peer] = nil
        guard let offers = pending.removeValue(forKey: peer) else { return }
        for offer in offers { offerCounts[offer.piece] -= 1 }
    }

    /// `peer` announced what it has (a bitfield or have-all, or a `have` of `piece` when not nil); the swarm
    /// view already counts it. Returns the new offers: to `peer` for an offer it completed or already had, and
    /// to every other peer whose completed offer `peer` now has too.
    public mutating func peerAnnounced(_ peer: Peer, piece: Int? = nil, swarm: Swarm, now: EngineInstant) -> [Offer] {
        var result: [Offer] = []
        if let piece {
            guard piece >= 0, piece < pieceCount else { return [] }
            // Offers of this piece to other peers that hold it: it is seen coming back.
            for other in pending.keys where other != peer {
                guard let index = pending[other]?.firstIndex(where: { $0.piece == piece }) else { continue }
                if pending[other]?[index].heldSince == nil, !swarm.peerHas(other, piece) { continue }
                retire(other, at: index)
                result += topUp(other, swarm: swarm, now: now)
            }
        }
        guard var offers = pending[peer] else { return result }
        var retired = false
        for index in offers.indices.reversed() where offers[index].heldSince == nil {
            let held = offers[index].piece
            guard swarm.peerHas(peer, held) else { continue }
            let alone = pending.count == 1
            let seenElsewhere = swarm.availability(held) >= 2
            if piece != held || alone || seenElsewhere {
                // Completed and already spread, alone in the swarm, or the peer had it before we offered it.
                offers.remove(at: index)
                offerCounts[held] -= 1
                retired = true
            } else {
                offers[index].heldSince = now
            }
        }
        pending[peer] = offers
        if retired { result += topUp(peer, swarm: swarm, now: now) }
        return result
    }

    /// Time passed: offers completed longer than ``patience`` ago without being seen elsewhere are replaced,
    /// peers with room are offered pieces that became unspread (their holders left), and a peer without an
    /// offer for ``patience`` is offered a piece the swarm has.
    public mutating func tick(swarm: Swarm, now: EngineInstant) -> [Offer] {
        var result: [Offer] = []
        for peer in pending.keys {
            guard let offers = pending[peer] else { continue }
            let stale = offers.indices.filter { index in
                guard let since = offers[index].heldSince else { return false }
                return now - since >= patience
            }
            for index in stale.reversed() { retire(peer, at: index) }
            guard let count = pending[peer]?.count, count < offersPerPeer else { continue }
            result += topUp(peer, swarm: swarm, now: now)
            if let since = idleSince[peer], now - since >= patience {
                result += topUp(peer, swarm: swarm, now: now, spreadPieces: true)
            }
        }
        return result
    }

    // MARK: Choosing

    private mutating func retire(_ peer: Peer, at index: Int) {
        guard let offer = pending[peer]?.remove(at: index) else { return }
        offerCounts[offer.piece] -= 1
    }

    /// Offers `peer` pieces until it holds ``offersPerPeer`` offers or lacks no piece we could offer (with
    /// `spreadPieces`, also pieces the swarm has or another peer is offered); records whether it is left idle.
    private mutating func topUp(_ peer: Peer, swarm: Swarm, now: EngineInstant, spreadPieces: Bool = false)
        -> [Offer]
    {
        var result: [Offer] = []
        while let offers = pending[peer], offers.count < offersPerPeer,
            let piece = choose(for: peer, excluding: offers.map(\.piece), swarm: swarm, spreadPieces: spreadPieces)
        {
            pending[peer]?.append(Pending(piece: piece, heldSince: nil))
            offerCounts[piece] += 1
            result.append(Offer(peer: peer, piece: piece))
        }
        if pending[peer]?.isEmpty ?? false {
            if idleSince[peer] == nil { idleSince[peer] = now }
        } else {
            idleSince[peer] = nil
        }
        return result
    }

    /// The piece `peer` lacks that is offered to the fewest peers, then the rarest, random among equals; without
    /// `spreadPieces`, only a piece no peer has and nobody is offered.
    private mutating func choose(for peer: Peer, excluding: [Int], swarm: Swarm, spreadPieces: Bool) -> Int? {
        var best: (Int, Int)?
        var ties: [Int] = []
        for piece in 0..<pieceCount where !excluding.contains(piece) && !swarm.peerHas(peer, piece) {
            let key = (offerCounts[piece], swarm.availability(piece))
            if !spreadPieces && key != (0, 0) { continue }
            if let current = best, key > current { continue }
            if let current = best, key == current {
                ties.append(piece)
                continue
            }
            best = key
            ties = [piece]
        }
        guard !ties.isEmpty else { return nil }
        return ties[Int(random.next() % UInt64(ties.count))]
    }
}
