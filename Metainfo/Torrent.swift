/// A parsed, validated .torrent file (BEP 3, BEP 52 v2, or hybrid).
///
/// Build one with `Torrent(bytes:)` (parsing) or `TorrentCreator` (from files on disk).
/// The info dictionary's original bytes are kept in ``infoBytes``: they are what ut_metadata (BEP 9) serves
/// and what the info-hashes were computed over.
public struct Torrent: Hashable, Sendable {
    /// Which formats this torrent carries.
    public var version: TorrentVersion
    /// v1 and/or v2 info-hashes.
    public var infoHashes: InfoHashes
    /// Suggested name of the file (single-file) or root folder (multi-file), sanitized for the disk like the
    /// file paths (a name of nothing valid is replaced by the info-hash in hex, as libtorrent does).
    public var name: String
    /// The name as the torrent file gives it (invalid UTF-8 shown as U+FFFD); equal to ``name`` unless it had
    /// to be sanitized.
    public var originalName: String
    /// Bytes per piece (the last piece may be shorter). v2 requires a power of two, at least 16 KiB.
    public var pieceLength: Int
    /// Files in linear layout order, pad files included (for v2, synthesized pad entries align files).
    public var files: [TorrentFile]
    /// True when the v1 info dictionary used the single-file form (`length` instead of `files`).
    public var isSingleFile: Bool
    /// Concatenated 20-byte SHA-1 piece hashes (v1 and hybrid; empty for pure v2).
    public var pieceHashes: [UInt8]
    /// BEP 52 piece layers: for each file's pieces root (32 bytes), the concatenated 32-byte hashes of
    /// that file's pieces. Empty in a magnet-fetched v2 info dictionary until layers are obtained.
    public var pieceLayers: [[UInt8]: [UInt8]]
    /// BEP 27 private flag.
    public var isPrivate: Bool
    /// Tracker tiers (BEP 12); when `announce-list` is absent, one tier holding `announce`.
    public var announceTiers: [[String]]
    /// Web seeds (BEP 19 `url-list`).
    public var webSeeds: [String]
    /// DHT nodes from the `nodes` key (BEP 5), as host and port.
    public var dhtNodes: [DHTNode]
    /// Free-form comment.
    public var comment: String?
    /// Program that made the torrent.
    public var createdBy: String?
    /// Creation time, seconds since 1970.
    public var creationDate: Int64?
    /// Declared text encoding of strings.
    public var encoding: String?
    /// `source` key of the info dictionary (used by private trackers to make unique info-hashes).
    public var source: String?
    /// The info dictionary's exact bytes.
    public var infoBytes: [UInt8]

    /// A `nodes` entry.
    public struct DHTNode: Hashable, Sendable {
        /// Host name or address.
        public var host: String
        /// UDP port.
        public var port: Int
        /// Creates a node entry.
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    /// Creates a torrent from already-validated parts (used by the parser, the creator and tests).
    public init(
        version: TorrentVersion, infoHashes: InfoHashes, name: String, pieceLength: Int, files: [TorrentFile],
        isSingleFile: Bool, pieceHashes: [UInt8], pieceLayers: [[UInt8]: [UInt8]] = [:], isPrivate: Bool = false,
        announceTiers: [[String]] = [], webSeeds: [String] = [], dhtNodes: [DHTNode] = [], comment: String? = nil,
        createdBy: String? = nil, creationDate: Int64? = nil, encoding: String? = nil, source: String? = nil,
        infoBytes: [UInt8], originalName: String? = nil
    ) {
        self.version = version
        self.infoHashes = infoHashes
        self.name = name
        self.originalName = originalName ?? name
        self.pieceLength = pieceLength
        self.files = files
        self.isSingleFile = isSingleFile
        self.pieceHashes = pieceHashes
        self.pieceLayers = pieceLayers
        self.isPrivate = isPrivate
        self.announceTiers = announceTiers
        self.webSeeds = webSeeds
        self.dhtNodes = dhtNodes
        self.comment = comment
        self.createdBy = createdBy
        self.creationDate = creationDate
        self.encoding = encoding
        self.source = source
        self.infoBytes = infoBytes
    }

    /// The piece/file mapping.
    public var layout: PieceLayout { PieceLayout(pieceLength: pieceLength, files: files) }

    /// Number of pieces.
    public var pieceCount: Int { layout.pieceCount }

    /// Sum of the lengths of the real (non-pad) files.
    public var totalSize: Int64 { files.reduce(0) { $0 + ($1.isPadFile ? 0 : $1.length) } }

    /// The v1 SHA-1 hash of piece `index`, if this torrent has v1 hashes.
    public func v1Hash(ofPiece index: Int) -> ArraySlice<UInt8>? {
        guard !pieceHashes.isEmpty, index >= 0, (index + 1) * 20 <= pieceHashes.count else { return nil }
        return pieceHashes[(index * 20)..<(index * 20 + 20)]
    }
}
