import BTMetainfo

/// Where a block lies on disk when it lies inside one file: what an upload needs to send it with
/// `sendfile(2)` (NIO's `FileRegion`) instead of reading it into memory. From
/// ``PieceStore/fileRange(of:)``.
public struct BlockFileRange: Hashable, Sendable {
    /// Absolute path of the file (resolved inside the download folder).
    public var path: String
    /// Offset of the block's first byte in the file.
    public var offset: Int64
    /// Number of bytes.
    public var length: Int

    /// A range of `length` bytes at `offset` of the file at `path`.
    public init(path: String, offset: Int64, length: Int) {
        self.path = path
        self.offset = offset
        self.length = length
    }
}

extension PieceStore {
    /// The file, offset and length of `block` when the store is a ``FileStorage`` and the block lies inside
    /// one real file; nil when the range is not inside a piece, spans files, touches a pad file (whose bytes
    /// are zeros that are not on disk), or the path cannot be resolved safely. It does not check that the
    /// piece is verified: the caller serves only pieces it has (the peer state machine checks requests).
    public nonisolated func fileRange(of block: BlockRequest) -> BlockFileRange? {
        guard let files = storage as? FileStorage, let location = fileLocation(of: block),
            let path = try? files.absolutePath(ofFile: location.file)
        else { return nil }
        return BlockFileRange(path: path, offset: location.offset, length: block.length)
    }

    /// The file index and offset of `block` under the same conditions as ``fileRange(of:)``, without
    /// resolving the file's path (no system call): what an upload needs per block once it holds the file
    /// open (``FileStorage/absolutePath(ofFile:)`` gives the path to open).
    public nonisolated func fileLocation(of block: BlockRequest) -> (file: Int, offset: Int64)? {
        guard storage is FileStorage else { return nil }
        let layout = storage.layout
        guard block.piece >= 0, block.piece < layout.pieceCount, block.offset >= 0, block.length > 0,
            block.offset + block.length <= layout.size(ofPiece: block.piece)
        else { return nil }
        let slices = layout.slices(piece: block.piece, offset: block.offset, length: block.length)
        guard slices.count == 1, let slice = slices.first, !layout.files[slice.fileIndex].isPadFile else {
            return nil
        }
        return (slice.fileIndex, slice.offsetInFile)
    }
}
