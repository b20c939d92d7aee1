import BTBencode
import Crypto
import Foundation

/// Limits applied to untrusted .torrent files, so that a hostile file cannot exhaust memory or time.
public enum MetainfoLimits {
    /// Largest .torrent file ``Torrent/init(contentsOf:)`` reads: 10 MB, libtorrent's default
    /// (`load_torrent_limits::max_buffer_size`).
    public static let maxTorrentFileSize = 10_000_000
    /// Largest piece length accepted: libtorrent's `max_piece_size`, 32767 blocks of 16 KiB (its piece
    /// picker's limit).
    public static let maxPieceLength = 32_767 * 16_384
    /// Smallest v2 piece length (BEP 52): one merkle block.
    public static let minV2PieceLength = 16_384
    /// Most pieces in one torrent (libtorrent's `load_torrent_limits.max_pieces`).
    public static let maxPieceCount = 0x20_0000
    /// Most files (pad files included) in one torrent.
    public static let maxFileCount = 1_000_000
    /// Most path components in one file path, and most folder levels of a v2 file tree (libtorrent's
    /// `max_directory_depth`).
    public static let maxPathDepth = 100
    /// Largest single file: just under `Int32.max / 2` blocks of 16 KiB, the most a merkle tree indexed by
    /// `Int32` can hold (libtorrent refuses a file of that many blocks or more; about 16 TiB).
    public static let maxFileLength: Int64 = Int64(Int32.max / 2) * 16_384 - 1
    /// Largest total size: libtorrent's `max_file_offset`, 2^48 - 1 bytes.
    public static let maxTotalLength: Int64 = (1 << 48) - 1
    /// Most tracker URLs and web seeds kept.
    public static let maxURLs = 10_000
}

extension Torrent {
    /// Parses and validates a .torrent file (BEP 3 v1, BEP 52 v2, or hybrid).
    ///
    /// Dictionaries with unsorted keys are accepted in v1 torrents (real torrents have them; a versioned info
    /// dictionary must be canonical, as in libtorrent), and bytes after the torrent's dictionary are ignored.
    /// File names are sanitized for the disk rather than refused (``TorrentFile/path``,
    /// ``TorrentFile/originalPath``); what opens and what is refused follows libtorrent 2.1. The info-hashes are
    /// computed over the info dictionary's bytes exactly as they appear in `bytes`.
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
            // Bytes after the torrent's dictionary are ignored, as libtorrent ignores them (real files have
            // trailing newlines or padding).
            document = try BencodeDocument.decodePrefix(bytes, options: .lenient).document
        } catch {
            throw MetainfoError(.invalidBencode, "not a bencoded torrent: \(error)", bencode: error)
        }
        let root = document.root
        guard root.kind == .dictionary else {
            throw MetainfoError(.invalidField, "a torrent file is a bencoded dictionary")
        }
        guard let info = root["info"] else { throw MetainfoError(.missingField, "no info dictionary") }
        guard info.kind == .dictionary else { throw MetainfoError(.invalidField, "info is not a dictionary") }
        let infoBytes = Array(info.rawBytes)
        let sha1 = Array(Insecure.SHA1.hash(data: infoBytes))
        let sha256 = Array(SHA256.hash(data: infoBytes))
        let content = try InfoParser.parse(info, pieceLayers: root["piece layers"], sha1: sha1, sha256: sha256)
        let v1 = content.version == .v2 ? nil : sha1
        let v2 = content.version == .v1 ? nil : sha256

        return Torrent(
            version: content.version, infoHashes: InfoHashes(v1: v1, v2: v2), name: content.name,
            pieceLength: content.pieceLength, files: content.files, isSingleFile: content.isSingleFile,
            pieceHashes: content.pieceHashes, pieceLayers: content.pieceLayers, isPrivate: content.isPrivate,
            announceTiers: announceTiers(root), webSeeds: webSeeds(root), dhtNodes: dhtNodes(root),
            comment: text(root, "comment"), createdBy: text(root, "created by"),
            creationDate: root["creation date"]?.integer, encoding: text(root, "encoding"), source: content.source,
            infoBytes: infoBytes, originalName: content.originalName)
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
