/// A block of a piece: the unit of `request`, `piece` and `cancel` messages (BEP 3).
public struct PieceBlock: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Zero-based piece index.
    public let piece: Int
    /// Byte offset inside the piece.
    public let offset: Int
    /// Length in bytes.
    public let length: Int

    /// Creates a block address.
    public init(piece: Int, offset: Int, length: Int) {
        self.piece = piece
        self.offset = offset
        self.length = length
    }

    /// Orders by piece, then offset.
    public static func < (lhs: PieceBlock, rhs: PieceBlock) -> Bool {
        (lhs.piece, lhs.offset, lhs.length) < (rhs.piece, rhs.offset, rhs.length)
    }

    /// `piece:offset+length`.
    public var description: String { "\(piece):\(offset)+\(length)" }
}
