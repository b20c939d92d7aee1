import BTMetainfo
import BTStorage
import Foundation
import Testing

@testable import BTEngine

/// Per-file priorities in the client: a skipped file is neither downloaded nor created, the torrent
/// finishes when the wanted files are done, and wanting the file again resumes the download.
@Suite(.serialized) struct ClientSkipsFilesByPriority {
    @Test func aSkippedFileIsNotDownloadedUntilItIsWantedAgain() async throws {
        let seedFolder = try ClientFixtures.temporaryFolder("prio-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("prio-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        // Three files of four 16 KiB pieces each: no piece is shared between files.
        let files = [("set/a.bin", 65_536), ("set/b.bin", 65_536), ("set/c.bin", 65_536)]
        try ClientFixtures.writePayload(files, in: seedFolder, seed: 7)
        var creator = TorrentCreator(path: "\(seedFolder)/set")
        creator.version = .v1
        creator.pieceLength = 16 * 1024
        creator.creationDate = nil
        let torrent = try creator.create()
        #expect(torrent.pieceCount == 12)
        let index = try #require(torrent.layout.files.firstIndex { $0.path.last == "b.bin" })

        var configuration = ClientConfiguration(host: "127.0.0.1", ports: [0])
        configuration.usesTrackers = false
        let seeder = try await Client(configuration: configuration)
        let leecher = try await Client(configuration: configuration)
        let finished = Recorder<String>()
        leecher.events.on(.torrentFinished) { _ in finished.append("finished") }
        let seeding = try await seeder.addTorrent(torrent, downloadDirectory: seedFolder)
        var priorities = [FilePriority](repeating: .normal, count: torrent.layout.files.count)
        priorities[index] = .skip
        await #expect(throws: EngineError.self) {
            try await leecher.addTorrent(torrent, downloadDirectory: leechFolder, filePriorities: [.skip])
        }
        let downloading = try await leecher.addTorrent(
            torrent, downloadDirectory: leechFolder, filePriorities: priorities)
        #expect(await leecher.filePriorities(downloading) == priorities)
        #expect(await leecher.status(of: downloading)?.wantedPieces == 8)
        try await leecher.connect(host: "127.0.0.1", port: seeder.port, for: downloading)
        #expect(await ClientFixtures.eventually { await leecher.status(of: downloading)?.state == .seeding })
        let partial = try #require(await leecher.status(of: downloading))
        #expect(partial.verifiedPieces == 8 && !partial.isComplete)
        #expect(partial.verifiedWantedBytes == partial.wantedBytes && partial.wantedBytes < partial.totalBytes)
        // Session progress counts what is wanted: done, though a file is missing.
        let session = await leecher.sessionStatus()
        #expect(session.progress == 1 && session.eta == nil && session.wantedBytes < session.totalBytes)
        #expect(finished.values.count == 1)
        let fm = FileManager.default
        #expect(fm.contents(atPath: "\(leechFolder)/set/a.bin") == fm.contents(atPath: "\(seedFolder)/set/a.bin"))
        #expect(fm.contents(atPath: "\(leechFolder)/set/c.bin") == fm.contents(atPath: "\(seedFolder)/set/c.bin"))
        #expect(!fm.fileExists(atPath: "\(leechFolder)/set/b.bin"), "a skipped file is not created")

        // Wanting it again resumes the download (the seed may have dropped us as both seeds: reconnect).
        priorities[index] = .high
        try await leecher.setFilePriorities(downloading, priorities)
        #expect(await leecher.status(of: downloading)?.state == .downloading)
        try await leecher.connect(host: "127.0.0.1", port: seeder.port, for: downloading)
        let done = try #require(await ClientFixtures.waitForCompletion(leecher, downloading))
        #expect(done.isComplete && done.state == .seeding)
        #expect(fm.contents(atPath: "\(leechFolder)/set/b.bin") == fm.contents(atPath: "\(seedFolder)/set/b.bin"))
        _ = seeding
        await leecher.shutdown()
        await seeder.shutdown()
    }
}
