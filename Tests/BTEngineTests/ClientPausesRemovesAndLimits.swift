import BTMetainfo
import Foundation
import Testing

@testable import BTEngine

/// Client paths the transfer tests do not take: a paused torrent moves no data and completes once resumed;
/// removing a torrent with its data deletes its files and nothing else; a global download limit holds the
/// transfer back.
@Suite(.serialized) struct ClientPausesRemovesAndLimits {
    static func configuration() -> ClientConfiguration {
        var configuration = ClientConfiguration(host: "127.0.0.1")
        configuration.usesTrackers = false
        return configuration
    }

    @Test func aPausedTorrentMovesNoDataAndCompletesAfterResume() async throws {
        let seedFolder = try ClientFixtures.temporaryFolder("pause-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("pause-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let torrent = try ClientFixtures.makeTorrent(in: seedFolder)
        let seeder = try await Client(configuration: Self.configuration())
        try await seeder.addTorrent(torrent, downloadDirectory: seedFolder)
        let leecher = try await Client(configuration: Self.configuration())
        let handle = try await leecher.addTorrent(torrent, downloadDirectory: leechFolder)
        try await leecher.pause(handle)
        try await leecher.connect(host: "127.0.0.1", port: seeder.port, for: handle)
        // Two seconds of a tick-driven client: nothing dialled, nothing received.
        try await Task.sleep(for: .seconds(2))
        let paused = try #require(await leecher.status(of: handle))
        #expect(paused.state == .paused && paused.downloadedBytes == 0 && paused.peers == 0)
        #expect(await leecher.peers(of: handle).isEmpty)
        try await leecher.resume(handle)
        let done = await ClientFixtures.waitForCompletion(leecher, handle)
        #expect(done?.isComplete == true)
        await leecher.shutdown()
        await seeder.shutdown()
        #expect(ClientFixtures.identical(seedFolder, leechFolder))
    }

    @Test func removingWithDataDeletesExactlyTheTorrentsFiles() async throws {
        let folder = try ClientFixtures.temporaryFolder("remove")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let torrent = try ClientFixtures.makeTorrent(in: folder)
        let other = try ClientFixtures.makeSingleFileTorrent(
            in: folder, name: "other.bin", length: 100_000, pieceLength: 32 * 1024)
        // A file of the user's inside the torrent's folder.
        #expect(FileManager.default.createFile(atPath: "\(folder)/payload/notes.txt", contents: Data("mine".utf8)))
        let client = try await Client(configuration: Self.configuration())
        let handle = try await client.addTorrent(torrent, downloadDirectory: folder, resume: "\(folder)/resume.dat")
        let kept = try await client.addTorrent(other, downloadDirectory: folder)
        try await client.removeTorrent(handle, deleteData: true)
        #expect(await client.torrents == [kept])
        for (path, _) in ClientFixtures.files {
            #expect(!FileManager.default.fileExists(atPath: "\(folder)/payload/\(path)"), "\(path) should be gone")
        }
        #expect(!FileManager.default.fileExists(atPath: "\(folder)/resume.dat"))
        #expect(FileManager.default.contents(atPath: "\(folder)/payload/notes.txt") == Data("mine".utf8))
        #expect(FileManager.default.fileExists(atPath: "\(folder)/other.bin"))
        #expect(await client.status(of: kept)?.isComplete == true)
        await client.shutdown()
    }

    @Test func aGlobalDownloadLimitHoldsTheTransferBack() async throws {
        let seedFolder = try ClientFixtures.temporaryFolder("limit-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("limit-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let length = 1024 * 1024
        let torrent = try ClientFixtures.makeSingleFileTorrent(
            in: seedFolder, name: "limited.bin", length: length, pieceLength: 64 * 1024)
        let seeder = try await Client(configuration: Self.configuration())
        try await seeder.addTorrent(torrent, downloadDirectory: seedFolder)
        var limited = Self.configuration()
        let rate = 512 * 1024
        limited.downloadLimit = .bytesPerSecond(rate, burst: 64 * 1024)
        let leecher = try await Client(configuration: limited)
        let handle = try await leecher.addTorrent(torrent, downloadDirectory: leechFolder)
        let start = ContinuousClock.now
        try await leecher.connect(host: "127.0.0.1", port: seeder.port, for: handle)
        let done = await ClientFixtures.waitForCompletion(leecher, handle)
        let elapsed = ContinuousClock.now - start
        #expect(done?.isComplete == true)
        // 1 MiB at 512 KiB/s with a 64 KiB burst takes at least (1 MiB - 64 KiB) / 512 KiB/s = 1.875 s
        // (a lower bound only; a slow machine may take longer).
        #expect(elapsed >= .milliseconds(1800), "took \(elapsed)")
        await leecher.shutdown()
        await seeder.shutdown()
    }
}
