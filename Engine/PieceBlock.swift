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

/// How much a file is wanted: 0 skips it, 1 (low) to 7 (top), 4 by default (libtorrent's scale).
public struct FilePriority: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The level, 0...7.
    public let level: Int

    /// A priority; nil outside 0...7.
    public init?(_ level: Int) {
        guard (0...7).contains(level) else { return nil }
        self.level = level
    }

    private init(checked level: Int) { self.level = level }

    /// Do not download (libtorrent `dont_download`).
    public static let skip = FilePriority(checked: 0)
    /// Lowest level that is still downloaded.
    public static let low = FilePriority(checked: 1)
    /// The default level.
    public static let normal = FilePriority(checked: 4)
    /// Highest level.
    public static let top = FilePriority(checked: 7)

    /// Orders by level.
    public static func < (lhs: FilePriority, rhs: FilePriority) -> Bool { lhs.level < rhs.level }

    /// The level as a number.
    public var description: String { String(level) }
}
