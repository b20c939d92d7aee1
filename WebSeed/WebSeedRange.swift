import BTMetainfo

/// One HTTP range request a run of the torrent's byte stream needs: bytes of one file, or a pad file's
/// zeros that are never requested (BEP 47).
public struct WebSeedRange: Hashable, Sendable {
    /// Index of the file in the torrent's layout (pad files included).
    public let fileIndex: Int
    /// First byte wanted, relative to the start of the file.
    public let offsetInFile: Int64
    /// Bytes wanted.
    public let length: Int
    /// The file's whole length (a `200` answer is acceptable only when the range is the whole file).
    public let fileLength: Int64
    /// A pad file (BEP 47): its bytes are zeros, made locally and never asked of the server.
    public let isPadFile: Bool

    /// Creates a range.
    public init(fileIndex: Int, offsetInFile: Int64, length: Int, fileLength: Int64, isPadFile: Bool) {
        self.fileIndex = fileIndex
        self.offsetInFile = offsetInFile
        self.length = length
        self.fileLength = fileLength
        self.isPadFile = isPadFile
    }

    /// The `Range` header's value: `bytes=first-last` (inclusive).
    public var rangeHeader: String { "bytes=\(offsetInFile)-\(offsetInFile + Int64(length) - 1)" }

    /// Whether the range is the whole file.
    public var isWholeFile: Bool { offsetInFile == 0 && Int64(length) == fileLength }

    /// The ranges that make up `length` bytes of the torrent's stream at `streamOffset` (a piece, or a run of
    /// pieces or blocks): one per file the bytes touch, in stream order, zero-length files skipped. Pad files
    /// are returned with ``isPadFile`` set so the caller fills them with zeros instead of asking for them.
    public static func ranges(in layout: PieceLayout, streamOffset: Int64, length: Int) -> [WebSeedRange] {
        layout.slices(streamOffset: streamOffset, length: length).map { slice in
            let file = layout.files[slice.fileIndex]
            return WebSeedRange(
                fileIndex: slice.fileIndex, offsetInFile: slice.offsetInFile, length: slice.length,
                fileLength: file.length, isPadFile: file.isPadFile)
        }
    }
}
