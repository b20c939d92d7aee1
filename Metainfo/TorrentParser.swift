import BTBencode
import Crypto
import Foundation

/// Limits applied to untrusted .torrent files, so that a hostile file cannot exhaust memory or time.
public enum MetainfoLimits {
    /// Largest .torrent file ``Torrent/init(contentsOf:)`` reads: 10 MB, libtorrent's default
    /// (`load_torrent_limits::max_buffer_size`).
    public static let maxTorrentFileSize = 10_000_000
    /// Largest piece length accepted (libtorrent's creator tops out at 128 MiB; we allow 256 MiB).
    public static let maxPieceLength = 256 << 20
    /// Smallest v2 piece length (BEP 52): one merkle block.
    public static let minV2PieceLength = 16_384
    /// Most files (pad files included) in one torrent.
    public static let maxFileCount = 1_000_000
    /// Most path components in one file path.
    public static let maxPathDepth = 256
    /// Largest single file: 1 PiB.
    public static let maxFileLength: Int64 = 1 << 50
    /// Largest total size: 4 PiB.
    public static let maxTotalLength: Int64 = 1 << 52
    /// Most tracker URLs and web seeds kept.
    public static let maxURLs = 10_000
}

extension Torrent {
    /// Parses and validates a .torrent file (BEP 3 v1, BEP 52 v2, or hybrid).
    ///
    /// Dictionaries with unsorted keys are accepted (real torrents have them); the info-hashes are computed
    /// over the info dictionary's bytes exactly as they appear in `bytes`.
    /// - Throws: ``MetainfoError`` with a specific code for every rejection.
    public init(bytes: [UInt8]) throws(MetainfoError) {
        self = try TorrentParser.parse(bytes)
    }
}

/// The .torrent parser behind ``Torrent/init(bytes:)``.
enum TorrentParser {
    static func parse(_ bytes: [UInt8]) throws(MetainfoError) -> Torrent {
        let document: BencodeDocument
        do throws(BencodeError) {
            document = try BencodeDocument(bytes, options: .lenient)
        } catch {
            throw MetainfoError(.invalidBencode, "not a bencoded torrent: \(error)", bencode: error)
        }
        let root = document.root
        guard root.kind == .dictionary else {
            throw MetainfoError(.invalidField, "a torrent file is a bencoded dictionary")
        }
        guard let info = root["info"] else { throw MetainfoError(.missingField, "no info dictionary") }
        guard info.kind == .dictionary else { throw MetainfoError(.invalidField, "info is not a dictionary") }
        let content = try InfoParser.parse(info, pieceLayers: root["piece layers"])
        let infoBytes = Array(info.rawBytes)
        let v1 = content.version == .v2 ? nil : Array(Insecure.SHA1.hash(data: infoBytes))
        let v2 = content.version == .v1 ? nil : Array(SHA256.hash(data: infoBytes))

        return Torrent(
            version: content.version, infoHashes: InfoHashes(v1: v1, v2: v2), name: content.name,
            pieceLength: content.pieceLength, files: content.files, isSingleFile: content.isSingleFile,
            pieceHashes: content.pieceHashes, pieceLayers: content.pieceLayers, isPrivate: content.isPrivate,
            announceTiers: announceTiers(root), webSeeds: webSeeds(root), dhtNodes: dhtNodes(root),
            comment: text(root, "comment"), createdBy: text(root, "created by"),
            creationDate: root["creation date"]?.integer, encoding: text(root, "encoding"), source: content.source,
            infoBytes: infoBytes)
    }

    /// A text field, preferring its `.utf-8` variant; nil when absent or not a string.
    static func text(_ dictionary: BencodeNode, _ key: String) -> String? {
        let node = dictionary[key + ".utf-8"].flatMap { $0.kind == .string ? $0 : nil } ?? dictionary[key]
        guard let bytes = node?.bytes else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// BEP 12: `announce-list` tiers win over `announce`; empty URLs and tiers are dropped, and a URL listed
    /// twice is kept only where it first appears. Wrongly typed entries are ignored, as libtorrent does.
    static func announceTiers(_ root: BencodeNode) -> [[String]] {
        var seen = Set<String>()
        var tiers: [[String]] = []
        func take(_ node: BencodeNode) -> String? {
            guard let bytes = node.bytes, seen.count < MetainfoLimits.maxURLs else { return nil }
            let url = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            guard !url.isEmpty, seen.insert(url).inserted else { return nil }
            return url
        }
        if let list = root["announce-list"], list.kind == .list {
            for tier in list.list {
                let urls = tier.kind == .list ? tier.list.compactMap(take) : (take(tier).map { [$0] } ?? [])
                if !urls.isEmpty { tiers.append(urls) }
            }
        }
        if tiers.isEmpty, let announce = root["announce"], let url = take(announce) { tiers = [[url]] }
        return tiers
    }

    /// BEP 19 `url-list`: one string or a list of strings.
    static func webSeeds(_ root: BencodeNode) -> [String] {
        guard let node = root["url-list"] else { return [] }
        let items = node.kind == .list ? node.list.array : [node]
        var seen = Set<String>()
        var result: [String] = []
        for item in items.prefix(MetainfoLimits.maxURLs) {
            guard let bytes = item.bytes else { continue }
            let url = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            if !url.isEmpty, seen.insert(url).inserted { result.append(url) }
        }
        return result
    }

    /// BEP 5 `nodes`: a list of `[host, port]` pairs; malformed entries are skipped.
    static func dhtNodes(_ root: BencodeNode) -> [Torrent.DHTNode] {
        guard let node = root["nodes"], node.kind == .list else { return [] }
        var result: [Torrent.DHTNode] = []
        for pair in node.list.prefix(MetainfoLimits.maxURLs) where pair.kind == .list {
            let items = pair.list.array
            guard items.count == 2, let host = items[0].string, !host.isEmpty, let port = items[1].integer,
                port > 0 && port < 65536
            else { continue }
            result.append(Torrent.DHTNode(host: host, port: Int(port)))
        }
        return result
    }
}

/// The parsed content of an info dictionary.
struct InfoContent {
    var version: TorrentVersion
    var name: String
    var pieceLength: Int
    var files: [TorrentFile]
    var isSingleFile: Bool
    var pieceHashes: [UInt8]
    var pieceLayers: [[UInt8]: [UInt8]]
    var isPrivate: Bool
    var source: String?
}

/// Parses and validates the info dictionary (and the top-level `piece layers` of v2 torrents).
enum InfoParser {
    static let padFolder = ".pad"

    static func parse(_ info: BencodeNode, pieceLayers: BencodeNode?) throws(MetainfoError) -> InfoContent {
        // Version (BEP 52): `meta version` 2 means a v2 file tree; absent (or 1) means v1 only.
        var isV2 = false
        if let meta = info["meta version"] {
            guard let version = meta.integer else {
                throw MetainfoError(.invalidField, "meta version is not an integer")
            }
            guard version == 1 || version == 2 else {
                throw MetainfoError(.unsupportedVersion, "unsupported meta version \(version)")
            }
            isV2 = version == 2
        }
        let hasV1 = info["pieces"] != nil
        guard hasV1 || isV2 else { throw MetainfoError(.missingField, "info has no pieces (and no v2 file tree)") }

        guard let nameNode = info["name.utf-8"].flatMap({ $0.kind == .string ? $0 : nil }) ?? info["name"] else {
            throw MetainfoError(.missingField, "info has no name")
        }
        guard let nameBytes = nameNode.bytes else { throw MetainfoError(.invalidField, "name is not a string") }
        let name = try component(nameBytes, what: "name")

        guard let pieceLengthNode = info["piece length"] else {
            throw MetainfoError(.missingField, "info has no piece length")
        }
        guard let rawPieceLength = pieceLengthNode.integer else {
            throw MetainfoError(.invalidField, "piece length is not an integer")
        }
        guard rawPieceLength > 0 else {
            throw MetainfoError(.invalidPieceLength, "piece length \(rawPieceLength) is not positive")
        }
        guard rawPieceLength <= MetainfoLimits.maxPieceLength else {
            throw MetainfoError(.invalidPieceLength, "piece length \(rawPieceLength) is larger than 256 MiB")
        }
        let pieceLength = Int(rawPieceLength)
        if isV2 {
            guard pieceLength >= MetainfoLimits.minV2PieceLength, pieceLength.nonzeroBitCount == 1 else {
                throw MetainfoError(
                    .invalidPieceLength, "v2 piece length \(pieceLength) is not a power of two of at least 16 KiB")
            }
        }

        var isPrivate = false
        if let node = info["private"], let value = node.integer { isPrivate = value != 0 }
        let source = info["source"]?.bytes.map { String(decoding: $0, as: UTF8.self) }

        var v1: V1Files?
        var pieceHashes: [UInt8] = []
        if hasV1 {
            guard let pieces = info["pieces"]?.bytes else {
                throw MetainfoError(.invalidPieceHashes, "pieces is not a byte string")
            }
            guard pieces.count % 20 == 0 else {
                throw MetainfoError(
                    .invalidPieceHashes, "pieces is \(pieces.count) bytes, not a multiple of 20 (SHA-1 size)")
            }
            let files = try parseV1Files(info, name: name)
            let expected = (files.totalLength + Int64(pieceLength) - 1) / Int64(pieceLength)
            guard Int64(pieces.count / 20) == expected else {
                throw MetainfoError(
                    .pieceCountMismatch,
                    "\(pieces.count / 20) piece hashes for \(files.totalLength) bytes in pieces of \(pieceLength) "
                        + "(expected \(expected))")
            }
            pieceHashes = Array(pieces)
            v1 = files
        }

        var v2: V2Files?
        if isV2 {
            v2 = try parseV2Tree(info, name: name, pieceLength: pieceLength, singleFileV1: v1?.isSingleFile)
        }

        var result = InfoContent(
            version: .v1, name: name, pieceLength: pieceLength, files: [], isSingleFile: false,
            pieceHashes: pieceHashes,
            pieceLayers: [:], isPrivate: isPrivate, source: source)
        switch (v1, v2) {
        case (let v1?, nil):
            result.files = v1.files
            result.isSingleFile = v1.isSingleFile
        case (nil, let v2?):
            result.version = .v2
            result.files = v2.files
            result.isSingleFile = v2.isSingleFile
        case (let v1?, let v2?):
            result.version = .hybrid
            result.files = try merge(v1: v1, v2: v2)
            result.isSingleFile = v1.isSingleFile
        case (nil, nil):
            throw MetainfoError(.missingField, "info has neither v1 nor v2 file information")
        }
        try checkDuplicates(result.files)
        if let v2 {
            result.pieceLayers = try parseLayers(pieceLayers, files: v2.files, pieceLength: pieceLength)
        }
        return result
    }

    // MARK: paths

    /// Validates one path component: not empty, `.` or `..`, and free of `/`, `\` and NUL.
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

    /// Validates a BEP 3 path list.
    static func path(_ node: BencodeNode, what: String) throws(MetainfoError) -> [String] {
        guard node.kind == .list else { throw MetainfoError(.invalidField, "\(what) is not a list") }
        var components: [String] = []
        for item in node.list {
            guard let bytes = item.bytes else { throw MetainfoError(.invalidField, "\(what) has a non-string part") }
            components.append(try component(bytes, what: what))
            guard components.count <= MetainfoLimits.maxPathDepth else {
                throw MetainfoError(.limitExceeded, "\(what) has more than \(MetainfoLimits.maxPathDepth) parts")
            }
        }
        guard !components.isEmpty else { throw MetainfoError(.unsafePath, "\(what) is empty") }
        return components
    }

    /// Rejects two files with the same path, and a file whose path is a folder of another file. Paths are
    /// interned as a tree of (parent, name) nodes, so the check is linear in the number of path components.
    static func checkDuplicates(_ files: [TorrentFile]) throws(MetainfoError) {
        struct NodeKey: Hashable {
            var parent: Int
            var name: String
        }
        var nodes: [NodeKey: Int] = [:]
        var isFile: [Bool] = [false]  // node 0 is the root folder
        for file in files where !file.isPadFile {
            var parent = 0
            for (index, name) in file.path.enumerated() {
                let last = index == file.path.count - 1
                let key = NodeKey(parent: parent, name: name)
                if let existing = nodes[key] {
                    let display = file.path[0...index].joined(separator: "/")
                    if last && isFile[existing] {
                        throw MetainfoError(.duplicatePath, "two files named \(display)")
                    }
                    if last || isFile[existing] {
                        throw MetainfoError(.duplicatePath, "\(display) is both a file and a folder")
                    }
                    parent = existing
                } else {
                    nodes[key] = isFile.count
                    parent = isFile.count
                    isFile.append(last)
                }
            }
        }
    }

    // MARK: lengths and attributes

    static func length(_ node: BencodeNode?, what: String) throws(MetainfoError) -> Int64 {
        guard let node else { throw MetainfoError(.missingField, "\(what) has no length") }
        guard let value = node.integer else { throw MetainfoError(.invalidField, "\(what) length is not an integer") }
        guard value >= 0 else { throw MetainfoError(.invalidFileLength, "\(what) has negative length \(value)") }
        guard value <= MetainfoLimits.maxFileLength else {
            throw MetainfoError(.invalidFileLength, "\(what) length \(value) is larger than 1 PiB")
        }
        return value
    }

    /// BEP 47 attributes of a file dictionary (`attr`, `symlink path`, `sha1`, `mtime`).
    static func attributes(
        _ node: BencodeNode, what: String
    ) throws(MetainfoError) -> (attr: String, symlink: [String]?, sha1: [UInt8]?, mtime: Int64?) {
        let attr = node["attr"]?.bytes.map { String(decoding: $0, as: UTF8.self) } ?? ""
        var symlink: [String]?
        if attr.contains("l"), let target = node["symlink path"] {
            symlink = try path(target, what: "symlink path of \(what)")
        }
        let sha1 = node["sha1"]?.bytes.flatMap { $0.count == 20 ? Array($0) : nil }
        return (attr, symlink, sha1, node["mtime"]?.integer)
    }

    // MARK: v1

    struct V1Files {
        var files: [TorrentFile]
        var isSingleFile: Bool
        var totalLength: Int64
    }

    static func parseV1Files(_ info: BencodeNode, name: String) throws(MetainfoError) -> V1Files {
        if let list = info["files"] {
            guard list.kind == .list else { throw MetainfoError(.invalidField, "files is not a list") }
            var files: [TorrentFile] = []
            var offset: Int64 = 0
            for entry in list.list {
                guard files.count < MetainfoLimits.maxFileCount else {
                    throw MetainfoError(.limitExceeded, "more than \(MetainfoLimits.maxFileCount) files")
                }
                guard entry.kind == .dictionary else {
                    throw MetainfoError(.invalidField, "file entry \(files.count) is not a dictionary")
                }
                let what = "file \(files.count)"
                guard let pathNode = entry["path.utf-8"].flatMap({ $0.kind == .list ? $0 : nil }) ?? entry["path"]
                else { throw MetainfoError(.missingField, "\(what) has no path") }
                let components = try path(pathNode, what: "path of \(what)")
                let size = try length(entry["length"], what: what)
                let extra = try attributes(entry, what: what)
                files.append(
                    TorrentFile(
                        path: components, length: size, offset: offset, attributes: extra.attr,
                        symlinkPath: extra.symlink, sha1: extra.sha1, mtime: extra.mtime))
                offset = try add(offset, size)
            }
            guard !files.isEmpty else { throw MetainfoError(.missingField, "files is an empty list") }
            return V1Files(files: files, isSingleFile: false, totalLength: offset)
        }
        guard info["length"] != nil else { throw MetainfoError(.missingField, "info has neither length nor files") }
        let size = try length(info["length"], what: "the torrent")
        let extra = try attributes(info, what: name)
        let file = TorrentFile(
            path: [name], length: size, offset: 0, attributes: extra.attr, symlinkPath: extra.symlink,
            sha1: extra.sha1, mtime: extra.mtime)
        return V1Files(files: [file], isSingleFile: true, totalLength: size)
    }

    static func add(_ total: Int64, _ size: Int64) throws(MetainfoError) -> Int64 {
        let (sum, overflow) = total.addingReportingOverflow(size)
        guard !overflow, sum <= MetainfoLimits.maxTotalLength else {
            throw MetainfoError(.invalidFileLength, "total length is larger than 4 PiB")
        }
        return sum
    }

    // MARK: v2

    struct V2File {
        var path: [String]
        var length: Int64
        var attr: String
        var symlink: [String]?
        var mtime: Int64?
        var piecesRoot: [UInt8]?
    }

    struct V2Files {
        /// Files in tree order with synthesized pad entries aligning each to a piece boundary.
        var files: [TorrentFile]
        /// The real files only, in tree order.
        var real: [TorrentFile]
        var isSingleFile: Bool
    }

    /// BEP 52 `file tree`: nested dictionaries keyed by path component; a file is a dictionary whose only key
    /// is the empty string, mapping to `{length, pieces root}`.
    static func parseV2Tree(
        _ info: BencodeNode, name: String, pieceLength: Int, singleFileV1: Bool?
    ) throws(MetainfoError) -> V2Files {
        guard let tree = info["file tree"] else { throw MetainfoError(.missingField, "v2 info has no file tree") }
        guard tree.kind == .dictionary else { throw MetainfoError(.invalidFileTree, "file tree is not a dictionary") }
        var found: [V2File] = []
        try walk(tree, prefix: [], into: &found)
        guard !found.isEmpty else { throw MetainfoError(.invalidFileTree, "file tree holds no files") }

        // A single-file v2 torrent's tree is `{name: {"": ...}}`; a folder holding one file has the same shape,
        // so the name (and, for hybrids, the v1 form) decides.
        let treeIsSingle = found.count == 1 && found[0].path.count == 1
        let isSingleFile = treeIsSingle && (singleFileV1 ?? (found[0].path[0] == name))

        var files: [TorrentFile] = []
        var real: [TorrentFile] = []
        var offset: Int64 = 0
        for file in found {
            let entry = TorrentFile(
                path: file.path, length: file.length, offset: offset, attributes: file.attr,
                symlinkPath: file.symlink, piecesRoot: file.piecesRoot, mtime: file.mtime)
            files.append(entry)
            real.append(entry)
            offset = try add(offset, file.length)
            let tail = Int(file.length % Int64(pieceLength))
            // libtorrent 2.0 pads after the last file too, so the stream is a whole number of pieces.
            if tail != 0 {
                let pad = pieceLength - tail
                files.append(
                    TorrentFile(path: [padFolder, String(pad)], length: Int64(pad), offset: offset, attributes: "p"))
                offset = try add(offset, Int64(pad))
            }
        }
        guard files.count <= MetainfoLimits.maxFileCount else {
            throw MetainfoError(.limitExceeded, "more than \(MetainfoLimits.maxFileCount) files")
        }
        return V2Files(files: files, real: real, isSingleFile: isSingleFile)
    }

    static func walk(_ folder: BencodeNode, prefix: [String], into files: inout [V2File]) throws(MetainfoError) {
        let what = prefix.isEmpty ? "file tree" : "folder \(prefix.joined(separator: "/"))"
        for (key, child) in folder.entries {
            guard files.count < MetainfoLimits.maxFileCount else {
                throw MetainfoError(.limitExceeded, "more than \(MetainfoLimits.maxFileCount) files")
            }
            guard !key.isEmpty else {
                throw MetainfoError(.invalidFileTree, "\(what) has a file entry next to folder entries")
            }
            let path = prefix + [try component(key, what: "a file tree name in \(what)")]
            guard path.count <= MetainfoLimits.maxPathDepth else {
                throw MetainfoError(.limitExceeded, "a path has more than \(MetainfoLimits.maxPathDepth) parts")
            }
            let display = path.joined(separator: "/")
            guard child.kind == .dictionary else {
                throw MetainfoError(.invalidFileTree, "file tree entry \(display) is not a dictionary")
            }
            if let leaf = child[""] {
                guard child.count == 1 else {
                    throw MetainfoError(.invalidFileTree, "\(display) is both a file and a folder")
                }
                guard leaf.kind == .dictionary else {
                    throw MetainfoError(.invalidFileTree, "file entry of \(display) is not a dictionary")
                }
                guard let lengthNode = leaf["length"] else {
                    throw MetainfoError(.invalidFileTree, "\(display) has no length")
                }
                let size = try length(lengthNode, what: display)
                var root: [UInt8]?
                if size > 0 {
                    guard let rootNode = leaf["pieces root"] else {
                        throw MetainfoError(.invalidFileTree, "\(display) has no pieces root")
                    }
                    guard let bytes = rootNode.bytes, bytes.count == 32 else {
                        throw MetainfoError(.invalidFileTree, "pieces root of \(display) is not 32 bytes")
                    }
                    root = Array(bytes)
                }
                let extra = try attributes(leaf, what: display)
                files.append(
                    V2File(
                        path: path, length: size, attr: extra.attr, symlink: extra.symlink, mtime: extra.mtime,
                        piecesRoot: root))
            } else {
                try walk(child, prefix: path, into: &files)
            }
        }
    }

    /// A hybrid's v1 file list must describe the v2 tree: the same files, lengths and order, each at the
    /// offset the v2 alignment gives it (BEP 52, with BEP 47 pad files between them).
    static func merge(v1: V1Files, v2: V2Files) throws(MetainfoError) -> [TorrentFile] {
        let v1Real = v1.files.filter { !$0.isPadFile }
        guard v1Real.count == v2.real.count else {
            throw MetainfoError(
                .hybridMismatch, "v1 lists \(v1Real.count) files, the v2 file tree \(v2.real.count)")
        }
        var roots: [[UInt8]?] = []
        for (a, b) in zip(v1Real, v2.real) {
            let name = a.path.joined(separator: "/")
            guard a.path == b.path else {
                throw MetainfoError(
                    .hybridMismatch, "v1 file \(name) is \(b.path.joined(separator: "/")) in the v2 tree")
            }
            guard a.length == b.length else {
                throw MetainfoError(.hybridMismatch, "\(name) is \(a.length) bytes in v1, \(b.length) in v2")
            }
            guard a.offset == b.offset || a.length == 0 else {
                throw MetainfoError(.hybridMismatch, "\(name) is not aligned to a piece boundary in the v1 list")
            }
            roots.append(b.piecesRoot)
        }
        var index = 0
        return v1.files.map { file in
            guard !file.isPadFile else { return file }
            defer { index += 1 }
            return TorrentFile(
                path: file.path, length: file.length, offset: file.offset, attributes: file.attributes,
                symlinkPath: file.symlinkPath, piecesRoot: roots[index], sha1: file.sha1, mtime: file.mtime)
        }
    }

    /// BEP 52 `piece layers`: for each file larger than a piece, its piece hashes keyed by its pieces root.
    /// A layer must have one hash per piece and hash up to the root; layers may be missing (magnet links).
    static func parseLayers(
        _ node: BencodeNode?, files: [TorrentFile], pieceLength: Int
    ) throws(MetainfoError) -> [[UInt8]: [UInt8]] {
        guard let node else { return [:] }
        guard node.kind == .dictionary else {
            throw MetainfoError(.invalidPieceLayers, "piece layers is not a dictionary")
        }
        // One pass over the entries (not a lookup per file, which would be quadratic on hostile input).
        var entries: [[UInt8]: BencodeNode] = [:]
        for (key, value) in node.entries where key.count == 32 && entries[Array(key)] == nil {
            entries[Array(key)] = value
        }
        var layers: [[UInt8]: [UInt8]] = [:]
        let pad = MerkleTree.padHash(levels: MerkleTree.levels(perPiece: pieceLength))
        for file in files where file.length > Int64(pieceLength) {
            guard let root = file.piecesRoot, layers[root] == nil, let layerNode = entries[root] else { continue }
            let display = file.path.joined(separator: "/")
            guard let layer = layerNode.bytes else {
                throw MetainfoError(.invalidPieceLayers, "piece layer of \(display) is not a byte string")
            }
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
