import BTMetainfo

/// One block for `PieceStore.writeBlocks(_:)`: `bytes` received from `peer` for `offset` (a multiple of
/// ``PieceStore/blockSize``) inside piece `piece`, the block's full length.
public struct BlockWrite: Sendable {
    /// The piece.
    public var piece: Int
    /// Byte offset of the block inside the piece.
    public var offset: Int
    /// The block's bytes.
    public var bytes: [UInt8]
    /// Who sent it (named when its piece fails its hash).
    public var peer: PeerTag

    /// A block to write.
    public init(piece: Int, offset: Int, bytes: [UInt8], from peer: PeerTag) {
        self.piece = piece
        self.offset = offset
        self.bytes = bytes
        self.peer = peer
    }
}
