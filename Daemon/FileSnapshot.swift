/// One file of a torrent as the RPC shows it.
public struct FileSnapshot: Sendable, Hashable {
    /// The path inside the download directory, `/`-separated (the torrent's name first for multi-file ones).
    public var name: String
    /// Bytes.
    public var length: Int64
    /// Bytes in verified pieces.
    public var bytesCompleted: Int64
    /// Whether the file is wanted.
    public var wanted: Bool
    /// Transmission's priority: -1 low, 0 normal, 1 high.
    public var priority: Int
    /// First piece holding a byte of it.
    public var beginPiece: Int
    /// One past the last piece holding a byte of it.
    public var endPiece: Int

    /// A file.
    public init(
        name: String, length: Int64, bytesCompleted: Int64, wanted: Bool, priority: Int, beginPiece: Int, endPiece: Int
    ) {
        self.name = name
        self.length = length
        self.bytesCompleted = bytesCompleted
        self.wanted = wanted
        self.priority = priority
        self.beginPiece = beginPiece
        self.endPiece = endPiece
    }
}
