/// One entry of a torrent's linear file layout.
///
/// The layout is the v1 view of the torrent: every file in order, each starting at ``offset`` in the
/// concatenated byte stream that pieces are cut from. Pad files (BEP 47) are entries too, with
/// ``isPadFile`` set: they occupy bytes of the stream but are never written to disk. For pure v2
/// torrents (BEP 52), whose files each start on a piece boundary, the parser inserts the equivalent
/// pad entries (`.pad/<size>`, after every non-empty file that does not end on a piece boundary, the last
/// one included) so that every torrent has the same linear layout, exactly as libtorrent 2.0 reports it.
public struct TorrentFile: Hashable, Sendable {
    /// Path components below the torrent's root folder (for a single-file torrent: just the name), as the
    /// file is named on disk: sanitized like libtorrent does (see ``originalPath``), so no component is empty,
    /// `.` or `..`, or holds `/`, `\`, NUL or other control characters, and colliding paths are made distinct.
    public let path: [String]
    /// The path as the torrent file gives it (invalid UTF-8 shown as U+FFFD); equal to ``path`` unless the
    /// name had to be sanitized or disambiguated to be created on disk.
    public let originalPath: [String]
    /// Length in bytes.
    public let length: Int64
    /// Offset of the file's first byte in the torrent's linear byte stream.
    public let offset: Int64
    /// BEP 47 attributes as given (`p` pad, `x` executable, `h` hidden, `l` symlink); the parser adds `p` to
    /// BitComet's `_____padding_file_` entries, which libtorrent treats as pad files too.
    public let attributes: String
    /// BEP 47 symlink target path below the torrent's root folder, when the `l` attribute is set. The parser
    /// sanitizes it like ``path`` and makes a link whose target is not in the torrent point at itself.
    public let symlinkPath: [String]?
    /// BEP 52 merkle root of the file's SHA-256 tree (v2/hybrid, non-empty files).
    public let piecesRoot: [UInt8]?
    /// BEP 47 `sha1` of the whole file, when present.
    public let sha1: [UInt8]?
    /// Modification time (BEP 47 `mtime`), seconds since 1970, when present.
    public let mtime: Int64?

    /// Creates an entry.
    public init(
        path: [String], length: Int64, offset: Int64, attributes: String = "", symlinkPath: [String]? = nil,
        piecesRoot: [UInt8]? = nil, sha1: [UInt8]? = nil, mtime: Int64? = nil, originalPath: [String]? = nil
    ) {
        self.path = path
        self.originalPath = originalPath ?? path
        self.length = length
        self.offset = offset
        self.attributes = attributes
        self.symlinkPath = symlinkPath
        self.piecesRoot = piecesRoot
        self.sha1 = sha1
        self.mtime = mtime
    }

    /// A pad file (BEP 47 `p` attribute): its bytes are zeros and it is never written to disk.
    public var isPadFile: Bool { attributes.contains("p") }
    /// Executable attribute (`x`).
    public var isExecutable: Bool { attributes.contains("x") }
    /// Hidden attribute (`h`).
    public var isHidden: Bool { attributes.contains("h") }
    /// Symlink attribute (`l`).
    public var isSymlink: Bool { attributes.contains("l") }
    /// Byte range in the torrent's linear stream.
    public var range: Range<Int64> { offset..<(offset + length) }
}
