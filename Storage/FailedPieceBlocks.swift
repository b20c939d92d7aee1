import BTMetainfo

/// What storage saw of a piece that failed its hash: who sent each of its blocks and the SHA-256 of each block
/// as it was written. Compared with the piece's block hashes, it names the blocks that were wrong, so only
/// their senders are blamed and not the honest peers that sent the piece's other blocks: for a v2 or hybrid
/// piece the hashes asked of a peer, with their proof up to the file's `pieces root` (BEP 52); for a v1 piece
/// the hashes of the same blocks once the piece verifies (``PieceStore/blockHashes(ofPiece:)``; libtorrent's
/// smart ban).
public struct FailedPieceBlocks: Hashable, Sendable {
    /// The sender of each block of the piece, in block order.
    public var senders: [PeerTag]
    /// The SHA-256 of each block as written (the leaf hashes of the piece's subtree), 32 bytes each, flat, in
    /// block order; a short last block is hashed as it is (BEP 52).
    public var blockHashes: [UInt8]

    /// The evidence of one failed piece: one sender and one 32-byte hash per block.
    public init(senders: [PeerTag], blockHashes: [UInt8]) {
        precondition(blockHashes.count == senders.count * 32, "one 32-byte hash per block")
        self.senders = senders
        self.blockHashes = blockHashes
    }

    /// The evidence of a piece whose bytes as written were `data`, block `i` sent by `senders[i]` (the block
    /// hashes are computed here).
    public init(senders: [PeerTag], data: UnsafeRawBufferPointer) {
        self.init(senders: senders, blockHashes: MerkleTree.blockHashes(data))
    }
}
