import BTBencode

/// Why a torrent file or magnet link was rejected.
///
/// A struct with an opaque ``Code`` (new cases can be added without breaking users) and a human reason.
public struct MetainfoError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure; compare against the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        package init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The bytes are not valid bencode (``MetainfoError/bencode`` has the detail).
        public static let invalidBencode = Code("invalidBencode")
        /// A required key is missing.
        public static let missingField = Code("missingField")
        /// A key has the wrong type or an invalid value.
        public static let invalidField = Code("invalidField")
        /// Piece length zero, negative, not a power of two where required, or absurdly large.
        public static let invalidPieceLength = Code("invalidPieceLength")
        /// The number of piece hashes does not match the total length.
        public static let pieceCountMismatch = Code("pieceCountMismatch")
        /// A path given to ``TorrentCreator`` is empty, contains `..`, `.`, NUL or a separator. (Parsed
        /// torrents are not refused for their names: the parser sanitizes them.)
        public static let unsafePath = Code("unsafePath")
        /// More file paths collide than can be told apart by renaming (libtorrent's limit of 500 collisions).
        public static let duplicatePath = Code("duplicatePath")
        /// A negative or absurd file length.
        public static let invalidFileLength = Code("invalidFileLength")
        /// A v2 `file tree` or `piece layers` that is malformed.
        public static let invalidFileTree = Code("invalidFileTree")
        /// `meta version` other than 2, or a dictionary that is neither v1 nor v2.
        public static let unsupportedVersion = Code("unsupportedVersion")
        /// The v1 and v2 parts of a hybrid torrent describe different files.
        public static let hybridMismatch = Code("hybridMismatch")
        /// The v1 `pieces` string is not a whole number of 20-byte SHA-1 hashes.
        public static let invalidPieceHashes = Code("invalidPieceHashes")
        /// A BEP 52 `piece layers` entry of the wrong size, for no file of the torrent, or whose merkle root is
        /// not the file's pieces root.
        public static let invalidPieceLayers = Code("invalidPieceLayers")
        /// A v2 file larger than nothing without a 32-byte, non-zero `pieces root` (BEP 52).
        public static let missingPiecesRoot = Code("missingPiecesRoot")
        /// A file inside a v2 `file tree` with the pad attribute: v2 trees have no pad files (BEP 52).
        public static let invalidPadFile = Code("invalidPadFile")
        /// A v2-only torrent lacks the piece layers of files larger than a piece, so their pieces cannot be
        /// checked (see ``Torrent/filesMissingPieceLayers``).
        public static let missingPieceLayers = Code("missingPieceLayers")
        /// An info dictionary (fetched from peers, BEP 9) whose SHA-1 or SHA-256 is not the info-hash it was
        /// fetched for.
        public static let infoHashMismatch = Code("infoHashMismatch")
        /// A magnet link that cannot be parsed.
        public static let invalidMagnet = Code("invalidMagnet")
        /// Too many files, path components, trackers, or a file too large to be a torrent.
        public static let limitExceeded = Code("limitExceeded")
        /// Reading the content to create a torrent, or a .torrent file, failed.
        public static let ioError = Code("ioError")
        /// A .torrent path that names a directory, device (`/dev/zero`), FIFO or socket instead of a regular
        /// file: refused before anything is read from it.
        public static let notARegularFile = Code("notARegularFile")
    }

    /// What went wrong.
    public let code: Code
    /// A human readable explanation.
    public let reason: String
    /// The underlying bencode error, when ``code`` is ``Code/invalidBencode``.
    public let bencode: BencodeError?

    /// Creates an error.
    public init(_ code: Code, _ reason: String, bencode: BencodeError? = nil) {
        self.code = code
        self.reason = reason
        self.bencode = bencode
    }

    public var description: String { reason }
}
