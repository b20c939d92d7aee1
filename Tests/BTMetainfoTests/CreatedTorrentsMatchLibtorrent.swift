import BTMetainfo
import Foundation
import Testing

/// Torrents we create are the ones libtorrent 2.0.8's `create_torrent` makes for the same files and settings:
/// same info-hashes (v1, v2, hybrid) and the same bytes, for single files, exact piece multiples and a folder
/// with empty files, nested folders and `a.txt` beside `a/`, in 16 KiB and 64 KiB pieces.
@Suite(.serialized)
struct CreatedTorrentsMatchLibtorrent {
    enum Content: String, CaseIterable {
        case singleFile, exactPieceMultiple, folder, folderWithOneFile
    }

    static func make(_ content: Content, in folder: URL) throws -> URL {
        switch content {
        case .singleFile:
            let url = folder.appendingPathComponent("movie.bin")
            try ExternalTool.writeFile(url, size: 150_001, seed: 11)
            return url
        case .exactPieceMultiple:
            let url = folder.appendingPathComponent("exact.bin")
            try ExternalTool.writeFile(url, size: 65_536 * 3, seed: 12)
            return url
        case .folder:
            let root = folder.appendingPathComponent("album")
            try ExternalTool.writeFile(root.appendingPathComponent("a.txt"), size: 1_000, seed: 13)
            try ExternalTool.writeFile(root.appendingPathComponent("a/b.bin"), size: 70_000, seed: 14)
            try ExternalTool.writeFile(root.appendingPathComponent("a/empty"), size: 0, seed: 15)
            try ExternalTool.writeFile(root.appendingPathComponent("b/c/d/deep.dat"), size: 16_384, seed: 16)
            try ExternalTool.writeFile(root.appendingPathComponent("empty"), size: 0, seed: 17)
            try ExternalTool.writeFile(root.appendingPathComponent("z"), size: 200_000, seed: 18)
            try ExternalTool.writeFile(root.appendingPathComponent("A upper"), size: 5, seed: 19)
            return root
        case .folderWithOneFile:
            let root = folder.appendingPathComponent("solo")
            try ExternalTool.writeFile(root.appendingPathComponent("inner.bin"), size: 40_000, seed: 20)
            return root
        }
    }

    static let cases: [(Content, TorrentVersion, Int)] = Content.allCases.flatMap { content in
        TorrentVersion.allCases.flatMap { version in [16_384, 65_536].map { (content, version, $0) } }
    }

    @Test(.enabled(if: ExternalTool.enabled("libtorrent")), arguments: cases)
    func sameTorrentAsLibtorrent(content: Content, version: TorrentVersion, pieceLength: Int) throws {
        let folder = try ExternalTool.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = try Self.make(content, in: folder)
        let theirsPath = folder.appendingPathComponent("lt.torrent").path
        try ExternalTool.run(
            ExternalTool.python,
            [
                ExternalTool.helper, "create", source.path, theirsPath, "--mode", version.rawValue, "--piece-size",
                String(pieceLength), "--tracker", "http://t1/announce", "--tracker", "http://t2/announce,1",
                "--web-seed", "http://seed/", "--comment", "same", "--creator", "nbt-test", "--date", "1700000000",
            ])
        let theirs = try [UInt8](Data(contentsOf: URL(fileURLWithPath: theirsPath)))

        var creator = TorrentCreator(path: source.path)
        creator.version = version
        creator.pieceLength = pieceLength
        creator.trackers = [["http://t1/announce"], ["http://t2/announce"]]
        creator.webSeeds = ["http://seed/"]
        creator.comment = "same"
        creator.createdBy = "nbt-test"
        creator.creationDate = 1_700_000_000
        let ours = try creator.create()
        let expected = try Torrent(bytes: theirs)
        #expect(ours.infoHashes == expected.infoHashes)
        #expect(ours.files == expected.files)
        #expect(ours.pieceLayers == expected.pieceLayers)
        #expect(ours.encoded() == theirs, "bytes differ from libtorrent's")
    }

    @Test(.enabled(if: ExternalTool.enabled("libtorrent")))
    func automaticPieceLengthIsLibtorrents() throws {
        let sizes: [Int64] = [
            1, 16_384, 2_684_355, 2_684_356, 10_737_418, 10_737_419, 1 << 30, 703_687_441_777, 703_687_441_778,
            1 << 42,
        ]
        let output = try ExternalTool.run(
            ExternalTool.python, [ExternalTool.helper, "autopiece"] + sizes.map(String.init))
        let theirs = output.split(separator: "\n").compactMap { Int($0) }
        #expect(theirs == sizes.map { TorrentCreator.automaticPieceLength(totalSize: $0) })
    }
}

/// The creator's own contract, without libtorrent: progress reaches the total, the output parses back, and
/// what cannot be shared is an error rather than silently skipped.
struct TorrentCreatorBehaves {
    @Test func progressReachesTotalAndOutputRoundTrips() throws {
        let folder = try ExternalTool.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let root = folder.appendingPathComponent("data")
        for index in 0..<5 {
            try ExternalTool.writeFile(
                root.appendingPathComponent("f\(index)"), size: 300_000 + index, seed: UInt64(index))
        }
        let seen = Counter()
        var creator = TorrentCreator(path: root.path)
        creator.pieceLength = 32_768
        creator.isPrivate = true
        creator.source = "X"
        let torrent = try creator.create { hashed, total in seen.record(hashed, total) }
        #expect(seen.maximum == 1_500_010)
        #expect(seen.total == 1_500_010)
        #expect(torrent.version == .hybrid && torrent.isPrivate && torrent.source == "X")
        #expect(try Torrent(bytes: torrent.encoded()) == torrent)
        #expect(torrent.files.filter { !$0.isPadFile }.map(\.path) == (0..<5).map { ["f\($0)"] })
    }

    @Test func danglingSymlinkIsAnError() throws {
        let folder = try ExternalTool.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let root = folder.appendingPathComponent("data")
        try ExternalTool.writeFile(root.appendingPathComponent("real"), size: 10, seed: 1)
        try FileManager.default.createSymbolicLink(
            atPath: root.appendingPathComponent("dangling").path, withDestinationPath: "/nonexistent/nbt")
        #expect(throws: MetainfoError.self) { try TorrentCreator(path: root.path).create() }
    }

    @Test func symlinkToFileIsFollowed() throws {
        let folder = try ExternalTool.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let root = folder.appendingPathComponent("data")
        try ExternalTool.writeFile(root.appendingPathComponent("real"), size: 10, seed: 1)
        try FileManager.default.createSymbolicLink(
            atPath: root.appendingPathComponent("link").path, withDestinationPath: "real")
        let torrent = try TorrentCreator(path: root.path).create()
        #expect(torrent.files.filter { !$0.isPadFile }.map(\.path) == [["link"], ["real"]])
    }

    @Test func emptyContentIsAnError() throws {
        let folder = try ExternalTool.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try ExternalTool.writeFile(folder.appendingPathComponent("zero"), size: 0, seed: 1)
        do {
            _ = try TorrentCreator(path: folder.appendingPathComponent("zero").path).create()
            Issue.record("an empty file made a torrent")
        } catch {
            #expect(error.code == .invalidFileLength)
        }
        do {
            _ = try TorrentCreator(path: folder.appendingPathComponent("missing").path).create()
            Issue.record("a missing path made a torrent")
        } catch {
            #expect(error.code == .ioError)
        }
    }

    @Test func v2RejectsPieceLengthNotPowerOfTwo() throws {
        let folder = try ExternalTool.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try ExternalTool.writeFile(folder.appendingPathComponent("f"), size: 100, seed: 1)
        var creator = TorrentCreator(path: folder.appendingPathComponent("f").path)
        creator.pieceLength = 49_152
        do {
            _ = try creator.create()
            Issue.record("accepted a 48 KiB v2 piece length")
        } catch {
            #expect(error.code == .invalidPieceLength)
        }
        creator.version = .v1
        #expect(try creator.create().pieceLength == 49_152)
    }
}

/// Collects progress reports from the hashing threads.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var maximum: Int64 = 0
    private(set) var total: Int64 = 0
    func record(_ hashed: Int64, _ total: Int64) {
        lock.lock()
        defer { lock.unlock() }
        maximum = max(maximum, hashed)
        self.total = total
    }
}
