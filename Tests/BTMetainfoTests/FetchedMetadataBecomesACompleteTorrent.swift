import BTBencode
import Crypto
import Testing

@testable import BTMetainfo

/// An info dictionary fetched from peers (BEP 9) becomes a torrent with the magnet's trackers and web seeds,
/// only if it hashes to the magnet's info-hash, and writes back as a complete .torrent.
@Suite struct FetchedMetadataBecomesACompleteTorrent {
    static let info: [UInt8] = {
        let value: BencodeValue = [
            "length": 40_000, "name": "fetched.bin", "piece length": 16_384,
            "pieces": .bytes(ArraySlice([UInt8](repeating: 7, count: 60))),
        ]
        return value.encoded()
    }()
    static let sha1 = Array(Insecure.SHA1.hash(data: info))
    static let sha256 = Array(SHA256.hash(data: info))

    @Test func trackersWebSeedsAndInfoBytesAreKept() throws {
        let magnet = try MagnetLink(
            parsing: "magnet:?xt=urn:btih:\(InfoHashes.hex(Self.sha1))&dn=ignored&tr=http%3A%2F%2F127.0.0.1%3A1%2Fa"
                + "&tr=udp%3A%2F%2F127.0.0.1%3A2&ws=http%3A%2F%2F127.0.0.1%3A3%2Fseed")
        let torrent = try Torrent(infoDictionary: Self.info, magnet: magnet)
        #expect(torrent.name == "fetched.bin" && torrent.infoBytes == Self.info)
        #expect(torrent.announceTiers == [["http://127.0.0.1:1/a"], ["udp://127.0.0.1:2"]])
        #expect(torrent.webSeeds == ["http://127.0.0.1:3/seed"])
        let file = try Torrent(bytes: torrent.encoded())
        #expect(file.infoHashes.v1 == Self.sha1 && file.announceTiers == torrent.announceTiers)
        #expect(file.webSeeds == torrent.webSeeds)
    }

    @Test func aDictionaryOfAnotherHashIsRefused() {
        var other = Self.sha1
        other[0] ^= 1
        let magnet = MagnetLink(infoHashes: InfoHashes(v1: other, v2: nil))
        #expect {
            try Torrent(infoDictionary: Self.info, magnet: magnet)
        } throws: { ($0 as? MetainfoError)?.code == .infoHashMismatch }
    }

    @Test func v1V2HybridAndTruncatedV2HashesAreCheckedAsLibtorrentDoes() {
        #expect(InfoHashes(v1: Self.sha1, v2: nil).isHash(ofInfoDictionary: Self.info))
        #expect(InfoHashes(v1: nil, v2: Self.sha256).isHash(ofInfoDictionary: Self.info))
        #expect(InfoHashes(v1: Self.sha1, v2: Self.sha256).isHash(ofInfoDictionary: Self.info))
        // A btih that is really the v2 hash truncated (a v2 torrent named on the wire).
        #expect(InfoHashes(v1: Array(Self.sha256[0..<20]), v2: nil).isHash(ofInfoDictionary: Self.info))
        // A hybrid magnet needs both to match.
        var wrong = Self.sha256
        wrong[0] ^= 1
        #expect(!InfoHashes(v1: Self.sha1, v2: wrong).isHash(ofInfoDictionary: Self.info))
        #expect(!InfoHashes(v1: Array(wrong[0..<20]), v2: nil).isHash(ofInfoDictionary: Self.info))
    }

    @Test func trailingBytesCannotSmuggleTopLevelKeys() {
        // Bytes after the dictionary would be read as keys of the .torrent around it: refused.
        let smuggled = Self.info + BencodeValue.string("piece layers").encoded() + Array("de".utf8)
        #expect(throws: MetainfoError.self) { try Torrent(infoDictionary: smuggled) }
        #expect(throws: MetainfoError.self) { try Torrent(infoDictionary: Array("li1ee".utf8)) }
        #expect(throws: MetainfoError.self) { try Torrent(infoDictionary: Array("d4:name".utf8)) }
    }

    @Test func xPePeersWithNumericHostsAreEndpoints() throws {
        let magnet = try MagnetLink(
            parsing: "magnet:?xt=urn:btih:\(InfoHashes.hex(Self.sha1))&x.pe=127.0.0.1:6881&x.pe=[::1]:51413"
                + "&x.pe=peer.example:80")
        #expect(magnet.peers.map(\.endpoint?.description) == ["127.0.0.1:6881", "[::1]:51413", nil])
    }
}
