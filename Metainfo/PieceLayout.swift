/// Maps pieces and blocks of a torrent to ranges of its files.
///
/// Works on the linear layout (``TorrentFile/offset``); pieces may span files, files may be empty, and pad
/// files are included so callers can see (and skip) them.
public struct PieceLayout: Hashable, Sendable {
    /// A contiguous part of one file.
    public struct FileSlice: Hashable, Sendable {
        /// Index into ``PieceLayout/files``.
        public let fileIndex: Int
        /// Offset inside that file.
        public let offsetInFile: Int64
        /// Number of bytes.
        public let length: Int
        /// Offset of this slice relative to the start of the requested range.
        public let offsetInRange: Int
    }

    /// Nominal piece length (the last piece may be shorter).
    public let pieceLength: Int
    /// Files in layout order, pad files included.
    public let files: [TorrentFile]
    /// Length of the linear byte stream (sum of all file lengths, pad files included).
    public let totalLength: Int64
    /// Number of pieces.
    public let pieceCount: Int

    /// Creates a layout. `files` must be contiguous: each file's offset is the previous one's end.
    public init(pieceLength: Int, files: [TorrentFile]) {
        precondition(pieceLength > 0)
        self.pieceLength = pieceLength
        self.files = files
        let total = files.last.map { $0.offset + $0.length } ?? 0
        self.totalLength = total
        self.pieceCount = Int((total + Int64(pieceLength) - 1) / Int64(pieceLength))
    }

    /// Size in bytes of piece `index`.
    public func size(ofPiece index: Int) -> Int {
        precondition(index >= 0 && index < pieceCount, "piece index out of range")
        if index == pieceCount - 1 {
            let rest = Int(totalLength - Int64(index) * Int64(pieceLength))
            return rest
        }
        return pieceLength
    }

    /// Byte offset of piece `index` in the linear stream.
    public func offset(ofPiece index: Int) -> Int64 { Int64(index) * Int64(pieceLength) }

    /// The file slices covering `length` bytes at `offset` inside piece `piece` (whole piece by default),
    /// in order. Zero-length files are skipped; pad files are included (check `files[i].isPadFile`).
    public func slices(piece: Int, offset: Int = 0, length: Int? = nil) -> [FileSlice] {
        let pieceSize = size(ofPiece: piece)
        let count = length ?? (pieceSize - offset)
        precondition(offset >= 0 && count >= 0 && offset + count <= pieceSize, "range outside the piece")
        return slices(streamOffset: self.offset(ofPiece: piece) + Int64(offset), length: count)
    }

    /// The file slices covering `length` bytes at `streamOffset` in the linear stream.
    public func slices(streamOffset: Int64, length: Int) -> [FileSlice] {
        var result: [FileSlice] = []
        guard length > 0 else { return result }
        var index = fileIndex(containing: streamOffset)
        var position = streamOffset
        let end = streamOffset + Int64(length)
        while position < end && index < files.count {
            let file = files[index]
            let fileEnd = file.offset + file.length
            if file.length > 0 && position < fileEnd {
                let take = min(end, fileEnd) - position
                result.append(
                    FileSlice(
                        fileIndex: index, offsetInFile: position - file.offset, length: Int(take),
                        offsetInRange: Int(position - streamOffset)))
                position += take
            }
            index += 1
        }
        return result
    }

    /// Index of the non-empty file holding byte `streamOffset` (binary search).
    public func fileIndex(containing streamOffset: Int64) -> Int {
        var low = 0
        var high = files.count
        while low < high {
            let mid = (low + high) / 2
            if files[mid].offset + files[mid].length <= streamOffset { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// The pieces that hold at least one byte of file `index` (empty for zero-length files).
    public func pieces(ofFile index: Int) -> Range<Int> {
        let file = files[index]
        guard file.length > 0 else { return 0..<0 }
        let first = Int(file.offset / Int64(pieceLength))
        let last = Int((file.offset + file.length - 1) / Int64(pieceLength))
        return first..<(last + 1)
    }
}
