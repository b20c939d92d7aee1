import BTMetainfo
import BTWire
import Foundation
import NIOCore
import Testing

@testable import BTEngine

/// The BEP 52 hash exchange between two ``Client``s: a seed serves the piece layers of its v2 or hybrid
/// torrent (`hashes` with proofs up to each file's root), and a leecher that lacks them (a magnet, or a
/// .torrent stripped of `piece layers`) fetches and verifies every layer before it downloads, keeps them in
/// its torrent and in `RESUME.torrent`, and a restart does not fetch them again.
@Suite(.serialized) struct ClientExchangesPieceLayers {
    static func client() async throws -> Client {
        var configuration = ClientConfiguration(host: "127.0.0.1", ports: [0])
        configuration.encryption = .none
        return try await Client(configuration: configuration)
    }

    /// The payload of the transfer tests as a v2 or hybrid torrent with 32 KiB pieces: two files with piece
    /// layers (22 and 40 pieces), one smaller than a piece, one empty.
    static func makeTorrent(in folder: String, version: TorrentVersion) throws -> Torrent {
        let payload = (folder as NSString).appendingPathComponent("payload")
        try ClientFixtures.writePayload(ClientFixtures.files, in: payload, seed: 42)
        var creator = TorrentCreator(path: payload)
        creator.version = version
        creator.pieceLength = 32 * 1024
        creator.creationDate = nil
        return try creator.create()
    }

    @Test(arguments: [TorrentVersion.v2, .hybrid])
    func aMagnetFetchesThePieceLayersThenDownloadsAndARestartKeepsThem(version: TorrentVersion) async throws {
        let seedFolder = try ClientFixtures.temporaryFolder("layers-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("layers-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let torrent = try Self.makeTorrent(in: seedFolder, version: version)
        #expect(torrent.pieceLayers.count == 2)
        let seeder = try await Self.client()
        let leecher = try await Self.client()
        _ = try await seeder.addTorrent(torrent, downloadDirectory: seedFolder)
        // A v2 magnet names only the btmh hash; a hybrid's names both.
        let magnet = MagnetLink(
            infoHashes: torrent.infoHashes, displayName: "layers",
            peers: [.init(host: "127.0.0.1", port: seeder.port)])
        let resume = "\(leechFolder)/magnet.resume"
        let handle = try await leecher.addTorrent(magnet: magnet, downloadDirectory: leechFolder, resume: resume)
        let done = try #require(await ClientFixtures.waitForCompletion(leecher, handle, limit: .seconds(60)))
        #expect(done.isComplete && done.state == .seeding)
        let built = try #require(await leecher.torrent(of: handle))
        #expect(built.infoBytes == torrent.infoBytes)
        #expect(built.pieceLayers == torrent.pieceLayers)
        #expect(built.filesMissingPieceLayers.isEmpty)
        await leecher.shutdown()
        await seeder.shutdown()
        #expect(ClientFixtures.identical(seedFolder, leechFolder))
        // The .torrent kept beside the resume data has every layer: a restart with no peer seeds at once.
        let kept = try Torrent(contentsOf: resume + ".torrent")
        #expect(kept.pieceLayers == torrent.pieceLayers && kept.infoBytes == torrent.infoBytes)
        let again = try await Self.client()
        let readded = try await again.addTorrent(magnet: magnet, downloadDirectory: leechFolder, resume: resume)
        let status = try #require(await again.status(of: readded))
        #expect(status.state == .seeding && status.isComplete && status.downloadedBytes == 0)
        await again.shutdown()
    }

    @Test(arguments: [TorrentVersion.v2, .hybrid])
    func aTorrentWithoutPieceLayersGetsThemFromTheSeed(version: TorrentVersion) async throws {
        let seedFolder = try ClientFixtures.temporaryFolder("layers-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("layers-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let torrent = try Self.makeTorrent(in: seedFolder, version: version)
        let stripped = try Torrent(infoDictionary: torrent.infoBytes, trackers: [])
        #expect(stripped.filesMissingPieceLayers.count == 2)
        let seeder = try await Self.client()
        let leecher = try await Self.client()
        _ = try await seeder.addTorrent(torrent, downloadDirectory: seedFolder)
        let resume = "\(leechFolder)/stripped.resume"
        let handle = try await leecher.addTorrent(stripped, downloadDirectory: leechFolder, resume: resume)
        #expect(await leecher.status(of: handle)?.state == .fetchingMetadata)
        try await leecher.connect(host: "127.0.0.1", port: seeder.port, for: handle)
        let done = try #require(await ClientFixtures.waitForCompletion(leecher, handle, limit: .seconds(60)))
        #expect(done.isComplete)
        #expect(await leecher.torrent(of: handle)?.pieceLayers == torrent.pieceLayers)
        await leecher.shutdown()
        await seeder.shutdown()
        #expect(ClientFixtures.identical(seedFolder, leechFolder))
        // Added again without its layers: they come from `RESUME.torrent`, not from peers.
        let again = try await Self.client()
        let readded = try await again.addTorrent(stripped, downloadDirectory: leechFolder, resume: resume)
        let status = try #require(await again.status(of: readded))
        #expect(status.state == .seeding && status.isComplete)
        #expect(await again.torrent(of: readded)?.pieceLayers == torrent.pieceLayers)
        await again.shutdown()
    }

    @Test func aV2TorrentWithoutLayersAndWithoutPeersWaitsAndRequestsNothing() async throws {
        let seedFolder = try ClientFixtures.temporaryFolder("layers-alone")
        defer { try? FileManager.default.removeItem(atPath: seedFolder) }
        let torrent = try Self.makeTorrent(in: seedFolder, version: .v2)
        let stripped = try Torrent(infoDictionary: torrent.infoBytes, trackers: [])
        let client = try await Self.client()
        let leechFolder = try ClientFixtures.temporaryFolder("layers-alone-leech")
        defer { try? FileManager.default.removeItem(atPath: leechFolder) }
        let handle = try await client.addTorrent(stripped, downloadDirectory: leechFolder)
        try await Task.sleep(for: .milliseconds(1_200))
        let status = try #require(await client.status(of: handle))
        #expect(status.state == .fetchingMetadata && !status.isComplete)
        #expect(await client.torrent(of: handle) == nil)
        try await client.removeTorrent(handle)
        await client.shutdown()
    }
}
