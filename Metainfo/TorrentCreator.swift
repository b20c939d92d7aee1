import BTBencode
import Crypto
import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Creates v1, v2 or hybrid torrents from a file or a folder, hashing on every core.
///
/// The output matches libtorrent 2.0's `create_torrent` for the same files and settings: files in sorted
/// path order (component by component, by their bytes), for v2 and hybrid a BEP 47 pad file `.pad/<size>`
/// after every non-empty file of a multi-file torrent that does not end on a piece boundary (the last one
/// included), and libtorrent's automatic piece size.
///
/// Symbolic links are followed when they point to a regular file (the target's content is hashed under the
/// link's name); a link to a folder, a dangling link, or anything that is neither a regular file nor a folder
/// is an error rather than being skipped silently. Empty folders cannot be represented in a torrent and are
/// left out. File attributes (`x`, `h`) and modification times are not recorded.
///
/// ```swift
/// var creator = TorrentCreator(path: "/data/album")
/// creator.version = .hybrid
/// creator.trackers = [["udp://tracker.example:6969"]]
/// let torrent = try creator.create { done, total in print(done, "/", total) }
/// try Data(torrent.encoded()).write(to: URL(fileURLWithPath: "album.torrent"))
/// ```
public struct TorrentCreator: Sendable {
    /// The file or folder to share.
    public var path: String
    /// v1, v2 or hybrid (libtorrent 2.0's default, and ours).
    public var version: TorrentVersion = .hybrid
    /// Piece length; nil picks one from the total size the way libtorrent does. v2 and hybrid need a power of
    /// two of at least 16 KiB; v1 a multiple of 16 KiB or a power of two.
    public var pieceLength: Int?
    /// Tracker tiers (BEP 12).
    public var trackers: [[String]] = []
    /// Web seeds (BEP 19).
    public var webSeeds: [String] = []
    /// BEP 27 private flag.
    public var isPrivate = false
    /// Comment.
    public var comment: String?
    /// `created by`.
    public var createdBy: String? = "NetBitTorrent"
    /// `creation date`, seconds since 1970; set nil to leave it out (deterministic output).
    public var creationDate: Int64? = Int64(Date().timeIntervalSince1970)
    /// `source` in the info dictionary (changes the info-hash; used by private trackers).
    public var source: String?

    /// Creates a creator for the file or folder at `path`.
    public init(path: String) { self.path = path }

    /// One file found on disk.
    struct InputFile: Sendable {
        var path: [String]
        var diskPath: String
        var length: Int64
    }

    /// The automatic piece length libtorrent 2.0 uses: 16 KiB doubled for every size threshold
    /// `round((p / 10)²)` (p = 16 KiB · 2^i) the total size exceeds, up to 16 MiB. It keeps the v1 piece list
    /// near `2·√total` bytes.
    public static func automaticPieceLength(totalSize: Int64) -> Int {
        var exponent = 0
        while exponent < 10 {
            let piece = Double(16_384 << exponent) / 10
            let threshold = Int64((piece * piece).rounded())
            if threshold >= totalSize { break }
            exponent += 1
        }
        return 16_384 << exponent
    }

    /// Hashes the content and builds the torrent. `progress` is called from the hashing threads with the bytes
    /// hashed so far and the total.
    /// - Throws: ``MetainfoError`` (`.ioError` for unreadable or unsupported files, `.invalidPieceLength`,
    ///   `.invalidFileLength` for no data, `.unsafePath` for names a torrent cannot hold).
    public func create(
        progress: (@Sendable (_ hashed: Int64, _ total: Int64) -> Void)? = nil
    ) throws(MetainfoError) -> Torrent {
        let (name, inputs, isDirectory) = try Self.scan(path)
        let total = inputs.reduce(Int64(0)) { $0 + $1.length }
        guard total > 0 else { throw MetainfoError(.invalidFileLength, "\(path) holds no data to share") }
        let pieceLength = self.pieceLength ?? Self.automaticPieceLength(totalSize: total)
        guard pieceLength > 0, pieceLength <= MetainfoLimits.maxPieceLength else {
            throw MetainfoError(.invalidPieceLength, "piece length \(pieceLength) is out of range")
        }
        if version == .v1 {
            guard pieceLength % 16_384 == 0 || pieceLength.nonzeroBitCount == 1 else {
                throw MetainfoError(.invalidPieceLength, "piece length \(pieceLength) is not a multiple of 16 KiB")
            }
        } else {
            guard pieceLength >= 16_384, pieceLength.nonzeroBitCount == 1 else {
                throw MetainfoError(
                    .invalidPieceLength, "v2 piece length \(pieceLength) is not a power of two of at least 16 KiB")
            }
        }
        let isMultiFile = isDirectory

        // Linear layout: for v2 and hybrid, pad after every non-empty file not ending on a piece boundary.
        var layout: [TorrentFile] = []
        var realIndexes: [Int] = []
        var offset: Int64 = 0
        for input in inputs {
            realIndexes.append(layout.count)
            layout.append(TorrentFile(path: input.path, length: input.length, offset: offset))
            offset += input.length
            let tail = Int(offset % Int64(pieceLength))
            // libtorrent pads only when there is more than one file (a folder holding one file gets none).
            if version != .v1 && inputs.count > 1 && input.length > 0 && tail != 0 {
                let pad = pieceLength - tail
                layout.append(
                    TorrentFile(
                        path: [InfoParser.padFolder, String(pad)], length: Int64(pad), offset: offset, attributes: "p"))
                offset += Int64(pad)
            }
        }
        let hashes = try Hasher.hash(
            inputs: inputs, layout: layout, realIndexes: realIndexes, pieceLength: pieceLength,
            v1: version != .v2, v2: version != .v1, progress: progress)

        // The info dictionary, as libtorrent writes it.
        var info = BencodeDictionary()
        info["name"] = .string(name)
        info["piece length"] = .integer(Int64(pieceLength))
        if isPrivate { info["private"] = 1 }
        if let source { info["source"] = .string(source) }
        if version != .v1 { info["meta version"] = 2 }
        if version != .v2 {
            info["pieces"] = .bytes(hashes.v1[...])
            if isMultiFile {
                info["files"] = .list(
                    layout.map { file in
                        var entry = BencodeDictionary()
                        entry["length"] = .integer(file.length)
                        entry["path"] = .list(file.path.map { .string($0) })
                        if file.isPadFile { entry["attr"] = "p" }
                        return .dictionary(entry)
                    })
            } else {
                info["length"] = .integer(inputs[0].length)
            }
        }
        var layers: [[UInt8]: [UInt8]] = [:]
        if version != .v1 {
            var tree = TreeNode()
            for (index, input) in inputs.enumerated() {
                var leaf = BencodeDictionary()
                leaf["length"] = .integer(input.length)
                if let root = hashes.roots[index] {
                    leaf["pieces root"] = .bytes(root[...])
                    if let layer = hashes.layers[index] { layers[root] = layer }
                }
                tree.insert(isMultiFile ? input.path : [name], leaf: leaf)
            }
            info["file tree"] = tree.value
        }
        var document = BencodeDictionary()
        document["info"] = .dictionary(info)
        if version != .v1 {
            document["piece layers"] = .dictionary(
                BencodeDictionary(layers.map { .init(key: $0.key[...], value: .bytes($0.value[...])) }))
        }
        // Parsing what we wrote re-validates every path, length and piece layer; it cannot fail.
        var torrent = try Torrent(bytes: BencodeValue.dictionary(document).encoded())
        torrent.announceTiers = Self.cleanTiers(trackers)
        torrent.webSeeds = webSeeds.filter { !$0.isEmpty }
        torrent.comment = comment.flatMap { $0.isEmpty ? nil : $0 }
        torrent.createdBy = createdBy.flatMap { $0.isEmpty ? nil : $0 }
        torrent.creationDate = creationDate
        return torrent
    }

    static func cleanTiers(_ tiers: [[String]]) -> [[String]] {
        var seen = Set<String>()
        return tiers.map { $0.filter { !$0.isEmpty && seen.insert($0).inserted } }.filter { !$0.isEmpty }
    }

    /// A v2 file tree under construction.
    struct TreeNode {
        var children: [String: TreeNode] = [:]
        var leaf: BencodeDictionary?

        mutating func insert(_ path: [String], leaf: BencodeDictionary) {
            guard let first = path.first else {
                self.leaf = leaf
                return
            }
            children[first, default: TreeNode()].insert(Array(path.dropFirst()), leaf: leaf)
        }

        var value: BencodeValue {
            if let leaf { return ["": .dictionary(leaf)] }
            return .dictionary(
                BencodeDictionary(children.map { .init(key: ArraySlice($0.key.utf8), value: $0.value.value) }))
        }
    }

    // MARK: scanning

    /// Lists the files under `path` in sorted order; returns the torrent name, the files, and whether `path`
    /// is a folder.
    static func scan(_ path: String) throws(MetainfoError) -> (String, [InputFile], Bool) {
        var trimmed = path
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        let name = (trimmed as NSString).lastPathComponent
        _ = try InfoParser.component(ArraySlice(name.utf8), what: "the name of \(path)")
        var info = stat()
        guard stat(trimmed, &info) == 0 else {
            throw MetainfoError(.ioError, "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        if info.st_mode & S_IFMT == S_IFREG {
            return (name, [InputFile(path: [name], diskPath: trimmed, length: Int64(info.st_size))], false)
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw MetainfoError(.ioError, "\(path) is neither a regular file nor a folder")
        }
        var files: [InputFile] = []
        try walk(folder: trimmed, prefix: [], into: &files)
        guard !files.isEmpty else { throw MetainfoError(.invalidFileLength, "\(path) holds no files") }
        files.sort { Self.precedes($0.path, $1.path) }
        return (name, files, true)
    }

    /// Component-by-component byte order: `a/b` sorts before `a.txt`, as in a v2 file tree.
    static func precedes(_ a: [String], _ b: [String]) -> Bool {
        for (x, y) in zip(a, b) where x != y { return x.utf8.lexicographicallyPrecedes(y.utf8) }
        return a.count < b.count
    }

    static func walk(folder: String, prefix: [String], into files: inout [InputFile]) throws(MetainfoError) {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder)
        } catch {
            throw MetainfoError(.ioError, "cannot list \(folder): \(error.localizedDescription)")
        }
        guard prefix.count < MetainfoLimits.maxPathDepth else {
            throw MetainfoError(.limitExceeded, "\(folder) is nested too deep")
        }
        for name in names {
            let full = folder + "/" + name
            let path = prefix + [try InfoParser.component(ArraySlice(name.utf8), what: full)]
            var link = stat()
            guard lstat(full, &link) == 0 else {
                throw MetainfoError(.ioError, "cannot read \(full): \(String(cString: strerror(errno)))")
            }
            let isLink = link.st_mode & S_IFMT == S_IFLNK
            var info = stat()
            guard stat(full, &info) == 0 else {
                throw MetainfoError(.ioError, "\(full) is a dangling symbolic link")
            }
            switch info.st_mode & S_IFMT {
            case S_IFREG:
                files.append(InputFile(path: path, diskPath: full, length: Int64(info.st_size)))
                guard files.count <= MetainfoLimits.maxFileCount else {
                    throw MetainfoError(.limitExceeded, "more than \(MetainfoLimits.maxFileCount) files")
                }
            case S_IFDIR:
                if isLink { throw MetainfoError(.ioError, "\(full) is a symbolic link to a folder (not followed)") }
                try walk(folder: full, prefix: path, into: &files)
            default:
                throw MetainfoError(.ioError, "\(full) is neither a regular file nor a folder")
            }
        }
    }
}

/// Parallel hashing of the content for ``TorrentCreator``.
enum Hasher {
    struct Result {
        var v1: [UInt8]
        /// Pieces root per input file (nil for empty files).
        var roots: [[UInt8]?]
        /// Piece layer per input file (files larger than one piece).
        var layers: [[UInt8]?]
    }

    /// A unit of hashing work: one v1 piece of the linear stream (which, with pad files, is also at most one
    /// file's v2 piece), described by the byte ranges of the files it covers.
    struct Job {
        var piece: Int
        var slices: [PieceLayout.FileSlice]
    }

    /// Shared, lock-protected results; each job writes disjoint slots.
    final class Sink: @unchecked Sendable {
        let lock = NSLock()
        var v1: [UInt8]
        /// Per piece: its v2 piece-layer hash (or the root of a file shorter than a piece).
        var v2Pieces: [[UInt8]?]
        var hashed: Int64 = 0
        var error: MetainfoError?
        init(pieces: Int, v1: Bool) {
            self.v1 = [UInt8](repeating: 0, count: v1 ? pieces * 20 : 0)
            self.v2Pieces = [[UInt8]?](repeating: nil, count: pieces)
        }
    }

    static func hash(
        inputs: [TorrentCreator.InputFile], layout: [TorrentFile], realIndexes: [Int], pieceLength: Int, v1: Bool,
        v2: Bool, progress: (@Sendable (Int64, Int64) -> Void)?
    ) throws(MetainfoError) -> Result {
        let pieceLayout = PieceLayout(pieceLength: pieceLength, files: layout)
        let pieceCount = pieceLayout.pieceCount
        let total = inputs.reduce(Int64(0)) { $0 + $1.length }
        var diskPaths = [String?](repeating: nil, count: layout.count)
        for (input, index) in zip(inputs, realIndexes) { diskPaths[index] = input.diskPath }
        let sink = Sink(pieces: pieceCount, v1: v1)
        let paths = diskPaths
        let workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
        // Each worker takes every `workers`-th batch of pieces, reading with pread into its own buffer.
        let batch = max(1, (4 << 20) / pieceLength)
        let batches = (pieceCount + batch - 1) / batch
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var buffer = [UInt8](repeating: 0, count: pieceLength)
            var descriptors: [Int: Int32] = [:]
            defer { for fd in descriptors.values { close(fd) } }
            var batchIndex = worker
            while batchIndex < batches {
                for piece in (batchIndex * batch)..<min(pieceCount, (batchIndex + 1) * batch) {
                    if sink.locked({ sink.error != nil }) { return }
                    let size = pieceLayout.size(ofPiece: piece)
                    var realBytes = 0
                    var owner: Int?
                    for slice in pieceLayout.slices(piece: piece) {
                        let destination = slice.offsetInRange
                        guard let diskPath = paths[slice.fileIndex] else {
                            // A pad file: zeros.
                            buffer.withUnsafeMutableBufferPointer {
                                $0[destination..<(destination + slice.length)].update(repeating: 0)
                            }
                            continue
                        }
                        if owner == nil { owner = slice.fileIndex }
                        realBytes += slice.length
                        let fd: Int32
                        if let opened = descriptors[slice.fileIndex] {
                            fd = opened
                        } else {
                            fd = open(diskPath, O_RDONLY)
                            guard fd >= 0 else {
                                sink.fail(
                                    MetainfoError(
                                        .ioError, "cannot open \(diskPath): \(String(cString: strerror(errno)))"))
                                return
                            }
                            descriptors[slice.fileIndex] = fd
                        }
                        if !readFully(fd, into: &buffer, at: destination, count: slice.length, from: slice.offsetInFile)
                        {
                            sink.fail(MetainfoError(.ioError, "cannot read \(diskPath) (changed while hashing?)"))
                            return
                        }
                    }
                    let v1Hash: [UInt8]? =
                        v1
                        ? buffer.withUnsafeBytes {
                            Array(Insecure.SHA1.hash(data: UnsafeRawBufferPointer(rebasing: $0[0..<size])))
                        }
                        : nil
                    // v2: with pad files, a piece holds bytes of at most one real file, at its start. Keep only
                    // 32 bytes per piece: the piece-layer hash, or for a file shorter than a piece its root.
                    var v2Hash: [UInt8]?
                    if v2, let owner {
                        let blocks = buffer.withUnsafeBytes {
                            MerkleTree.blockHashes(UnsafeRawBufferPointer(rebasing: $0[0..<realBytes]))
                        }
                        v2Hash =
                            layout[owner].length < Int64(pieceLength)
                            ? MerkleTree.smallFileRoot(blockHashes: blocks)
                            : MerkleTree.pieceHash(blockHashes: blocks, pieceLength: pieceLength)
                    }
                    sink.locked {
                        if let v1Hash { sink.v1.replaceSubrange((piece * 20)..<(piece * 20 + 20), with: v1Hash) }
                        sink.v2Pieces[piece] = v2Hash
                        sink.hashed += Int64(realBytes)
                    }
                    if let progress { progress(sink.locked { sink.hashed }, total) }
                }
                batchIndex += workers
            }
        }
        if let error = sink.error { throw error }

        var roots: [[UInt8]?] = []
        var layers: [[UInt8]?] = []
        if v2 {
            let pad = MerkleTree.padHash(levels: MerkleTree.levels(perPiece: pieceLength))
            for (input, index) in zip(inputs, realIndexes) {
                guard input.length > 0 else {
                    roots.append(nil)
                    layers.append(nil)
                    continue
                }
                let pieces = pieceLayout.pieces(ofFile: index)
                if input.length <= Int64(pieceLength) {
                    roots.append(sink.v2Pieces[pieces.lowerBound] ?? [])
                    layers.append(nil)
                    continue
                }
                var layer: [UInt8] = []
                layer.reserveCapacity(pieces.count * 32)
                for piece in pieces { layer += sink.v2Pieces[piece] ?? [] }
                roots.append(MerkleTree.root(ofLayer: layer, pad: pad))
                layers.append(layer)
            }
        }
        return Result(v1: sink.v1, roots: roots, layers: layers)
    }

    static func readFully(_ fd: Int32, into buffer: inout [UInt8], at destination: Int, count: Int, from offset: Int64)
        -> Bool
    {
        var done = 0
        while done < count {
            let got = buffer.withUnsafeMutableBytes { raw in
                pread(fd, raw.baseAddress!.advanced(by: destination + done), count - done, off_t(offset + Int64(done)))
            }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { return false }
            done += got
        }
        return true
    }
}

extension Hasher.Sink {
    func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    func fail(_ error: MetainfoError) {
        locked { if self.error == nil { self.error = error } }
    }
}
