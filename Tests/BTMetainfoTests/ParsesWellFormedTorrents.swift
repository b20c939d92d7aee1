import BTBencode
import Crypto
import Testing

@testable import BTMetainfo

/// Hand-built v1, v2 and hybrid torrents parse with every field as written, and the info-hashes are computed
/// over the info dictionary's original bytes.
struct ParsesWellFormedTorrents {
    static let pieceLength = 16_384

    static func sha1(_ bytes: [UInt8]) -> [UInt8] { Array(Insecure.SHA1.hash(data: bytes)) }
    static func sha256(_ bytes: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: bytes)) }

    /// A v1 multi-file torrent with every optional field.
    static func richV1() -> BencodeValue {
        let files: BencodeValue = [
            ["path": ["docs", "readme.txt"], "length": 100, "attr": "x", "mtime": 1_700_000_000],
            ["path": [".pad", "16284"], "length": 16284, "attr": "p"],
            [
                "path": ["link"], "path.utf-8": ["lien"], "length": 0, "attr": "l",
                "symlink path": ["docs", "readme.txt"],
            ],
            ["path": ["z.bin"], "length": 20000, "sha1": .bytes(ArraySlice([UInt8](repeating: 7, count: 20)))],
        ]
        let info: BencodeValue = [
            "name": "ignored", "name.utf-8": "Folder é", "piece length": .integer(Int64(pieceLength)),
            "files": files, "pieces": .bytes(ArraySlice([UInt8](repeating: 1, count: 60))), "private": 1,
            "source": "TRK",
        ]
        return [
            "announce": "http://ignored/announce",
            "announce-list": [["http://a/1", "http://a/2"], [], ["http://a/1", " http://b/1 "], [""]],
            "url-list": "http://seed/", "comment": "plain", "comment.utf-8": "unicode ✓", "created by": "hand",
            "creation date": 1_234_567, "encoding": "UTF-8", "nodes": [["router.example", 6881], ["bad"], ["h", 0]],
            "info": info,
        ]
    }

    @Test func v1MultiFileKeepsEveryField() throws {
        let bytes = Self.richV1().encoded()
        let torrent = try Torrent(bytes: bytes)
        let info = Array(try BencodeDocument(bytes, options: .lenient).root["info"]!.rawBytes)
        #expect(torrent.version == .v1)
        #expect(torrent.infoBytes == info)
        #expect(torrent.infoHashes.v1 == Self.sha1(info))
        #expect(torrent.infoHashes.v2 == nil)
        #expect(torrent.name == "Folder é")
        #expect(!torrent.isSingleFile)
        #expect(torrent.pieceLength == Self.pieceLength)
        #expect(torrent.pieceCount == 3)
        #expect(torrent.files.map(\.path) == [["docs", "readme.txt"], [".pad", "16284"], ["lien"], ["z.bin"]])
        #expect(torrent.files.map(\.offset) == [0, 100, 16384, 16384])
        #expect(torrent.files[0].isExecutable && torrent.files[0].mtime == 1_700_000_000)
        #expect(torrent.files[1].isPadFile)
        #expect(torrent.files[2].isSymlink && torrent.files[2].symlinkPath == ["docs", "readme.txt"])
        #expect(torrent.files[3].sha1 == [UInt8](repeating: 7, count: 20))
        #expect(torrent.totalSize == 20100)
        #expect(torrent.isPrivate)
        #expect(torrent.source == "TRK")
        #expect(torrent.announceTiers == [["http://a/1", "http://a/2"], ["http://b/1"]])
        #expect(torrent.webSeeds == ["http://seed/"])
        #expect(torrent.comment == "unicode ✓")
        #expect(torrent.createdBy == "hand")
        #expect(torrent.creationDate == 1_234_567)
        #expect(torrent.encoding == "UTF-8")
        #expect(torrent.dhtNodes == [Torrent.DHTNode(host: "router.example", port: 6881)])
        #expect(torrent.v1Hash(ofPiece: 2) == ArraySlice([UInt8](repeating: 1, count: 20)))
    }

    @Test func announceAloneIsOneTier() throws {
        let info: BencodeValue = [
            "name": "a", "piece length": 16384, "length": 5,
            "pieces": .bytes(ArraySlice([UInt8](repeating: 0, count: 20))),
        ]
        let torrent = try Torrent(
            bytes: bencode(["announce": "udp://t:80", "url-list": ["http://w/1", "http://w/2"], "info": info])
                .encoded())
        #expect(torrent.announceTiers == [["udp://t:80"]])
        #expect(torrent.webSeeds == ["http://w/1", "http://w/2"])
        #expect(torrent.isSingleFile && torrent.files == [TorrentFile(path: ["a"], length: 5, offset: 0)])
        #expect(!torrent.isPrivate)
    }

    @Test func unsortedKeysAreHashedAsWritten() throws {
        // Keys out of order inside info: strict bencode would reject, the hash must cover these exact bytes.
        let info = Array(
            "d6:lengthi5e4:name1:a6:pieces20:\(String(repeating: "x", count: 20))12:piece lengthi16384ee".utf8)
        let bytes = Array("d4:info".utf8) + info + Array("e".utf8)
        let torrent = try Torrent(bytes: bytes)
        #expect(torrent.infoHashes.v1 == Self.sha1(info))
        #expect(torrent.infoBytes == info)
        #expect(torrent.encoded() == bytes)
    }

    /// File contents for the v2 tests: `a` (one piece and a bit), `b/c` (empty), `b/d` (small).
    static let contents: [(path: [String], data: [UInt8])] = [
        (["a"], (0..<(pieceLength + 100)).map { UInt8(truncatingIfNeeded: $0 * 7) }),
        (["b", "c"], []),
        (["b", "d"], Array("hello".utf8)),
    ]

    static func v2Parts(_ data: [UInt8]) -> (root: [UInt8]?, layer: [UInt8]?) {
        guard !data.isEmpty else { return (nil, nil) }
        let blocks = data.withUnsafeBytes { MerkleTree.blockHashes($0) }
        if data.count <= pieceLength { return (MerkleTree.smallFileRoot(blockHashes: blocks), nil) }
        var layer: [UInt8] = []
        let perPiece = pieceLength / MerkleTree.blockSize * 32
        var offset = 0
        while offset < blocks.count {
            layer += MerkleTree.pieceHash(
                blockHashes: Array(blocks[offset..<min(offset + perPiece, blocks.count)]), pieceLength: pieceLength)
            offset += perPiece
        }
        let pad = MerkleTree.padHash(levels: MerkleTree.levels(perPiece: pieceLength))
        return (MerkleTree.root(ofLayer: layer, pad: pad), layer)
    }

    static func v2Torrent(hybrid: Bool) -> (bytes: [UInt8], layers: [[UInt8]: [UInt8]]) {
        var tree = BencodeDictionary()
        var layers: [[UInt8]: [UInt8]] = [:]
        for (path, data) in contents {
            let (root, layer) = v2Parts(data)
            var leaf: BencodeValue = ["length": .integer(Int64(data.count))]
            if let root { leaf = ["length": .integer(Int64(data.count)), "pieces root": .bytes(root[...])] }
            if let root, let layer { layers[root] = layer }
            if path.count == 1 {
                tree[path[0]] = ["": leaf]
            } else {
                var folder = tree[path[0]]?.dictionary ?? BencodeDictionary()
                folder[path[1]] = ["": leaf]
                tree[path[0]] = .dictionary(folder)
            }
        }
        var info: BencodeValue = [
            "name": "v2", "piece length": .integer(Int64(pieceLength)), "meta version": 2,
            "file tree": .dictionary(tree),
        ]
        if hybrid {
            // v1 stream: a, pad to the piece boundary, c (empty), d.
            let padLength = pieceLength - 100
            var stream = contents[0].data + [UInt8](repeating: 0, count: padLength) + contents[2].data
            var pieces: [UInt8] = []
            while !stream.isEmpty {
                pieces += sha1(Array(stream.prefix(pieceLength)))
                stream.removeFirst(min(pieceLength, stream.count))
            }
            let files: BencodeValue = [
                ["path": ["a"], "length": .integer(Int64(pieceLength + 100))],
                ["path": [".pad", .string(String(padLength))], "length": .integer(Int64(padLength)), "attr": "p"],
                ["path": ["b", "c"], "length": 0], ["path": ["b", "d"], "length": 5],
            ]
            var dictionary = info.dictionary!
            dictionary["files"] = files
            dictionary["pieces"] = .bytes(pieces[...])
            info = .dictionary(dictionary)
        }
        let layerValue = BencodeDictionary(layers.map { .init(key: $0.key[...], value: .bytes($0.value[...])) })
        let bytes = bencode(["info": info, "piece layers": .dictionary(layerValue)]).encoded()
        return (bytes, layers)
    }

    @Test func v2TorrentGetsPadEntriesAndLayers() throws {
        let (bytes, layers) = Self.v2Torrent(hybrid: false)
        let torrent = try Torrent(bytes: bytes)
        #expect(torrent.version == .v2)
        #expect(torrent.infoHashes.v1 == nil)
        #expect(torrent.infoHashes.v2 == Self.sha256(torrent.infoBytes))
        #expect(torrent.infoHashes.wire == Array(Self.sha256(torrent.infoBytes)[0..<20]))
        #expect(torrent.files.map(\.path) == [["a"], [".pad", "16284"], ["b", "c"], ["b", "d"], [".pad", "16379"]])
        #expect(torrent.files.map(\.offset) == [0, 16484, 32768, 32768, 32773])
        #expect(torrent.files[1].isPadFile)
        #expect(torrent.files[2].piecesRoot == nil)
        #expect(torrent.files[3].piecesRoot == Self.v2Parts(Self.contents[2].data).root)
        #expect(torrent.pieceCount == 3)
        #expect(torrent.pieceLayers == layers)
        #expect(torrent.pieceHashes.isEmpty)
        #expect(!torrent.isSingleFile)
        #expect(try Torrent(bytes: torrent.encoded()) == torrent)
    }

    @Test func hybridTorrentMergesBothViews() throws {
        let (bytes, layers) = Self.v2Torrent(hybrid: true)
        let torrent = try Torrent(bytes: bytes)
        #expect(torrent.version == .hybrid)
        #expect(torrent.infoHashes.v1 == Self.sha1(torrent.infoBytes))
        #expect(torrent.infoHashes.v2 == Self.sha256(torrent.infoBytes))
        #expect(torrent.files.map(\.path) == [["a"], [".pad", "16284"], ["b", "c"], ["b", "d"]])
        #expect(torrent.files[0].piecesRoot == Self.v2Parts(Self.contents[0].data).root)
        #expect(torrent.pieceLayers == layers)
        #expect(torrent.pieceCount == 3 && torrent.pieceHashes.count == 60)
        #expect(try Torrent(bytes: torrent.encoded()) == torrent)
    }

    @Test func v2SingleFileIsSingle() throws {
        let data = [UInt8](repeating: 9, count: 1000)
        let root = Self.v2Parts(data).root!
        let info: BencodeValue = [
            "name": "one.bin", "piece length": 16384, "meta version": 2,
            "file tree": ["one.bin": ["": ["length": 1000, "pieces root": .bytes(root[...])]]],
        ]
        let torrent = try Torrent(bytes: bencode(["info": info]).encoded())
        #expect(torrent.isSingleFile)
        #expect(torrent.files.first == TorrentFile(path: ["one.bin"], length: 1000, offset: 0, piecesRoot: root))
        // Like libtorrent, the stream is padded to a whole piece.
        #expect(torrent.files.count == 2 && torrent.files[1].isPadFile && torrent.files[1].length == 15384)
    }
}

/// Types a literal as a bencode value.
func bencode(_ value: BencodeValue) -> BencodeValue { value }
