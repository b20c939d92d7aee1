import BTMetainfo
import Foundation
import Testing

/// Torrents made at test time by libtorrent (v1, v2, hybrid), transmission-create and mktorrent parse with
/// every field equal to what libtorrent's own parser reports for the same file.
@Suite(.serialized)
struct ParsedTorrentsMatchLibtorrent {
    /// Compares our parse of `path` with libtorrent's.
    static func compare(_ path: String) throws {
        let torrent = try Torrent(contentsOf: path)
        let lt = try LibtorrentDump.of(path)
        #expect(torrent.name == lt.name)
        #expect((torrent.infoHashes.v1.map(InfoHashes.hex) ?? "") == lt.v1)
        #expect((torrent.infoHashes.v2.map(InfoHashes.hex) ?? "") == lt.v2)
        #expect(torrent.pieceLength == lt.piece_length)
        #expect(torrent.pieceCount == lt.num_pieces)
        #expect(torrent.layout.totalLength == lt.total_size)
        #expect(torrent.files.count == lt.files.count, "file lists differ: \(torrent.files) vs \(lt.files)")
        for (ours, theirs) in zip(torrent.files, lt.files) {
            #expect(ours.length == theirs.size)
            #expect(ours.offset == theirs.offset)
            #expect(ours.isPadFile == theirs.pad)
            #expect(ours.isExecutable == theirs.executable)
            #expect((ours.piecesRoot.map(InfoHashes.hex) ?? "") == theirs.root)
            if !ours.isPadFile {
                let full = torrent.isSingleFile ? ours.path : [torrent.name] + ours.path
                #expect(full.joined(separator: "/") == theirs.path)
            }
        }
        let trackers = torrent.announceTiers.enumerated().flatMap { tier, urls in
            urls.map { LibtorrentDump.Tracker(url: $0, tier: tier) }
        }
        // libtorrent shuffles the URLs inside a tier (BEP 12); we keep the file's order. Compare tier by tier.
        func byTier(_ list: [LibtorrentDump.Tracker]) -> [Int: Set<String>] {
            Dictionary(grouping: list, by: \.tier).mapValues { Set($0.map(\.url)) }
        }
        #expect(byTier(trackers) == byTier(lt.trackers))
        #expect(trackers.count == lt.trackers.count)
        #expect(torrent.webSeeds == lt.web_seeds)
        #expect(torrent.isPrivate == lt.private)
        #expect((torrent.comment ?? "") == lt.comment)
        #expect((torrent.createdBy ?? "") == lt.creator)
        #expect((torrent.creationDate ?? 0) == lt.creation_date)
        // Our own encoding of what we parsed parses back to the same torrent.
        #expect(try Torrent(bytes: torrent.encoded()) == torrent)
    }

    /// A folder with nested folders, an empty file, and `a.txt` beside folder `a/`.
    static func makeContent(in folder: URL) throws -> URL {
        let root = folder.appendingPathComponent("content")
        try ExternalTool.writeFile(root.appendingPathComponent("a/b.bin"), size: 40_000, seed: 1)
        try ExternalTool.writeFile(root.appendingPathComponent("a.txt"), size: 10, seed: 2)
        try ExternalTool.writeFile(root.appendingPathComponent("empty"), size: 0, seed: 3)
        try ExternalTool.writeFile(root.appendingPathComponent("z/y/x.dat"), size: 100_000, seed: 4)
        return root
    }

    @Test(.enabled(if: ExternalTool.enabled("libtorrent")), arguments: ["v1", "v2", "hybrid"])
    func libtorrentTorrents(mode: String) throws {
        let folder = try ExternalTool.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let content = try Self.makeContent(in: folder)
        let single = folder.appendingPathComponent("single.iso")
        try ExternalTool.writeFile(single, size: 70_000, seed: 5)
        for (source, name) in [(content, "multi"), (single, "single")] {
            let out = folder.appendingPathComponent("\(name)-\(mode).torrent").path
            try ExternalTool.run(
                ExternalTool.python,
                [
                    ExternalTool.helper, "create", source.path, out, "--mode", mode, "--piece-size", "16384",
                    "--tracker", "http://t1/announce", "--tracker", "udp://t2:6969,1", "--tracker", "http://t3/a,1",
                    "--web-seed", "http://seed/", "--comment", "made by libtorrent", "--creator", "lt", "--private",
                ])
            try Self.compare(out)
        }
    }

    @Test(
        .enabled(if: ExternalTool.enabled("mktorrent") && ExternalTool.enabled("libtorrent")), arguments: [false, true])
    func mktorrentTorrents(isPrivate: Bool) throws {
        let folder = try ExternalTool.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let content = try Self.makeContent(in: folder)
        let out = folder.appendingPathComponent("mk.torrent").path
        var arguments = [
            "-a", "http://t1/announce,http://t1b/announce", "-a", "udp://t2:6969", "-l", "15", "-c",
            "mktorrent comment",
            "-w", "http://seed/", "-o", out,
        ]
        if isPrivate { arguments += ["-p", "-s", "SRC"] }
        try ExternalTool.run("mktorrent", arguments + [content.path])
        try Self.compare(out)
        let torrent = try Torrent(contentsOf: out)
        #expect(torrent.isPrivate == isPrivate)
        #expect(torrent.source == (isPrivate ? "SRC" : nil))
        #expect(torrent.announceTiers == [["http://t1/announce", "http://t1b/announce"], ["udp://t2:6969"]])
    }

    @Test(.enabled(if: ExternalTool.enabled("transmission-create") && ExternalTool.enabled("libtorrent")))
    func transmissionTorrents() throws {
        let folder = try ExternalTool.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let content = try Self.makeContent(in: folder)
        for (source, isPrivate) in [(content, true), (content.appendingPathComponent("z/y/x.dat"), false)] {
            let out = folder.appendingPathComponent("tr.torrent").path
            try? FileManager.default.removeItem(atPath: out)
            var arguments = [
                "-o", out, "-t", "http://t1/announce", "-t", "udp://t2:6969", "-c", "tr comment", "-s", "32",
            ]
            if isPrivate { arguments.append("-p") }
            try ExternalTool.run("transmission-create", arguments + [source.path])
            try Self.compare(out)
            #expect(try Torrent(contentsOf: out).isPrivate == isPrivate)
        }
    }
}
