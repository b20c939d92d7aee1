import BTMetainfo
import NIOCore

/// Finding which blocks of a failed v2 piece were wrong (BEP 52), so that only their senders are blamed,
/// without I/O.
///
/// When a piece of a v2 or hybrid torrent fails its hash and its blocks came from more than one peer, the
/// piece's block hashes are asked of a peer that speaks v2 (a `hash request` for the block layer, base layer
/// 0, `index` the piece's first block in its file, `length` its blocks per piece), with the uncle hashes up
/// to the file's `pieces root`, as libtorrent's `hash_picker` asks in `verify_block_hashes`. An answer that
/// proves up to the root names every block whose hash differs from the one storage computed over what it
/// wrote: only their senders are blamed. A peer whose answer does not prove is a liar (blamed on its own,
/// and not asked again); a reject or no answer within ``Configuration/requestTimeout`` moves the question
/// to another peer. When nobody is left to ask (or the answer shows no bad block, as when a hybrid's SHA-1
/// alone failed), the case ends ``Action/unresolved(piece:contributors:)`` and the caller blames as it did
/// before it could tell the blocks apart.
///
/// The engine calls ``pieceFailed(_:blockHashes:senders:candidates:now:)`` with storage's evidence, passes in
/// the `hashes` and `hash reject` answers of base layer 0, and ``tick(now:candidates:)`` about every second.
public struct BlockHashBlame<Peer: Hashable & Sendable>: Sendable {
    /// Limits and timings.
    public struct Configuration: Hashable, Sendable {
        /// Time a peer has to answer before another is asked.
        public var requestTimeout: TimeAmount
        /// Peers asked about one piece before it is left unresolved.
        public var maxPeersAsked: Int
        /// Pieces under investigation at once; a failure beyond it is left unresolved at once.
        public var maxOpenCases: Int

        /// Creates a configuration.
        public init(requestTimeout: TimeAmount = .seconds(10), maxPeersAsked: Int = 3, maxOpenCases: Int = 32) {
            self.requestTimeout = requestTimeout
            self.maxPeersAsked = maxPeersAsked
            self.maxOpenCases = maxOpenCases
        }
    }

    /// What the engine does next.
    public enum Action: Hashable, Sendable {
        /// Send this `hash request` to the peer.
        case send(HashRequest, to: Peer)
        /// The block hashes proved: these peers sent the piece's bad blocks (only they are blamed).
        case blame(Set<Peer>, piece: Int)
        /// The peer's `hashes` do not prove up to the file's root: it lied about hashes.
        case liar(Peer)
        /// No peer could say which blocks were bad: blame as without block hashes.
        case unresolved(piece: Int, contributors: Set<Peer>)
    }

    /// One failed piece under investigation.
    struct Case: Sendable {
        let piece: Int
        let request: HashRequest
        let root: [UInt8]
        /// Storage's hash of each real block, flat.
        let written: [UInt8]
        let senders: [Peer]
        /// When the piece failed.
        let opened: NIODeadline
        var asked: (peer: Peer, deadline: NIODeadline)?
        var tried: Set<Peer> = []
        /// The peers that could be asked, as last told.
        var candidates: [Peer] = []
    }

    /// The limits in force.
    public let configuration: Configuration
    let layout: PieceLayout
    var cases: [Int: Case] = [:]

    /// Investigates failed pieces of `torrent` (a v1 torrent has nothing to investigate).
    public init(torrent: Torrent, configuration: Configuration = Configuration()) {
        self.layout = torrent.layout
        self.configuration = configuration
    }

    /// Pieces under investigation.
    public var openPieces: Set<Int> { Set(cases.keys) }

    /// The block-layer `hash request` for `piece` with its proof up to the file's root, and that root; nil
    /// when the piece is not one v2 file's (a pad file, a v1 torrent, an empty file).
    public static func blockRequest(forPiece piece: Int, layout: PieceLayout) -> (HashRequest, root: [UInt8])? {
        guard piece >= 0, piece < layout.pieceCount else { return nil }
        let offset = layout.offset(ofPiece: piece)
        let fileIndex = layout.fileIndex(containing: offset)
        guard fileIndex < layout.files.count else { return nil }
        let file = layout.files[fileIndex]
        guard !file.isPadFile, file.length > 0, let root = file.piecesRoot, root.count == 32,
            (offset - file.offset) % Int64(layout.pieceLength) == 0
        else { return nil }
        let blocksPerPiece = layout.pieceLength / MerkleTree.blockSize
        let fileBlocks = Int((file.length + Int64(MerkleTree.blockSize) - 1) / Int64(MerkleTree.blockSize))
        let leafWidth: Int
        let length: Int
        if file.length <= Int64(layout.pieceLength) {
            // A file of one piece has no piece layer: its tree is its blocks, padded to a power of two.
            leafWidth = Self.powerOfTwo(atLeast: fileBlocks)
            length = leafWidth
        } else {
            let pieces = Int((file.length + Int64(layout.pieceLength) - 1) / Int64(layout.pieceLength))
            leafWidth = Self.powerOfTwo(atLeast: pieces) * blocksPerPiece
            length = blocksPerPiece
        }
        guard length <= HashRequest.maxLength else { return nil }
        let firstBlock = Int((offset - file.offset) / Int64(MerkleTree.blockSize))
        let request = HashRequest(
            piecesRoot: root, baseLayer: 0, index: firstBlock, length: length,
            proofLayers: max(0, leafWidth.trailingZeroBitCount - 1))
        return (request, root)
    }

    static func powerOfTwo(atLeast n: Int) -> Int {
        var value = 1
        while value < n { value <<= 1 }
        return value
    }

    /// Piece `piece` failed its hash. `blockHashes` are storage's SHA-256 of each block as written (flat)
    /// and `senders` who sent each block; `candidates` are the peers that may be asked (they speak v2).
    /// One sender, or a piece without a block layer, is decided at once.
    public mutating func pieceFailed(
        _ piece: Int, blockHashes: [UInt8], senders: [Peer], candidates: [Peer], now: NIODeadline
    ) -> [Action] {
        let contributors = Set(senders)
        guard contributors.count > 1, cases[piece] == nil, cases.count < configuration.maxOpenCases,
            blockHashes.count == senders.count * 32,
            let (request, root) = Self.blockRequest(forPiece: piece, layout: layout),
            senders.count <= request.length
        else { return [.unresolved(piece: piece, contributors: contributors)] }
        cases[piece] = Case(
            piece: piece, request: request, root: root, written: blockHashes, senders: senders, opened: now)
        return ask(piece, candidates: candidates, now: now)
    }

    /// A `hashes` message of base layer 0 from `peer`.
    public mutating func received(_ message: HashesMessage, from peer: Peer, now: NIODeadline) -> [Action] {
        guard
            let piece = cases.first(where: { $0.value.request == message.request && $0.value.asked?.peer == peer })?
                .key,
            let investigation = cases[piece]
        else { return [] }  // not asked of this peer: ignored, as libtorrent ignores it
        let base = message.baseHashes
        guard (try? message.validated()) != nil, base.count == investigation.request.length * 32,
            MerkleTree.root(ofRun: base, index: investigation.request.index, uncles: message.uncles)
                == investigation.root
        else {
            cases[piece]?.asked = nil
            return [.liar(peer)] + ask(piece, candidates: nil, now: now)
        }
        cases[piece] = nil
        var bad: Set<Peer> = []
        for (block, sender) in investigation.senders.enumerated()
        where base[(block * 32)..<(block * 32 + 32)] != investigation.written[(block * 32)..<(block * 32 + 32)] {
            bad.insert(sender)
        }
        guard !bad.isEmpty else {
            return [.unresolved(piece: piece, contributors: Set(investigation.senders))]
        }
        return [.blame(bad, piece: piece)]
    }

    /// A `hash reject` of base layer 0 from `peer`: another peer is asked.
    public mutating func rejected(_ request: HashRequest, by peer: Peer, candidates: [Peer], now: NIODeadline)
        -> [Action]
    {
        guard let piece = cases.first(where: { $0.value.request == request && $0.value.asked?.peer == peer })?.key
        else { return [] }
        cases[piece]?.asked = nil
        return ask(piece, candidates: candidates, now: now)
    }

    /// Time passed: questions past their deadline go to other peers; pieces waiting for a peer are asked.
    public mutating func tick(now: NIODeadline, candidates: [Peer]) -> [Action] {
        var actions: [Action] = []
        for piece in cases.keys.sorted() {
            if let asked = cases[piece]?.asked, asked.deadline > now { continue }
            cases[piece]?.asked = nil
            actions += ask(piece, candidates: candidates, now: now)
        }
        return actions
    }

    /// Asks the next untried candidate (the piece's senders last: a liar may lie about hashes too, though a
    /// proof makes that harmless), or gives the piece up.
    mutating func ask(_ piece: Int, candidates: [Peer]?, now: NIODeadline) -> [Action] {
        guard var investigation = cases[piece] else { return [] }
        if let candidates { investigation.candidates = candidates }
        let candidates = investigation.candidates
        let senders = Set(investigation.senders)
        let untried = candidates.filter { !investigation.tried.contains($0) }
        let next = untried.first { !senders.contains($0) } ?? untried.first
        guard investigation.tried.count < configuration.maxPeersAsked, let next else {
            // Nobody (else) to ask: wait for a candidate, at most one timeout from the failure, then give up.
            guard
                investigation.tried.count >= configuration.maxPeersAsked
                    || now - investigation.opened >= configuration.requestTimeout
            else {
                cases[piece] = investigation
                return []
            }
            cases[piece] = nil
            return [.unresolved(piece: piece, contributors: senders)]
        }
        investigation.tried.insert(next)
        investigation.asked = (next, now + configuration.requestTimeout)
        cases[piece] = investigation
        return [.send(investigation.request, to: next)]
    }
}
