import BTBencode
import BTMetainfo

/// How much the user wants a file (BEP-independent; the engine uses it for piece picking).
public enum FilePriority: Int, Hashable, Sendable, CaseIterable {
    /// Do not download: its pieces are not wanted and the file is not created unless a piece it shares
    /// with a wanted file needs it.
    case skip = 0
    /// Download normally.
    case normal = 1
    /// Download before normal files.
    case high = 2
}

/// What a torrent's storage needs to start again without a full hash check, stored bencoded, one file per
/// torrent: the verified pieces, each file's size and modification time when they were verified, the blocks
/// already written of unfinished pieces, and the storage settings (file priorities, renamed paths, folder).
///
/// Parsing is strict and bounded; anything malformed is a ``StorageError`` with code
/// ``StorageError/Code/invalidResumeData`` (the caller then re-checks), never a crash.
public struct ResumeData: Hashable, Sendable {
    /// Format version written by this module.
    public static let formatVersion: Int64 = 1
    /// Upper bounds accepted when parsing.
    public static let maxPieces = 1 << 24
    /// Upper bound on the number of files.
    public static let maxFiles = 1 << 20
    /// Upper bound on the number of blocks per piece.
    public static let maxBlocksPerPiece = 1 << 16

    /// The torrent's 20-byte wire info-hash (`InfoHashes/wire`).
    public var infoHash: [UInt8]
    /// Pieces whose hash passed and whose bytes were written without error.
    public var verified: Bitfield
    /// For each file of the layout (pad files included), its size and modification time, nil when absent.
    public var files: [FileStatus?]
    /// Unfinished pieces: piece index to the map of 16 KiB blocks already written.
    public var partialPieces: [Int: Bitfield]
    /// Per-file priorities (empty means all normal).
    public var priorities: [FilePriority]
    /// Files renamed by the user: file index to path below the download folder.
    public var renamedFiles: [Int: [String]]
    /// The download folder, when storage was moved or the caller wants it remembered.
    public var folder: String?

    /// Creates resume data.
    public init(
        infoHash: [UInt8], verified: Bitfield, files: [FileStatus?], partialPieces: [Int: Bitfield] = [:],
        priorities: [FilePriority] = [], renamedFiles: [Int: [String]] = [:], folder: String? = nil
    ) {
        self.infoHash = infoHash
        self.verified = verified
        self.files = files
        self.partialPieces = partialPieces
        self.priorities = priorities
        self.renamedFiles = renamedFiles
        self.folder = folder
    }

    /// The bencoded form (canonical: sorted keys).
    public func encoded() -> [UInt8] {
        var root: [(String, BencodeValue)] = [
            ("format", .integer(Self.formatVersion)),
            ("info-hash", .bytes(infoHash[...])),
            ("piece-count", .integer(Int64(verified.count))),
            ("pieces", .bytes(verified.bytes[...])),
            (
                "files",
                .list(
                    files.map { status in
                        guard let status else { return .list([]) }
                        return .list([.integer(status.size), .integer(status.modificationTime)])
                    })
            ),
            (
                "partial",
                .list(
                    partialPieces.keys.sorted().map { piece in
                        let blocks = partialPieces[piece]!
                        return .list([.integer(Int64(piece)), .integer(Int64(blocks.count)), .bytes(blocks.bytes[...])])
                    })
            ),
            ("priorities", .list(priorities.map { .integer(Int64($0.rawValue)) })),
            (
                "renamed",
                .list(
                    renamedFiles.keys.sorted().map { index in
                        .list([.integer(Int64(index)), .list(renamedFiles[index]!.map { .string($0) })])
                    })
            ),
        ]
        if let folder { root.append(("folder", .string(folder))) }
        let entries = root.map { BencodeDictionary.Entry(key: ArraySlice($0.0.utf8), value: $0.1) }
        return BencodeValue.dictionary(BencodeDictionary(entries)).encoded()
    }

    /// Parses resume data; throws ``StorageError/Code/invalidResumeData`` on anything malformed.
    public init(bytes: [UInt8]) throws {
        func invalid(_ reason: String) -> StorageError {
            StorageError(.invalidResumeData, .resume, path: nil, reason: reason)
        }
        let document: BencodeDocument
        do {
            document = try BencodeDocument(bytes, options: .strict)
        } catch {
            throw invalid("not bencode: \(error)")
        }
        let root = document.root
        guard root.kind == .dictionary else { throw invalid("not a dictionary") }
        guard root["format"]?.integer == Self.formatVersion else { throw invalid("unknown format version") }
        guard let hash = root["info-hash"]?.bytes, hash.count == 20 else { throw invalid("bad info-hash") }
        guard let pieceCount = root["piece-count"]?.integer, pieceCount >= 0, pieceCount <= Self.maxPieces else {
            throw invalid("bad piece count")
        }
        guard let pieceBytes = root["pieces"]?.bytes, let verified = Bitfield(bytes: pieceBytes, count: Int(pieceCount))
        else { throw invalid("bad piece bitfield") }

        guard let fileList = root["files"], fileList.kind == .list, fileList.count <= Self.maxFiles else {
            throw invalid("bad file list")
        }
        var files: [FileStatus?] = []
        for entry in fileList.list {
            guard entry.kind == .list else { throw invalid("bad file entry") }
            let values = Array(entry.list)
            if values.isEmpty {
                files.append(nil)
                continue
            }
            guard values.count == 2, let size = values[0].integer, let time = values[1].integer, size >= 0 else {
                throw invalid("bad file entry")
            }
            files.append(FileStatus(size: size, modificationTime: time))
        }

        var partial: [Int: Bitfield] = [:]
        guard let partialList = root["partial"], partialList.kind == .list else { throw invalid("bad partial list") }
        for entry in partialList.list {
            let values = Array(entry.list)
            guard entry.kind == .list, values.count == 3, let piece = values[0].integer, piece >= 0, piece < pieceCount,
                let blockCount = values[1].integer, blockCount > 0, blockCount <= Self.maxBlocksPerPiece,
                let mapBytes = values[2].bytes, let map = Bitfield(bytes: mapBytes, count: Int(blockCount)),
                partial[Int(piece)] == nil
            else { throw invalid("bad partial piece entry") }
            partial[Int(piece)] = map
        }

        var priorities: [FilePriority] = []
        if let list = root["priorities"] {
            guard list.kind == .list, list.count <= Self.maxFiles else { throw invalid("bad priorities") }
            for value in list.list {
                guard let raw = value.integer, let priority = FilePriority(rawValue: Int(clamping: raw)) else {
                    throw invalid("bad priority")
                }
                priorities.append(priority)
            }
        }

        var renamed: [Int: [String]] = [:]
        if let list = root["renamed"] {
            guard list.kind == .list else { throw invalid("bad renamed list") }
            for entry in list.list {
                let values = Array(entry.list)
                guard entry.kind == .list, values.count == 2, let index = values[0].integer, index >= 0,
                    index < Self.maxFiles, values[1].kind == .list, renamed[Int(index)] == nil
                else { throw invalid("bad renamed entry") }
                var path: [String] = []
                for component in values[1].list {
                    guard let text = component.string else { throw invalid("bad renamed path") }
                    path.append(text)
                }
                do { try SafePath.validate(path, path: path.joined(separator: "/")) } catch {
                    throw invalid("unsafe renamed path")
                }
                renamed[Int(index)] = path
            }
        }
        var folder: String?
        if let node = root["folder"] {
            guard let text = node.string, !text.isEmpty, !text.utf8.contains(0) else { throw invalid("bad folder") }
            folder = text
        }
        self.init(
            infoHash: Array(hash), verified: verified, files: files, partialPieces: partial, priorities: priorities,
            renamedFiles: renamed, folder: folder)
    }
}
