import BTBencode

/// The parsed content of an info dictionary.
struct InfoContent {
    var version: TorrentVersion
    var name: String
    var originalName: String
    var pieceLength: Int
    var files: [TorrentFile]
    var isSingleFile: Bool
    var pieceHashes: [UInt8]
    var pieceLayers: [[UInt8]: [UInt8]]
    var isPrivate: Bool
    var source: String?
}

/// Parses and validates the info dictionary (and the top-level `piece layers` of v2 torrents).
///
/// What opens and what is refused follows libtorrent 2.1 (`torrent_info::parse_info_section` and
/// `load_torrent`): names are sanitized rather than refused (``PathSanitizer``, ``DuplicatePaths``,
/// ``SymlinkTargets``), and every rule libtorrent enforces on lengths, piece counts, v2 trees and piece
/// layers is enforced here with a specific ``MetainfoError/Code``.
enum InfoParser {
    static let padFolder = ".pad"

    /// One file as read from the v1 list or the v2 tree, before the torrent-wide passes.
    struct RawFile {
        var path: [String]
        var originalPath: [String]?
        var length: Int64
        var attributes: String
        var symlink: [String]?
        var piecesRoot: [UInt8]? = nil
        var sha1: [UInt8]? = nil
        var mtime: Int64?
        /// A v1 pad file that had no path (filed under `.pad/<size>`).
        var isPathlessPad = false
        var isPad: Bool { attributes.contains("p") }
    }

    /// The files of one half of a torrent (v1 list or v2 tree), laid out with their offsets.
    struct Files {
        var files: [RawFile]
        var offsets: [Int64]
        var totalLength: Int64
        var isSingleFile: Bool
    }

    static func parse(
        _ info: BencodeNode, pieceLayers: BencodeNode?, sha1: [UInt8], sha256: [UInt8]
    ) throws(MetainfoError) -> InfoContent {
        // BEP 52 `meta version`: 2 means a v2 file tree. Any explicit version asks for canonical bencode, which
        // libtorrent checks on the whole info dictionary (keys sorted, none repeated).
        // A `meta version` that is not an integer counts as absent, as in libtorrent.
        let version = info["meta version"]?.integer ?? -1
        if version > 0 {
            do throws(BencodeError) {
                _ = try BencodeDocument(Array(info.rawBytes), options: .strict)
            } catch {
                throw MetainfoError(
                    .invalidBencode, "the info dictionary of a versioned torrent is not canonical bencode: \(error)",
                    bencode: error)
            }
            guard version <= 2 else { throw MetainfoError(.unsupportedVersion, "unsupported meta version \(version)") }
        }
        let isV2 = version == 2

        let pieceLength = try parsePieceLength(info, isV2: isV2)

        guard let nameNode = info["name.utf-8"].flatMap({ $0.kind == .string ? $0 : nil }) ?? info["name"] else {
            throw MetainfoError(.missingField, "info has no name")
        }
        guard let nameBytes = nameNode.bytes else { throw MetainfoError(.invalidField, "name is not a string") }
        let originalName = String(decoding: nameBytes, as: UTF8.self)
        let sanitizedName = PathSanitizer.element(nameBytes, force: false)

        // A `files` that is not a list counts as absent, as in libtorrent (the torrent may still be single-file).
        let filesNode = info["files"].flatMap { $0.kind == .list ? $0 : nil }
        let hasV1 = !isV2 || filesNode != nil || info["length"] != nil
        // A name with nothing valid in it becomes the SHA-1 of the info dictionary in hex (the v1 info-hash;
        // libtorrent uses it for v2-only torrents too).
        let folderName = sanitizedName ?? InfoHashes.hex(sha1)

        let treeNode = info["file tree"]
        if !isV2, treeNode?.kind == .dictionary {
            throw MetainfoError(.missingField, "info has a v2 file tree but no meta version 2")
        }

        var v1: Files?
        if hasV1 {
            guard filesNode != nil || info["length"] != nil else {
                throw MetainfoError(.missingField, "info has neither length nor files")
            }
            v1 = try parseV1Files(
                info, list: filesNode, sanitizedName: nameBytes.isEmpty ? nil : sanitizedName,
                originalName: originalName)
        }
        var v2: Files?
        if isV2 {
            guard let tree = treeNode else { throw MetainfoError(.missingField, "v2 info has no file tree") }
            guard tree.kind == .dictionary else {
                throw MetainfoError(.invalidFileTree, "file tree is not a dictionary")
            }
            v2 = try parseV2Tree(tree, pieceLength: pieceLength, isMultiFile: filesNode != nil)
        }

        var version2: TorrentVersion = .v1
        var chosen: Files
        switch (v1, v2) {
        case (let v1?, nil): chosen = v1
        case (nil, let v2?):
            version2 = .v2
            chosen = v2
        case (let v1?, let v2?):
            version2 = .hybrid
            chosen = try merge(v1: v1, v2: v2, pieceLength: pieceLength)
        case (nil, nil): throw MetainfoError(.missingField, "info has neither v1 nor v2 file information")
        }
        let totalLength = chosen.totalLength
        guard totalLength / Int64(pieceLength) <= Int64(Int32.max >> 1) else {
            throw MetainfoError(.limitExceeded, "more pieces than a torrent may have")
        }
        let pieceCount = (totalLength + Int64(pieceLength) - 1) / Int64(pieceLength)
        guard pieceCount <= MetainfoLimits.maxPieceCount else {
            throw MetainfoError(
                .limitExceeded, "\(pieceCount) pieces, more than \(MetainfoLimits.maxPieceCount) (libtorrent's limit)")
        }

        var pieceHashes: [UInt8] = []
        if hasV1 {
            guard let piecesNode = info["pieces"] else {
                throw MetainfoError(.missingField, "info has no pieces (and no v2 file tree)")
            }
            guard let pieces = piecesNode.bytes else {
                throw MetainfoError(.invalidPieceHashes, "pieces is not a byte string")
            }
            guard pieces.count % 20 == 0 else {
                throw MetainfoError(
                    .invalidPieceHashes, "pieces is \(pieces.count) bytes, not a multiple of 20 (SHA-1 size)")
            }
            let v1Length = v1?.totalLength ?? totalLength
            let expected = (v1Length + Int64(pieceLength) - 1) / Int64(pieceLength)
            guard Int64(pieces.count / 20) == expected else {
                throw MetainfoError(
                    .pieceCountMismatch,
                    "\(pieces.count / 20) piece hashes for \(v1Length) bytes in pieces of \(pieceLength) "
                        + "(expected \(expected))")
            }
            pieceHashes = Array(pieces)
        }
        guard totalLength > 0 else { throw MetainfoError(.invalidFileLength, "the torrent's total length is 0") }

        var isPrivate = false
        if let node = info["private"], let value = node.integer { isPrivate = value != 0 }
        let source = info["source"]?.bytes.map { String(decoding: $0, as: UTF8.self) }

        // Names on disk must be distinct: colliding paths are renamed (`bar.1.txt`).
        let isSingleFile = chosen.isSingleFile
        // A single file is named by its own entry (the v2 tree's key may differ from `name`), as in libtorrent.
        let name = isSingleFile ? (chosen.files.first?.path.first ?? folderName) : folderName
        // Pad files listed without a path live in `.pad/` beside the torrent's folder, as in libtorrent.
        let inRoot = chosen.files.map { !isSingleFile && !$0.isPathlessPad }
        let full = chosen.files.indices.map { inRoot[$0] ? [name] + chosen.files[$0].path : chosen.files[$0].path }
        let unique = try DuplicatePaths.disambiguate(
            full, isPad: chosen.files.map(\.isPad), lengths: chosen.files.map(\.length))
        var files: [TorrentFile] = []
        files.reserveCapacity(chosen.files.count)
        for (index, file) in chosen.files.enumerated() {
            let path = inRoot[index] ? Array(unique[index].dropFirst()) : unique[index]
            files.append(
                TorrentFile(
                    path: path, length: file.length, offset: chosen.offsets[index], attributes: file.attributes,
                    symlinkPath: file.symlink, piecesRoot: file.piecesRoot, sha1: file.sha1, mtime: file.mtime,
                    originalPath: file.originalPath ?? path))
        }

        var layers: [[UInt8]: [UInt8]] = [:]
        if isV2, let pieceLayers, pieceLayers.kind == .dictionary {
            layers = try parseLayers(pieceLayers, files: files, pieceLength: pieceLength)
        }
        return InfoContent(
            version: version2, name: name, originalName: originalName, pieceLength: pieceLength, files: files,
            isSingleFile: isSingleFile, pieceHashes: pieceHashes, pieceLayers: layers, isPrivate: isPrivate,
            source: source)
    }

    static func parsePieceLength(_ info: BencodeNode, isV2: Bool) throws(MetainfoError) -> Int {
        guard let node = info["piece length"] else { throw MetainfoError(.missingField, "info has no piece length") }
        guard let raw = node.integer else { throw MetainfoError(.invalidField, "piece length is not an integer") }
        guard raw > 0 else { throw MetainfoError(.invalidPieceLength, "piece length \(raw) is not positive") }
        guard raw <= MetainfoLimits.maxPieceLength else {
            throw MetainfoError(
                .invalidPieceLength, "piece length \(raw) is larger than \(MetainfoLimits.maxPieceLength)")
        }
        let pieceLength = Int(raw)
        if isV2 {
            guard pieceLength >= MetainfoLimits.minV2PieceLength, pieceLength.nonzeroBitCount == 1 else {
                throw MetainfoError(
                    .invalidPieceLength, "v2 piece length \(pieceLength) is not a power of two of at least 16 KiB")
            }
        }
        return pieceLength
    }

    // MARK: paths

    /// Validates one path component of a file being added to a new torrent (``TorrentCreator``): not empty,
    /// `.` or `..`, and free of `/`, `\` and NUL.
    static func component(_ bytes: ArraySlice<UInt8>, what: String) throws(MetainfoError) -> String {
        guard !bytes.isEmpty else { throw MetainfoError(.unsafePath, "\(what) has an empty path component") }
        if bytes.contains(0) { throw MetainfoError(.unsafePath, "\(what) contains a NUL byte") }
        if bytes.contains(UInt8(ascii: "/")) || bytes.contains(UInt8(ascii: "\\")) {
            throw MetainfoError(.unsafePath, "\(what) contains a path separator")
        }
        let text = String(decoding: bytes, as: UTF8.self)
        if text == "." || text == ".." { throw MetainfoError(.unsafePath, "\(what) contains '\(text)'") }
        return text
    }

    /// The elements of a BEP 3 path list (every one a string, at most ``MetainfoLimits/maxPathDepth``).
    static func elements(_ node: BencodeNode, what: String) throws(MetainfoError) -> [ArraySlice<UInt8>] {
        guard node.kind == .list else { throw MetainfoError(.invalidField, "\(what) is not a list") }
        guard node.count <= MetainfoLimits.maxPathDepth else {
            throw MetainfoError(.limitExceeded, "\(what) has more than \(MetainfoLimits.maxPathDepth) parts")
        }
        var result: [ArraySlice<UInt8>] = []
        for item in node.list {
            guard let bytes = item.bytes else { throw MetainfoError(.invalidField, "\(what) has a non-string part") }
            result.append(bytes)
        }
        return result
    }

    static func display(_ elements: [ArraySlice<UInt8>]) -> [String] {
        elements.map { String(decoding: $0, as: UTF8.self) }
    }

    // MARK: lengths and attributes

    /// A file length, checked against libtorrent's limits (a merkle tree of at most `Int32.max / 2` blocks).
    static func length(_ node: BencodeNode?, what: String) throws(MetainfoError) -> Int64 {
        guard let node else { throw MetainfoError(.missingField, "\(what) has no length") }
        guard let value = node.integer else { throw MetainfoError(.invalidField, "\(what) length is not an integer") }
        guard value >= 0 else { throw MetainfoError(.invalidFileLength, "\(what) has negative length \(value)") }
        guard value <= MetainfoLimits.maxFileLength else {
            throw MetainfoError(
                .invalidFileLength, "\(what) length \(value) is larger than \(MetainfoLimits.maxFileLength)")
        }
        return value
    }

    /// The BEP 47 symlink target of a file dictionary: nil when the file is not a link or names no target.
    /// `.` and `..` are dropped (BEP 47 forbids them; libtorrent tolerates them this way), the rest sanitized.
    static func symlinkTarget(_ node: BencodeNode, attributes: String, what: String) throws(MetainfoError) -> [String]?
    {
        guard attributes.contains("l"), let target = node["symlink path"], target.kind == .list else { return nil }
        let parts = try elements(target, what: "symlink path of \(what)").filter {
            !$0.elementsEqual(".".utf8) && !$0.elementsEqual("..".utf8)
        }
        return parts.isEmpty ? nil : PathSanitizer.path(parts)
    }

    static func add(_ total: Int64, _ size: Int64) throws(MetainfoError) -> Int64 {
        let (sum, overflow) = total.addingReportingOverflow(size)
        guard !overflow, sum <= MetainfoLimits.maxTotalLength else {
            throw MetainfoError(.invalidFileLength, "total length is larger than \(MetainfoLimits.maxTotalLength)")
        }
        return sum
    }

    // MARK: v1

    static func parseV1Files(
        _ info: BencodeNode, list: BencodeNode?, sanitizedName: String?, originalName: String
    ) throws(MetainfoError) -> Files {
        guard let list else {
            // The name is the file's name: one with nothing valid in it cannot be created.
            guard let fileName = sanitizedName else {
                throw MetainfoError(.missingField, "the single file of the torrent has no valid name")
            }
            var file = try v1File(info, path: [fileName], originalPath: [originalName], what: "the torrent")
            if fileName.contains("_____padding_file_") { file.attributes += "p" }
            return Files(files: [file], offsets: [0], totalLength: file.length, isSingleFile: true)
        }
        var files: [RawFile] = []
        var offsets: [Int64] = []
        var offset: Int64 = 0
        for entry in list.list {
            guard files.count < MetainfoLimits.maxFileCount else {
                throw MetainfoError(.limitExceeded, "more than \(MetainfoLimits.maxFileCount) files")
            }
            guard entry.kind == .dictionary else {
                throw MetainfoError(.invalidField, "file entry \(files.count) is not a dictionary")
            }
            let what = "file \(files.count)"
            let attributes = entry["attr"]?.bytes.map { String(decoding: $0, as: UTF8.self) } ?? ""
            let pathNode = entry["path.utf-8"].flatMap { $0.kind == .list ? $0 : nil } ?? entry["path"]
            var path: [String]
            var original: [String]?
            if let pathNode, pathNode.kind != .list || pathNode.count > 0 {
                let parts = try elements(pathNode, what: "path of \(what)")
                path = PathSanitizer.path(parts)
                original = display(parts)
            } else if attributes.contains("p") {
                // A pad file needs no name: libtorrent files it under `.pad/<size>`.
                path = []
                original = nil
            } else {
                throw MetainfoError(.missingField, "\(what) has no path")
            }
            var file = try v1File(entry, path: path, originalPath: original, what: what)
            if path.isEmpty {
                file.path = [padFolder, String(file.length)]
                file.isPathlessPad = true
            }
            if path.joined(separator: "/").contains("_____padding_file_") { file.attributes += "p" }
            files.append(file)
            offsets.append(offset)
            offset = try add(offset, file.length)
        }
        guard !files.isEmpty else { throw MetainfoError(.missingField, "files is an empty list") }
        let targets = SymlinkTargets.validate(paths: files.map(\.path), targets: files.map(\.symlink))
        for index in files.indices { files[index].symlink = targets[index] }
        return Files(files: files, offsets: offsets, totalLength: offset, isSingleFile: false)
    }

    /// One v1 file: a link (`l`) has no bytes in the torrent whatever its `length` says, as in libtorrent.
    static func v1File(
        _ node: BencodeNode, path: [String], originalPath: [String]?, what: String
    ) throws(MetainfoError) -> RawFile {
        var attributes = node["attr"]?.bytes.map { String(decoding: $0, as: UTF8.self) } ?? ""
        let size = attributes.contains("l") ? 0 : try length(node["length"], what: what)
        let target = try symlinkTarget(node, attributes: attributes, what: what)
        if target == nil { attributes.removeAll { $0 == "l" } }
        let sha1 = node["sha1"]?.bytes.flatMap { $0.count == 20 ? Array($0) : nil }
        return RawFile(
            path: path, originalPath: originalPath, length: size, attributes: attributes, symlink: target, sha1: sha1,
            mtime: node["mtime"]?.integer)
    }

    // MARK: v2

    /// BEP 52 `file tree`: nested dictionaries keyed by path element; a file is a dictionary whose only key is
    /// the empty string, mapping to `{length, pieces root}`. Each non-empty file is followed by a synthesized
    /// pad entry up to the next piece boundary (libtorrent pads after the last file too).
    static func parseV2Tree(_ tree: BencodeNode, pieceLength: Int, isMultiFile: Bool) throws(MetainfoError) -> Files {
        var found: [RawFile] = []
        try walk(tree, path: [], original: [], depth: 0, isMultiFile: isMultiFile, into: &found)
        guard !found.isEmpty else { throw MetainfoError(.invalidFileTree, "file tree holds no files") }
        let targets = SymlinkTargets.validate(paths: found.map(\.path), targets: found.map(\.symlink))
        var files: [RawFile] = []
        var offsets: [Int64] = []
        var offset: Int64 = 0
        for (index, var file) in found.enumerated() {
            file.symlink = targets[index]
            files.append(file)
            offsets.append(offset)
            offset = try add(offset, file.length)
            let tail = Int(offset % Int64(pieceLength))
            if tail != 0 {
                let pad = pieceLength - tail
                files.append(
                    RawFile(
                        path: [padFolder, String(pad)], length: Int64(pad), attributes: "p", symlink: nil, mtime: nil))
                offsets.append(offset)
                offset = try add(offset, Int64(pad))
            }
            guard files.count <= MetainfoLimits.maxFileCount else {
                throw MetainfoError(.limitExceeded, "more than \(MetainfoLimits.maxFileCount) files")
            }
        }
        let isSingle = !isMultiFile && found.count == 1 && found[0].path.count == 1
        return Files(files: files, offsets: offsets, totalLength: offset, isSingleFile: isSingle)
    }

    static func walk(
        _ folder: BencodeNode, path prefix: [String], original: [String], depth: Int, isMultiFile: Bool,
        into files: inout [RawFile]
    ) throws(MetainfoError) {
        let what = prefix.isEmpty ? "file tree" : "folder \(original.joined(separator: "/"))"
        for (key, child) in folder.entries {
            guard files.count < MetainfoLimits.maxFileCount else {
                throw MetainfoError(.limitExceeded, "more than \(MetainfoLimits.maxFileCount) files")
            }
            guard !key.isEmpty else {
                throw MetainfoError(.invalidFileTree, "\(what) has a file entry next to folder entries")
            }
            let originalPath = original + [String(decoding: key, as: UTF8.self)]
            let display = originalPath.joined(separator: "/")
            guard child.kind == .dictionary else {
                throw MetainfoError(.invalidFileTree, "file tree entry \(display) is not a dictionary")
            }
            let path = prefix + [PathSanitizer.element(key, force: true) ?? "_"]
            let entries = child.entries
            if entries.count == 1, entries[0].key.isEmpty {
                files.append(try v2File(entries[0].value, path: path, originalPath: originalPath, display: display))
            } else {
                guard depth + 1 < MetainfoLimits.maxPathDepth else {
                    throw MetainfoError(.limitExceeded, "a path has more than \(MetainfoLimits.maxPathDepth) parts")
                }
                try walk(
                    child, path: path, original: originalPath, depth: depth + 1, isMultiFile: isMultiFile,
                    into: &files)
            }
        }
    }

    /// One v2 file entry. Pad files have no place in a v2 tree; links have no bytes and no pieces root; every
    /// other non-empty file needs a 32-byte pieces root that is not all zeros.
    static func v2File(
        _ leaf: BencodeNode, path: [String], originalPath: [String], display: String
    ) throws(MetainfoError) -> RawFile {
        guard leaf.kind == .dictionary else {
            throw MetainfoError(.invalidFileTree, "file entry of \(display) is not a dictionary")
        }
        var attributes = leaf["attr"]?.bytes.map { String(decoding: $0, as: UTF8.self) } ?? ""
        if attributes.contains("p") {
            throw MetainfoError(.invalidPadFile, "\(display) is marked as a pad file inside a v2 file tree")
        }
        let isLink = attributes.contains("l")
        var size: Int64 = 0
        if !isLink {
            guard let lengthNode = leaf["length"] else {
                throw MetainfoError(.invalidFileTree, "\(display) has no length")
            }
            size = try length(lengthNode, what: display)
        }
        let target = try symlinkTarget(leaf, attributes: attributes, what: display)
        if target == nil { attributes.removeAll { $0 == "l" } }
        var root: [UInt8]?
        if target == nil && size > 0 {
            guard let bytes = leaf["pieces root"]?.bytes, bytes.count == 32 else {
                throw MetainfoError(.missingPiecesRoot, "\(display) has no 32-byte pieces root")
            }
            guard bytes.contains(where: { $0 != 0 }) else {
                throw MetainfoError(.missingPiecesRoot, "the pieces root of \(display) is all zeros")
            }
            root = Array(bytes)
        }
        return RawFile(
            path: path, originalPath: originalPath, length: size, attributes: attributes, symlink: target,
            piecesRoot: root, mtime: leaf["mtime"]?.integer)
    }

    /// A hybrid's v1 file list must describe the v2 tree (libtorrent's `files_compatible`): as many entries
    /// (a v2 tail pad the v1 list lacks is dropped, as hybrids made by libtorrent 2.0.0-2.0.7 have none), the
    /// same total, and every non-empty, non-pad file at the same index with the same path, length and offset
    /// (and link target). The v2 layout is the torrent's layout.
    static func merge(v1: Files, v2: Files, pieceLength: Int) throws(MetainfoError) -> Files {
        var v2 = v2
        if v2.files.count == v1.files.count + 1, let last = v2.files.lastIndex(where: { $0.length > 0 }),
            v2.files[last].isPad
        {
            v2.totalLength -= v2.files[last].length
            v2.files.remove(at: last)
            v2.offsets.remove(at: last)
            for index in last..<v2.offsets.count { v2.offsets[index] = v2.totalLength }
        }
        guard v1.files.count == v2.files.count else {
            throw MetainfoError(
                .hybridMismatch, "v1 lists \(v1.files.count) files, the v2 file tree \(v2.files.count)")
        }
        guard v1.totalLength == v2.totalLength else {
            throw MetainfoError(
                .hybridMismatch, "v1 describes \(v1.totalLength) bytes, the v2 file tree \(v2.totalLength)")
        }
        for index in v1.files.indices {
            let a = v1.files[index]
            let b = v2.files[index]
            let aRelevant = !a.isPad && a.length > 0
            guard aRelevant == (!b.isPad && b.length > 0) else {
                throw MetainfoError(.hybridMismatch, "file \(index) is a pad or empty file in one half only")
            }
            guard aRelevant else { continue }
            let name = a.path.joined(separator: "/")
            guard a.path == b.path else {
                throw MetainfoError(
                    .hybridMismatch, "v1 file \(name) is \(b.path.joined(separator: "/")) in the v2 tree")
            }
            guard a.length == b.length else {
                throw MetainfoError(.hybridMismatch, "\(name) is \(a.length) bytes in v1, \(b.length) in v2")
            }
            guard v1.offsets[index] == v2.offsets[index] else {
                throw MetainfoError(.hybridMismatch, "\(name) is not aligned to a piece boundary in the v1 list")
            }
            guard a.symlink == nil || a.symlink == b.symlink else {
                throw MetainfoError(.hybridMismatch, "\(name) links to different targets in v1 and v2")
            }
        }
        v2.isSingleFile = v1.isSingleFile
        return v2
    }

    /// BEP 52 `piece layers`, checked as libtorrent does: every entry is a 32-byte root of a file larger than
    /// a piece (each used once), holding one 32-byte hash per piece that hash up to that root. Layers may be
    /// missing (like a magnet link's metadata); a wrong one refuses the torrent.
    static func parseLayers(
        _ node: BencodeNode, files: [TorrentFile], pieceLength: Int
    ) throws(MetainfoError) -> [[UInt8]: [UInt8]] {
        var byRoot: [[UInt8]: Int] = [:]
        for (index, file) in files.enumerated() where !file.isPadFile && file.length > Int64(pieceLength) {
            if let root = file.piecesRoot, byRoot[root] == nil { byRoot[root] = index }
        }
        var layers: [[UInt8]: [UInt8]] = [:]
        let pad = MerkleTree.padHash(levels: MerkleTree.levels(perPiece: pieceLength))
        for (key, value) in node.entries {
            guard key.count == 32, let layer = value.bytes, layer.count % 32 == 0 else {
                throw MetainfoError(
                    .invalidPieceLayers, "a piece layers entry is not a 32-byte root mapping to 32-byte hashes")
            }
            let root = Array(key)
            guard let index = byRoot.removeValue(forKey: root) else {
                throw MetainfoError(
                    .invalidPieceLayers, "a piece layer belongs to no file larger than a piece (or is repeated)")
            }
            let file = files[index]
            let display = file.path.joined(separator: "/")
            let pieces = (file.length + Int64(pieceLength) - 1) / Int64(pieceLength)
            guard Int64(layer.count) == pieces * 32 else {
                throw MetainfoError(
                    .invalidPieceLayers,
                    "piece layer of \(display) is \(layer.count) bytes, expected \(pieces * 32) for \(pieces) pieces")
            }
            let layerBytes = Array(layer)
            guard MerkleTree.root(ofLayer: layerBytes, pad: pad) == root else {
                throw MetainfoError(.invalidPieceLayers, "piece layer of \(display) does not hash to its pieces root")
            }
            layers[root] = layerBytes
        }
        return layers
    }
}
