import BTMetainfo

/// What each peer has and how many peers have each piece: the counts rarest-first picks by
/// (``PiecePicker/availability(ofPiece:)``). A seed (a full bitfield, `have_all`, or the `have` that
/// completes it) is one count for every piece rather than one per piece, so seeds joining and leaving cost
/// O(1).
struct PeerPieceCounts<Peer: Hashable & Sendable>: Sendable {
    /// What one peer has.
    enum PeerPieces: Sendable {
        /// Every piece.
        case all
        /// These pieces.
        case partial(Bitfield)

        /// Whether the peer has `piece`.
        subscript(piece: Int) -> Bool {
            switch self {
            case .all: return true
            case .partial(let bitfield): return bitfield[piece]
            }
        }
    }

    /// Number of pieces of the torrent.
    let pieceCount: Int
    /// Peers with a partial bitfield that have each piece.
    private var partialCounts: [Int]
    /// Peers that have every piece.
    private var seedCount = 0
    /// What each known peer has.
    private var peers: [Peer: PeerPieces] = [:]

    /// No peer known yet, for a torrent of `pieceCount` pieces.
    init(pieceCount: Int) {
        self.pieceCount = pieceCount
        self.partialCounts = [Int](repeating: 0, count: pieceCount)
    }

    /// Number of peers known to have `piece`.
    func count(ofPiece piece: Int) -> Int { partialCounts[piece] + seedCount }

    /// What `peer` has; nil when it never said.
    func pieces(of peer: Peer) -> PeerPieces? { peers[peer] }

    /// `peer` has exactly `bitfield` (its count must be ``pieceCount``), replacing what it said before.
    mutating func set(_ peer: Peer, _ bitfield: Bitfield) {
        remove(peer)
        if bitfield.isAllSet {
            peers[peer] = .all
            seedCount += 1
        } else {
            peers[peer] = .partial(bitfield)
            for piece in bitfield.setIndexes { partialCounts[piece] += 1 }
        }
    }

    /// `peer` has every piece.
    mutating func setAll(_ peer: Peer) {
        remove(peer)
        peers[peer] = .all
        seedCount += 1
    }

    /// `peer` has `piece` too (a valid index).
    mutating func add(_ piece: Int, to peer: Peer) {
        switch peers[peer] {
        case .all:
            return
        case .partial(var bitfield):
            guard !bitfield[piece] else { return }
            bitfield[piece] = true
            partialCounts[piece] += 1
            if bitfield.isAllSet {
                for index in 0..<pieceCount { partialCounts[index] -= 1 }
                peers[peer] = .all
                seedCount += 1
            } else {
                peers[peer] = .partial(bitfield)
            }
        case nil:
            var bitfield = Bitfield(count: pieceCount)
            bitfield[piece] = true
            set(peer, bitfield)
        }
    }

    /// `peer` is gone: its pieces no longer count.
    mutating func remove(_ peer: Peer) {
        switch peers.removeValue(forKey: peer) {
        case .all: seedCount -= 1
        case .partial(let bitfield): for piece in bitfield.setIndexes { partialCounts[piece] -= 1 }
        case nil: break
        }
    }
}
