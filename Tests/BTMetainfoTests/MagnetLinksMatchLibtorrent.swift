import BTMetainfo
import Foundation
import Testing

/// Magnet links agree with libtorrent both ways: we read what `make_magnet_uri` writes, and
/// `parse_magnet_uri` reads what we write, for v1, v2 and hybrid torrents.
@Suite(.serialized)
struct MagnetLinksMatchLibtorrent {
    struct Parsed: Decodable {
        var v1: String
        var v2: String
        var name: String
        var trackers: [String]
        var web_seeds: [String]
        var peers: [String]
    }

    @Test(.enabled(if: ExternalTool.enabled("libtorrent")), arguments: ["v1", "v2", "hybrid"])
    func bothWays(mode: String) throws {
        let folder = try ExternalTool.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let content = folder.appendingPathComponent("Some Name & more")
        try ExternalTool.writeFile(content.appendingPathComponent("a"), size: 50_000, seed: 1)
        try ExternalTool.writeFile(content.appendingPathComponent("b"), size: 10, seed: 2)
        let path = folder.appendingPathComponent("t.torrent").path
        try ExternalTool.run(
            ExternalTool.python,
            [
                ExternalTool.helper, "create", content.path, path, "--mode", mode, "--tracker",
                "udp://t1:6969/announce?x=1&y=2", "--tracker", "http://t2/a,1", "--web-seed", "http://seed/x y/",
            ])
        let torrent = try Torrent(contentsOf: path)

        let theirs = try ExternalTool.run(ExternalTool.python, [ExternalTool.helper, "magnet", path])
        let parsed = try MagnetLink(parsing: theirs.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(parsed.infoHashes == torrent.infoHashes)
        #expect(parsed.displayName == torrent.name)
        #expect(parsed.trackers == Array(torrent.announceTiers.joined()))

        var ours = MagnetLink(torrent)
        ours.peers = [.init(host: "10.1.2.3", port: 6881)]
        let json = try ExternalTool.run(ExternalTool.python, [ExternalTool.helper, "parse-magnet", ours.uri])
        let read = try JSONDecoder().decode(Parsed.self, from: Data(json.utf8))
        #expect(read.v1 == (torrent.infoHashes.v1.map(InfoHashes.hex) ?? ""))
        #expect(read.v2 == (torrent.infoHashes.v2.map(InfoHashes.hex) ?? ""))
        #expect(read.name == torrent.name)
        #expect(read.trackers == ours.trackers)
        #expect(read.web_seeds == ours.webSeeds)
        #expect(read.peers == ["10.1.2.3:6881"])
    }
}
