import BTMetainfo
import BTWire
import Foundation
import Testing

@testable import BTEngine

/// A torrent added from a magnet link (BEP 9): it fetches the info dictionary from a peer of the link's
/// `x.pe` (our own seed, which serves it), shows the fetching-metadata state, then downloads like a .torrent
/// over the same connection; the torrent it builds has the original info dictionary byte for byte, its
/// .torrent is kept beside the resume data, and a restart takes it from there without fetching. A peer
/// that sends bad metadata loses reputation and is dropped, and the magnet keeps fetching.
@Suite(.serialized) struct ClientDownloadsFromAMagnetLink {
    static func client() async throws -> Client {
        var configuration = ClientConfiguration(host: "127.0.0.1", ports: [0])
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

    @Test func magnetFetchesTheMetadataFromTheSeedThenDownloadsAndARestartDoesNotFetchAgain() async throws {
        let seedFolder = try ClientFixtures.temporaryFolder("magnet-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("magnet-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let torrent = try ClientFixtures.makeTorrent(in: seedFolder)
        let seeder = try await Self.client()
        let leecher = try await Self.client()
        _ = try await seeder.addTorrent(torrent, downloadDirectory: seedFolder)

        let magnet = MagnetLink(
            infoHashes: torrent.infoHashes, displayName: "from a magnet",
            peers: [.init(host: "127.0.0.1", port: seeder.port)])
        let resume = "\(leechFolder)/magnet.resume"
        let events = leecher.events.events(bufferingNewest: 100_000)
        let handle = try await leecher.addTorrent(magnet: magnet, downloadDirectory: leechFolder, resume: resume)
        // Fetching first: no torrent yet, not complete (the seed's dictionary is one 16 KiB piece).
        let first = try #require(await leecher.status(of: handle))
        #expect(first.state == .fetchingMetadata || first.state == .checking || first.state == .downloading)
        if first.state == .fetchingMetadata {
            #expect(!first.isComplete && !first.isFinished && first.metadataProgress != nil)
        }

        let done = try #require(await ClientFixtures.waitForCompletion(leecher, handle))
        #expect(done.isComplete && done.state == .seeding)
        let built = try #require(await leecher.torrent(of: handle))
        #expect(built.infoBytes == torrent.infoBytes)
        #expect(built.infoHashes == torrent.infoHashes)
        // The .torrent written from it (`nbt download --save-torrent`) has the same info dictionary.
        let saved = try Torrent(bytes: built.encoded())
        #expect(saved.infoBytes == torrent.infoBytes && saved.infoHashes == torrent.infoHashes)
        await leecher.shutdown()
        await seeder.shutdown()
        #expect(ClientFixtures.identical(seedFolder, leechFolder))
        // One connection did both: it fetched the metadata and then carried the pieces.
        var connectsBeforeFinishing = 0
        for await event in events {
            if case .torrentFinished = event { break }
            if case .peerConnect = event { connectsBeforeFinishing += 1 }
        }
        #expect(connectsBeforeFinishing == 1)
        let kept = try Torrent(contentsOf: resume + ".torrent")
        #expect(kept.infoBytes == torrent.infoBytes)

        // A restart with no peer at all: the metadata and the data come from disk.
        let again = try await Self.client()
        let readded = try await again.addTorrent(magnet: magnet, downloadDirectory: leechFolder, resume: resume)
        let status = try #require(await again.status(of: readded))
        #expect(status.state == .seeding && status.isComplete && status.downloadedBytes == 0)
        // Removing it with its data removes the kept .torrent too.
        try await again.removeTorrent(readded, deleteData: true)
        #expect(!FileManager.default.fileExists(atPath: resume + ".torrent"))
        #expect(!FileManager.default.fileExists(atPath: resume))
        await again.shutdown()
    }

    @Test func aPeerThatSendsBadMetadataIsBlamedAndTheMagnetKeepsFetching() async throws {
        let seedFolder = try ClientFixtures.temporaryFolder("magnet-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("magnet-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let torrent = try ClientFixtures.makeTorrent(in: seedFolder)
        let liar = LyingMetadataPeer(infoHash: torrent.infoHashes.wire, metadataSize: torrent.infoBytes.count)
        let liarPort = try await liar.listen(host: "127.0.0.2")
        defer { Task { await liar.close() } }
        let leecher = try await Self.client()
        let magnet = MagnetLink(
            infoHashes: torrent.infoHashes, peers: [.init(host: "127.0.0.2", port: liarPort)])
        let handle = try await leecher.addTorrent(magnet: magnet, downloadDirectory: leechFolder)
        let liarAddress = try #require(IPAddress("127.0.0.2"))
        #expect(await Self.waitUntil { await leecher.reputation(of: liarAddress) < 100 })
        #expect(!liar.answeredPieces.isEmpty)
        // The liar was the only source: the magnet is still fetching, nothing was built, nothing crashed.
        try await Task.sleep(for: .milliseconds(300))
        let waiting = try #require(await leecher.status(of: handle))
        #expect(waiting.state == .fetchingMetadata && waiting.peers == 0)
        #expect(await leecher.torrent(of: handle) == nil)

        // An honest seed then supplies it.
        let seeder = try await Self.client()
        _ = try await seeder.addTorrent(torrent, downloadDirectory: seedFolder)
        try await leecher.connect(host: "127.0.0.1", port: seeder.port, for: handle)
        let done = try #require(await ClientFixtures.waitForCompletion(leecher, handle))
        #expect(done.isComplete)
        #expect(await leecher.torrent(of: handle)?.infoBytes == torrent.infoBytes)
        await leecher.shutdown()
        await seeder.shutdown()
        #expect(ClientFixtures.identical(seedFolder, leechFolder))
    }

    @Test func aMagnetWithoutPeersStaysFetchingAndCanBePausedResumedAndRemoved() async throws {
        let folder = try ClientFixtures.temporaryFolder("magnet-alone")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let client = try await Self.client()
        let magnet = try MagnetLink(parsing: "magnet:?xt=urn:btih:7528d016e0aeaa9affc301ca883e4a32d6dbb673&dn=album")
        let handle = try await client.addTorrent(magnet: magnet, downloadDirectory: folder, resume: "\(folder)/r")
        #expect(handle.name == "album")
        await #expect(throws: EngineError.self) {
            try await client.addTorrent(magnet: magnet, downloadDirectory: folder)
        }
        try await Task.sleep(for: .milliseconds(1_500))
        let status = try #require(await client.status(of: handle))
        #expect(status.state == .fetchingMetadata && status.progress == 0 && status.pieceCount == 0)
        #expect(status.metadataProgress == MetadataProgress(received: 0, total: 0))
        #expect(!status.isComplete && !status.isFinished)
        #expect(await client.torrent(of: handle) == nil)
        await #expect(throws: EngineError.self) { try await client.recheck(handle) }
        try await client.pause(handle)
        #expect(await client.status(of: handle)?.state == .paused)
        try await client.resume(handle)
        #expect(await client.status(of: handle)?.state == .fetchingMetadata)
        try await client.removeTorrent(handle)
        #expect(await client.torrents.isEmpty)
        await client.shutdown()
        // Nothing was written for a torrent whose files are unknown.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
    }

    @Test func aMagnetWhoseOnlySourceIsItsTrackerFindsTheSeedThere() async throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/recording_tracker.py").path
        let tracker = try InteropProcess(["/usr/bin/python3", script], seconds: 120)
        defer { tracker.stop() }
        let port = try #require(await tracker.firstJSON()?.ints["port"])
        let url = "http://127.0.0.1:\(port)/announce"
        let seedFolder = try ClientFixtures.temporaryFolder("magnet-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("magnet-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let payload = (seedFolder as NSString).appendingPathComponent("payload")
        try ClientFixtures.writePayload(ClientFixtures.files, in: payload, seed: 42)
        var creator = TorrentCreator(path: payload)
        creator.version = .v1
        creator.pieceLength = 64 * 1024
        creator.creationDate = nil
        creator.trackers = [[url]]
        let torrent = try creator.create()
        var configuration = ClientConfiguration(host: "127.0.0.1", ports: [0])
        configuration.trackerAddressPolicy = .allowAll
        let seeder = try await Client(configuration: configuration)
        let leecher = try await Client(configuration: configuration)
        let seederEvents = seeder.events.events()
        _ = try await seeder.addTorrent(torrent, downloadDirectory: seedFolder)
        let watchdog = Task {
            try await Task.sleep(for: .seconds(60))
            await seeder.shutdown()
        }
        for await event in seederEvents {
            if case .trackerSuccess = event { break }
        }
        watchdog.cancel()
        // No x.pe: the tracker (announced to with the info-hash alone) is the only source of the seed.
        let magnet = MagnetLink(infoHashes: torrent.infoHashes, trackers: [url])
        let handle = try await leecher.addTorrent(magnet: magnet, downloadDirectory: leechFolder)
        let done = try #require(await ClientFixtures.waitForCompletion(leecher, handle, limit: .seconds(60)))
        #expect(done.isComplete)
        #expect(await leecher.torrent(of: handle)?.announceTiers == [[url]])
        await leecher.shutdown()
        await seeder.shutdown()
        #expect(ClientFixtures.identical(seedFolder, leechFolder))
    }

    @Test func onlyTheFilesOfSelectOnlyAreDownloaded() async throws {
        let seedFolder = try ClientFixtures.temporaryFolder("magnet-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("magnet-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let torrent = try ClientFixtures.makeTorrent(in: seedFolder)
        let seeder = try await Self.client()
        let leecher = try await Self.client()
        _ = try await seeder.addTorrent(torrent, downloadDirectory: seedFolder)
        // File 0 is alpha.bin (700,001 bytes); the others are skipped.
        let magnet = MagnetLink(
            infoHashes: torrent.infoHashes, peers: [.init(host: "127.0.0.1", port: seeder.port)],
            selectOnly: [0...0])
        let handle = try await leecher.addTorrent(magnet: magnet, downloadDirectory: leechFolder)
        #expect(
            await Self.waitUntil {
                await leecher.status(of: handle).map { $0.isFinished && $0.state == .seeding } ?? false
            })
        let status = try #require(await leecher.status(of: handle))
        #expect(!status.isComplete)
        let priorities = try #require(await leecher.filePriorities(handle))
        #expect(priorities.first == .normal && priorities.dropFirst().allSatisfy { $0 == .skip })
        await leecher.shutdown()
        await seeder.shutdown()
        let alpha = FileManager.default.contents(atPath: "\(leechFolder)/payload/alpha.bin")
        #expect(alpha == FileManager.default.contents(atPath: "\(seedFolder)/payload/alpha.bin"))
    }
}
