/// A block address: `length` bytes at `offset` inside piece `piece`. The one block-address type of
/// NetBitTorrent: BEP 3 `request` and `cancel` and BEP 6 `reject request` carry it (BTWire), the piece picker
/// hands it out (BTEngine) and the piece store reads it (BTStorage).
public struct BlockRequest: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Zero-based piece index.
    public var piece: Int
    /// Byte offset inside the piece.
    public var offset: Int
    /// Number of bytes.
    public var length: Int

    /// Creates a block address.
    public init(piece: Int, offset: Int, length: Int) {
        self.piece = piece
        self.offset = offset
        self.length = length
    }

    /// Orders by piece, then offset, then length.
    public static func < (lhs: BlockRequest, rhs: BlockRequest) -> Bool {
        (lhs.piece, lhs.offset, lhs.length) < (rhs.piece, rhs.offset, rhs.length)
    }

    /// `piece P [offset, +length]`.
    public var description: String { "piece \(piece) [\(offset), +\(length)]" }
}
