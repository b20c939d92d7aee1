import BTEngine
import BTMetainfo
import Foundation
import Testing

@testable import BTDaemon

/// A magnet added to the engine-backed daemon is listed at once under its `dn` with no size while its
/// metadata is fetched (Transmission's `metadataPercentComplete` below 1), becomes the real torrent once a
/// peer supplies the metadata, downloads, and its .torrent is kept in the config directory so a restart
/// with no peer at all brings it back complete without fetching anything. A `.magnet` file in the watch
/// directory is added the same way; a link that is not a magnet is refused with an error.
@Suite(.serialized) struct MagnetsFetchTheirMetadataAndSurviveARestart {
    static func client() async throws -> Client {
        var configuration = ClientConfiguration(host: "127.0.0.1", ports: [0])
        configuration.usesTrackers = false
        configuration.encryption = .none
        return try await Client(configuration: configuration)
    }

    static func waitUntil(_ limit: Duration = .seconds(60), _ condition: () async -> Bool) async -> Bool {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < limit {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return await condition()
    }

    @Test func aMagnetIsListedWhileFetchingThenDownloadsAndARestartDoesNotFetchAgain() async throws {
        let base = try EngineBackendKeepsTorrentsAcrossRestarts.folder()
        defer { try? FileManager.default.removeItem(atPath: base) }
        try FileManager.default.createDirectory(atPath: base + "/seed", withIntermediateDirectories: true)
        let torrent = try EngineBackendKeepsTorrentsAcrossRestarts.torrent(
            named: "film.bin", in: base + "/seed", bytes: 400_000)
        let hash = InfoHashes.hex(torrent.infoHashes.wire)
        let seeder = try await Self.client()
        _ = try await seeder.addTorrent(torrent, downloadDirectory: base + "/seed")

        let leecher = try await Self.client()
        let backend = try EngineBackend(
            client: leecher, configDir: base + "/config", downloadDir: base + "/data", logger: .init(label: "test"))
        // No peer yet: the magnet stays fetching, listed under its dn.
        let outcome = try await backend.add(
            AddTorrentRequest(source: .magnet("magnet:?xt=urn:btih:\(hash)&dn=a%20film")))
        #expect(outcome == .added(id: 1, name: "a film", hashString: hash))
        #expect(
            try await backend.add(AddTorrentRequest(source: .magnet("magnet:?xt=urn:btih:\(hash)")))
                == .duplicate(id: 1, name: "a film", hashString: hash))
        await backend.settled()
        let waiting = try #require(await backend.snapshots(ids: [1], detail: [.files]).first)
        #expect(waiting.name == "a film" && waiting.totalSize == 0 && waiting.sizeWhenDone == 0)
        #expect(waiting.metadataPercentComplete == 0 && waiting.percentDone == 0 && waiting.files.isEmpty)
        #expect(waiting.activity == .downloading && waiting.magnetLink.contains(hash))
        #expect(!FileManager.default.fileExists(atPath: base + "/config/torrents/\(hash).torrent"))

        // A peer with the metadata: the torrent becomes the real one and downloads.
        let handle = TorrentHandle(infoHashes: torrent.infoHashes, name: "a film")
        try await leecher.connect(host: "127.0.0.1", port: seeder.port, for: handle)
        #expect(
            await Self.waitUntil {
                await backend.snapshots(ids: [1], detail: []).first?.isFinished == true
            })
        let done = try #require(await backend.snapshots(ids: [1], detail: [.files]).first)
        #expect(done.name == "film.bin" && done.totalSize == 400_000 && done.metadataPercentComplete == 1)
        #expect(done.files.map(\.bytesCompleted) == [400_000] && done.files.map(\.wanted) == [true])
        let kept = try Torrent(contentsOf: base + "/config/torrents/\(hash).torrent")
        #expect(kept.infoBytes == torrent.infoBytes)
        await leecher.shutdown()
        await seeder.shutdown()

        // Back with no peer: complete at once, from the kept .torrent and the resume data.
        let again = try await Self.client()
        let restarted = try EngineBackend(
            client: again, configDir: base + "/config", downloadDir: base + "/data", logger: .init(label: "test"))
        await restarted.restore()
        await restarted.settled()
        let back = try #require(await restarted.snapshots(ids: [1], detail: [.files]).first)
        #expect(back.name == "film.bin" && back.activity == .seeding && back.percentDone == 1)
        #expect(back.downloadedEver == 0 && back.files.count == 1)
        await again.shutdown()
    }

    @Test func aMagnetFileInTheWatchDirectoryIsAddedAndABadLinkIsRefused() async throws {
        let base = try EngineBackendKeepsTorrentsAcrossRestarts.folder()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let client = try await Self.client()
        let backend = try EngineBackend(
            client: client, configDir: base + "/config", downloadDir: base + "/data", logger: .init(label: "test"))
        await #expect(throws: DaemonError.self) {
            try await backend.add(AddTorrentRequest(source: .magnet("magnet:?dn=no-hash")))
        }
        try FileManager.default.createDirectory(atPath: base + "/watch", withIntermediateDirectories: true)
        let hash = String(repeating: "ab", count: 20)
        try "magnet:?xt=urn:btih:\(hash)&dn=watched\n".write(
            toFile: base + "/watch/one.magnet", atomically: true, encoding: .utf8)
        var watch = WatchDirectory(path: base + "/watch")
        await watch.addReady(to: backend, logger: .init(label: "test"))
        await watch.addReady(to: backend, logger: .init(label: "test"))
        #expect(FileManager.default.fileExists(atPath: base + "/watch/one.magnet.added"))
        let listed = try #require(await backend.snapshots(ids: [1], detail: []).first)
        #expect(listed.name == "watched" && listed.hashString == hash && listed.metadataPercentComplete == 0)
        // Removing a magnet that never got its metadata leaves nothing behind in the config directory.
        try await backend.remove(ids: [1], deleteData: true)
        #expect(await backend.torrentIDs().isEmpty)
        await client.shutdown()
    }
}
