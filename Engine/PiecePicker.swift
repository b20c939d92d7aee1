import BTMetainfo
import BTStorage

/// Decides which blocks to request from which peer; a pure component with no I/O.
///
/// The engine tells it what peers have (`have`, `bitfield`, `have_all`, `have_none`, disconnects), what
/// arrives and what storage verified, and asks it for blocks to request. Policy, in the order picks are
/// made for one peer:
/// 1. blocks of pieces already in progress, oldest first (partial pieces are finished before new ones
///    start), highest priority first; in sequential mode, lowest index first;
/// 2. pieces the peer suggested (BEP 6 `suggest`);
/// 3. new pieces: at random until ``Configuration/randomFirstPieces`` pieces are complete (so a new peer
///    quickly has something to trade), then rarest first with random tie-breaking (BEP 3 "Piece
///    downloading strategy"), or lowest index first in ``isSequential`` mode; higher file priority always
///    wins over rarity;
/// 4. endgame: when every wanted block that any peer can supply is requested, blocks already requested
///    from others, each from at most ``Configuration/endgameRequestersPerBlock`` peers; when one arrives,
///    ``blockReceived(_:from:)`` names the peers to cancel it with.
///
/// A peer on parole (see ``ReputationLedger``) only receives whole pieces: it starts pieces that no other
/// peer works on, and those pieces are not shared with anyone else, so a corrupt piece can be blamed on it
/// alone. A choked peer is only asked for its allowed-fast pieces (BEP 6).
///
/// Block lifecycle: free → requested (by one or, in endgame, several peers) → received (from one peer) →
/// written; when every block of a piece is written the piece is pending verification; storage's verdict
/// makes it ``PieceState/have`` or returns all its blocks to the pool. Memory is bounded by the number of
/// pieces plus ``Configuration/maximumPartialPieces`` partial pieces.
public struct PiecePicker<Peer: Hashable & Sendable>: Sendable {
    /// Tunables.
    public struct Configuration: Hashable, Sendable {
        /// Block size for requests (16 KiB, the size every client serves).
        public var blockSize = 16 * 1024
        /// Pieces picked at random before rarest-first starts.
        public var randomFirstPieces = 4
        /// In endgame, the most peers a block is requested from at once.
        public var endgameRequestersPerBlock = 3
        /// Most pieces in progress at once; new pieces are not started beyond it.
        public var maximumPartialPieces = 512

        /// Defaults as documented on each property.
        public init() {}
    }

    /// What the peer told us it has.
    public struct PickContext: Hashable, Sendable {
        /// The peer is choking us: only its allowed-fast pieces may be requested.
        public var choked: Bool
        /// Pieces the peer allows us to request while choked (BEP 6 `allowed_fast`).
        public var allowedFast: Set<Int>
        /// Pieces the peer suggested (BEP 6 `suggest`), most recent last.
        public var suggested: [Int]
        /// The peer is on parole: whole pieces only, not shared with other peers.
        public var onParole: Bool

        /// A context; by default an unchoked peer with nothing special.
        public init(choked: Bool = false, allowedFast: Set<Int> = [], suggested: [Int] = [], onParole: Bool = false) {
            self.choked = choked
            self.allowedFast = allowedFast
            self.suggested = suggested
            self.onParole = onParole
        }
    }

    /// Where a piece stands.
    public enum PieceState: Hashable, Sendable {
        /// Not started (or returned to the pool after failing verification).
        case missing
        /// Some blocks requested or received.
        case downloading
        /// Every block written; waiting for storage's hash verdict.
        case verifying
        /// Verified.
        case have
    }

    /// Where a block stands.
    public enum BlockState: Hashable, Sendable {
        /// Nobody is fetching it.
        case free
        /// Requested from these peers (more than one only in endgame).
        case requested(Set<Peer>)
        /// Arrived, not yet written.
        case received
        /// Written to storage. (Who sent it is storage's record, not the picker's: BTStorage's piece store
        /// names a piece's senders when it verifies or fails, so contributors are kept once.)
        case written
    }

    /// What to do with a block that arrived.
    public enum BlockReceipt: Hashable, Sendable {
        /// Keep the data (write it), and send `cancel` for the same block to these peers (endgame).
        case accepted(cancel: Set<Peer>)
        /// The block already arrived from another peer: drop the data.
        case duplicate
        /// Not a block we are fetching (unknown address, piece not in progress, verified or verifying).
        case unwanted
    }

    private struct Partial: Sendable {
        var blocks: [BlockState]
        var freeCount: Int
        var unwrittenCount: Int
        var exclusiveOwner: Peer?
        var verifying = false
        let startOrder: Int
    }

    /// The configuration in force.
    public let configuration: Configuration
    /// The torrent's piece layout.
    public let layout: PieceLayout
    /// Pieces we have verified.
    public private(set) var have: Bitfield
    /// Request pieces in index order (for streaming) instead of rarest first. While the peer unchokes us,
    /// pieces in progress do not jump that order either: a piece started out of order (an allowed-fast
    /// piece requested while choked) is finished when its turn comes.
    public var isSequential = false
    /// Pieces with a priority above 0 (those holding a byte of a file that is not skipped), verified or not.
    public private(set) var wantedPieces: Bitfield

    private var availability: PeerPieceCounts<Peer>
    private var filePriorities: [FilePriority]
    private var piecePriorities: [Int]
    private var partials: [Int: Partial] = [:]
    private var requestsByPeer: [Peer: Set<BlockRequest>] = [:]
    private var startCounter = 0

    /// A picker for `layout`, starting from the verified pieces in `have` (e.g. from resume data).
    public init(layout: PieceLayout, have: Bitfield? = nil, configuration: Configuration = Configuration()) {
        precondition(configuration.blockSize > 0 && configuration.endgameRequestersPerBlock > 0)
        precondition(have == nil || have!.count == layout.pieceCount, "bitfield size does not match the layout")
        self.layout = layout
        self.configuration = configuration
        self.have = have ?? Bitfield(count: layout.pieceCount)
        self.availability = PeerPieceCounts(pieceCount: layout.pieceCount)
        self.filePriorities = [FilePriority](repeating: .normal, count: layout.files.count)
        self.piecePriorities = []
        self.wantedPieces = Bitfield(count: layout.pieceCount)
        recomputePiecePriorities()
    }

    // MARK: - Queries

    /// Number of peers known to have `piece`.
    public func availability(ofPiece piece: Int) -> Int { availability.count(ofPiece: piece) }

    /// The priority a piece inherits: the highest of the non-pad files it overlaps (0 when none).
    public func priority(ofPiece piece: Int) -> Int { piecePriorities[piece] }

    /// The priority of file `index` (`FilePriority/normal` until set).
    public func priority(ofFile index: Int) -> FilePriority { filePriorities[index] }

    /// Number of blocks in `piece`.
    public func blockCount(ofPiece piece: Int) -> Int {
        (layout.size(ofPiece: piece) + configuration.blockSize - 1) / configuration.blockSize
    }

    /// The blocks of `piece`, in order.
    public func blocks(ofPiece piece: Int) -> [BlockRequest] {
        (0..<blockCount(ofPiece: piece)).map { block(piece, $0) }
    }

    /// Where `piece` stands.
    public func state(ofPiece piece: Int) -> PieceState {
        if have[piece] { return .have }
        guard let partial = partials[piece] else { return .missing }
        return partial.verifying ? .verifying : .downloading
    }

    /// Where `block` stands (``BlockState/free`` for blocks of pieces not in progress or not a valid block).
    public func state(of block: BlockRequest) -> BlockState {
        guard let index = blockIndex(block), let partial = partials[block.piece] else {
            return .free
        }
        return partial.blocks[index]
    }

    /// Blocks currently requested from `peer`.
    public func requests(of peer: Peer) -> Set<BlockRequest> { requestsByPeer[peer] ?? [] }

    /// Pieces in progress (downloading or verifying).
    public var partialPieces: [Int] { partials.keys.sorted() }

    /// Whether every wanted piece (priority above 0) is verified.
    public var isComplete: Bool {
        (0..<layout.pieceCount).allSatisfy { have[$0] || piecePriorities[$0] == 0 }
    }

    /// Whether `peer` has a wanted piece we lack (we should be interested in it).
    public func isInteresting(_ peer: Peer) -> Bool {
        guard let pieces = availability.pieces(of: peer) else { return false }
        return (0..<layout.pieceCount).contains { pieces[$0] && wanted($0) }
    }

    /// Whether endgame has begun: every wanted block that some connected peer can supply is requested or
    /// received.
    public var isInEndgame: Bool {
        var anyOutstanding = false
        for piece in 0..<layout.pieceCount where wanted(piece) && availability(ofPiece: piece) > 0 {
            guard let partial = partials[piece] else { return false }
            if partial.freeCount > 0 { return false }
            if !partial.verifying { anyOutstanding = true }
        }
        return anyOutstanding
    }

    // MARK: - What peers have

    /// A peer's `bitfield` (or `have_none`, with an empty bitfield); replaces what it announced before.
    public mutating func peerBitfield(_ peer: Peer, _ bitfield: Bitfield) {
        precondition(bitfield.count == layout.pieceCount, "bitfield size does not match the layout")
        availability.set(peer, bitfield)
    }

    /// A peer's `have_all` (BEP 6): it is a seed.
    public mutating func peerHasAll(_ peer: Peer) { availability.setAll(peer) }

    /// A peer's `have` for `piece`.
    public mutating func peerHas(_ peer: Peer, piece: Int) {
        precondition(piece >= 0 && piece < layout.pieceCount, "piece index out of range")
        availability.add(piece, to: peer)
    }

    /// A peer disconnected: its pieces no longer count, its requests return to the pool, and pieces it held
    /// exclusively on parole become shareable.
    public mutating func peerLeft(_ peer: Peer) {
        availability.remove(peer)
        _ = cancelRequests(of: peer)
        requestsByPeer[peer] = nil
        releaseExclusivity(of: peer)
    }

    /// The peer left parole (or the engine gives up isolating it): its pieces become shareable.
    public mutating func releaseExclusivity(of peer: Peer) {
        for (piece, partial) in partials where partial.exclusiveOwner == peer {
            partials[piece]!.exclusiveOwner = nil
        }
    }

    // MARK: - Priorities

    /// Sets the priority of file `index`; `FilePriority/skip` stops downloading pieces only that file needs.
    public mutating func setPriority(_ priority: FilePriority, ofFile index: Int) {
        filePriorities[index] = priority
        recomputePiecePriorities()
    }

    // MARK: - Picking

    /// Up to `count` blocks to request from `peer` now, marked as requested from it. Empty when the peer has
    /// nothing we want (or is unknown).
    public mutating func pick(
        for peer: Peer, count: Int, context: PickContext = PickContext(), using random: inout some RandomNumberGenerator
    ) -> [BlockRequest] {
        guard count > 0, let pieces = availability.pieces(of: peer) else { return [] }
        func supplies(_ piece: Int) -> Bool {
            piece >= 0 && piece < layout.pieceCount && pieces[piece] && wanted(piece)
                && (!context.choked || context.allowedFast.contains(piece))
        }
        var picked: [BlockRequest] = []

        // 1. Pieces in progress.
        // Only keys and sort keys are kept: holding the partials themselves would make every block state
        // array they share copied when `takeFreeBlocks` updates it.
        let inProgress = partials.compactMap { piece, partial -> (piece: Int, startOrder: Int)? in
            guard
                !partial.verifying && partial.freeCount > 0 && supplies(piece)
                    && (context.onParole ? partial.exclusiveOwner == peer : partial.exclusiveOwner == nil)
            else { return nil }
            return (piece, partial.startOrder)
        }
        let ordered = inProgress.sorted { a, b in
            let (pa, pb) = (piecePriorities[a.piece], piecePriorities[b.piece])
            if pa != pb { return pa > pb }
            return isSequential ? a.piece < b.piece : a.startOrder < b.startOrder
        }
        // In sequential mode, while unchoked, pieces in progress take their turn in index order with the new
        // ones (below), so a piece started out of order (allowed fast, while choked) does not jump ahead.
        let merged = isSequential && !context.choked
        for (piece, _) in ordered where picked.count < count && !merged {
            takeFreeBlocks(of: piece, for: peer, upTo: count, into: &picked)
        }

        // 2. and 3. New pieces: suggested ones, then random / sequential / rarest first.
        if picked.count < count && merged {
            let fresh = (0..<layout.pieceCount).filter { partials[$0] == nil && supplies($0) }
            let suggested = context.suggested.filter { partials[$0] == nil && supplies($0) }
            pickInIndexOrder(
                suggested
                    + (inProgress.map(\.piece) + fresh).sorted {
                        (-piecePriorities[$0], $0) < (-piecePriorities[$1], $1)
                    }, for: peer, count: count, onParole: context.onParole, into: &picked)
        }
        if picked.count < count && !merged {
            var candidates = (0..<layout.pieceCount).filter { partials[$0] == nil && supplies($0) }
            if !candidates.isEmpty {
                let suggested = context.suggested.filter { partials[$0] == nil && supplies($0) }
                let tieBreak = candidates.map { _ in random.next() as UInt64 }
                var order = Array(candidates.indices)
                if isSequential {
                    order.sort {
                        (-piecePriorities[candidates[$0]], candidates[$0]) < (
                            -piecePriorities[candidates[$1]], candidates[$1]
                        )
                    }
                } else if have.setCount < configuration.randomFirstPieces {
                    order.sort {
                        (-piecePriorities[candidates[$0]], tieBreak[$0]) < (
                            -piecePriorities[candidates[$1]], tieBreak[$1]
                        )
                    }
                } else {
                    order.sort {
                        (-piecePriorities[candidates[$0]], availability(ofPiece: candidates[$0]), tieBreak[$0])
                            < (-piecePriorities[candidates[$1]], availability(ofPiece: candidates[$1]), tieBreak[$1])
                    }
                }
                candidates = suggested + order.map { candidates[$0] }
            }
            for piece in candidates where picked.count < count {
                guard partials.count < configuration.maximumPartialPieces else { break }
                guard partials[piece] == nil else { continue }
                startPiece(piece, exclusiveTo: context.onParole ? peer : nil)
                takeFreeBlocks(of: piece, for: peer, upTo: count, into: &picked)
            }
        }

        // 4. Endgame: share outstanding requests (never with or from a peer on parole).
        if picked.count < count && !context.onParole && isInEndgame {
            var shared: [(requesters: Int, order: Int, block: BlockRequest)] = []
            for (piece, partial) in partials
            where !partial.verifying && partial.exclusiveOwner == nil && supplies(piece) {
                for (index, state) in partial.blocks.enumerated() {
                    guard case .requested(let requesters) = state, !requesters.contains(peer),
                        requesters.count < configuration.endgameRequestersPerBlock
                    else { continue }
                    shared.append((requesters.count, partial.startOrder, block(piece, index)))
                }
            }
            shared.sort { ($0.requesters, $0.order, $0.block) < ($1.requesters, $1.order, $1.block) }
            for candidate in shared.prefix(count - picked.count) {
                let index = blockIndex(candidate.block)!
                guard case .requested(var requesters) = partials[candidate.block.piece]!.blocks[index] else { continue }
                requesters.insert(peer)
                partials[candidate.block.piece]!.blocks[index] = .requested(requesters)
                requestsByPeer[peer, default: []].insert(candidate.block)
                picked.append(candidate.block)
            }
        }
        return picked
    }

    /// Sequential picking while unchoked: takes free blocks from `pieces` in the order given (suggested new
    /// pieces, then pieces in progress and new ones together by priority and index), starting new pieces.
    private mutating func pickInIndexOrder(
        _ pieces: [Int], for peer: Peer, count: Int, onParole: Bool, into picked: inout [BlockRequest]
    ) {
        for piece in pieces where picked.count < count {
            if partials[piece] == nil {
                guard partials.count < configuration.maximumPartialPieces else { continue }
                startPiece(piece, exclusiveTo: onParole ? peer : nil)
            }
            takeFreeBlocks(of: piece, for: peer, upTo: count, into: &picked)
        }
    }

    // MARK: - Block and piece outcomes

    /// A `piece` message arrived from `peer` with `block`'s data.
    public mutating func blockReceived(_ block: BlockRequest, from peer: Peer) -> BlockReceipt {
        // Taken out of the table while it changes (and put back on return), so its block states are
        // updated in place instead of copied.
        guard let index = blockIndex(block), var partial = partials.removeValue(forKey: block.piece) else {
            requestsByPeer[peer]?.remove(block)
            return .unwanted
        }
        defer { partials[block.piece] = partial }
        guard !partial.verifying else {
            requestsByPeer[peer]?.remove(block)
            return .unwanted
        }
        var cancel: Set<Peer> = []
        switch partial.blocks[index] {
        case .received, .written:
            requestsByPeer[peer]?.remove(block)
            return .duplicate
        case .free:
            partial.freeCount -= 1
        case .requested(let requesters):
            for requester in requesters { requestsByPeer[requester]?.remove(block) }
            cancel = requesters.subtracting([peer])
        }
        partial.blocks[index] = .received
        return .accepted(cancel: cancel)
    }

    /// Storage wrote `block`. Returns true when that completes the piece, which is now pending verification.
    public mutating func blockWritten(_ block: BlockRequest) -> Bool {
        guard let index = blockIndex(block), var partial = partials.removeValue(forKey: block.piece) else {
            return false
        }
        defer { partials[block.piece] = partial }
        guard case .received = partial.blocks[index] else { return false }
        partial.blocks[index] = .written
        partial.unwrittenCount -= 1
        if partial.unwrittenCount == 0 { partial.verifying = true }
        return partial.verifying
    }

    /// A request will not be answered (the peer rejected it, it timed out, or we cancelled it): the block
    /// returns to the pool unless other peers still have it requested.
    public mutating func requestCancelled(_ block: BlockRequest, by peer: Peer) {
        requestsByPeer[peer]?.remove(block)
        guard let index = blockIndex(block), var partial = partials[block.piece],
            case .requested(var requesters) = partial.blocks[index], requesters.remove(peer) != nil
        else { return }
        if requesters.isEmpty {
            partial.blocks[index] = .free
            partial.freeCount += 1
        } else {
            partial.blocks[index] = .requested(requesters)
        }
        partials[block.piece] = partial
    }

    /// Every outstanding request to `peer` is dropped (it choked us without the fast extension, or left);
    /// returns those blocks, sorted.
    public mutating func cancelRequests(of peer: Peer) -> [BlockRequest] {
        let blocks = (requestsByPeer[peer] ?? []).sorted()
        for block in blocks { requestCancelled(block, by: peer) }
        requestsByPeer[peer] = nil
        return blocks
    }

    /// Storage verified `piece` (`piece_hash_pass`): we have it. (Storage names the peers that supplied its
    /// blocks, for ``ReputationLedger/pieceVerified(contributors:)``.)
    public mutating func pieceVerified(_ piece: Int) {
        removePartial(piece)
        have[piece] = true
    }

    /// Storage found `piece` corrupt (`piece_hash_fail`): every block returns to the pool. (Storage names
    /// the peers that supplied its blocks, for ``ReputationLedger/pieceFailed(contributors:)``.)
    public mutating func pieceFailed(_ piece: Int) {
        removePartial(piece)
        have[piece] = false
    }

    // MARK: - Internals

    private func wanted(_ piece: Int) -> Bool { !have[piece] && piecePriorities[piece] > 0 }

    private func block(_ piece: Int, _ index: Int) -> BlockRequest {
        let offset = index * configuration.blockSize
        return BlockRequest(
            piece: piece, offset: offset, length: min(configuration.blockSize, layout.size(ofPiece: piece) - offset))
    }

    private func blockIndex(_ block: BlockRequest) -> Int? {
        guard block.piece >= 0, block.piece < layout.pieceCount, block.offset >= 0,
            block.offset % configuration.blockSize == 0
        else { return nil }
        let index = block.offset / configuration.blockSize
        guard index < blockCount(ofPiece: block.piece), self.block(block.piece, index) == block else { return nil }
        return index
    }

    private mutating func startPiece(_ piece: Int, exclusiveTo owner: Peer?) {
        let count = blockCount(ofPiece: piece)
        partials[piece] = Partial(
            blocks: [BlockState](repeating: .free, count: count), freeCount: count, unwrittenCount: count,
            exclusiveOwner: owner, startOrder: startCounter)
        startCounter += 1
    }

    private mutating func takeFreeBlocks(
        of piece: Int, for peer: Peer, upTo count: Int, into picked: inout [BlockRequest]
    ) {
        guard var partial = partials.removeValue(forKey: piece) else { return }
        defer { partials[piece] = partial }
        for index in partial.blocks.indices where picked.count < count {
            guard case .free = partial.blocks[index] else { continue }
            partial.blocks[index] = .requested([peer])
            partial.freeCount -= 1
            let block = block(piece, index)
            requestsByPeer[peer, default: []].insert(block)
            picked.append(block)
        }
    }

    private mutating func removePartial(_ piece: Int) {
        guard let partial = partials.removeValue(forKey: piece) else { return }
        for (index, state) in partial.blocks.enumerated() {
            guard case .requested(let requesters) = state else { continue }
            let requested = block(piece, index)
            for requester in requesters { requestsByPeer[requester]?.remove(requested) }
        }
    }

    private mutating func recomputePiecePriorities() {
        var priorities = [Int](repeating: 0, count: layout.pieceCount)
        for (index, file) in layout.files.enumerated() where !file.isPadFile {
            for piece in layout.pieces(ofFile: index) {
                priorities[piece] = max(priorities[piece], filePriorities[index].rawValue)
            }
        }
        piecePriorities = priorities
        var wanted = Bitfield(count: layout.pieceCount)
        for piece in priorities.indices where priorities[piece] > 0 { wanted[piece] = true }
        wantedPieces = wanted
    }
}
