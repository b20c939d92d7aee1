/// One range for ``PieceStore/readBlocks(_:)``: `length` bytes at `offset` inside verified piece `piece`
/// (typically a peer's request, to upload it).
public struct BlockRead: Hashable, Sendable {
    /// The piece.
    public var piece: Int
    /// Byte offset inside the piece.
    public var offset: Int
    /// Bytes to read.
    public var length: Int

    /// A range to read.
    public init(piece: Int, offset: Int, length: Int) {
        self.piece = piece
        self.offset = offset
        self.length = length
    }
}
