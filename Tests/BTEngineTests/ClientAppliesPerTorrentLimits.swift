import BTMetainfo
import Foundation
import Testing

@testable import BTEngine

/// Per-torrent upload/download limits and peer maximum, set when a torrent is added and changed later,
/// with two clients in one process on 127.0.0.1.
@Suite(.serialized) struct ClientAppliesPerTorrentLimits {
    @Test func anUploadLimitSetAtAddTimeHoldsTheTransferBack() async throws {
        let rate = 512 * 1024
        let limits = TorrentLimits(uploadLimit: .bytesPerSecond(rate))
        let (size, elapsed) = try await LimitedTransferFixture.timedTransfer("limit", seedLimits: limits) {
            seeder, seeding, _ in
            #expect(await seeder.status(of: seeding)?.limits == limits)
        }
        #expect(
            elapsed >= LimitedTransferFixture.minimumDuration(size, under: rate),
            "\(size) bytes in \(elapsed) under \(rate) B/s")
    }

    @Test func loweringThePeerMaximumClosesConnectionsAndRaisingItLetsThemBack() async throws {
        let seedFolder = try ClientFixtures.temporaryFolder("maxpeers-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("maxpeers-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let torrent = try ClientFixtures.makeTorrent(in: seedFolder)
        let seeder = try await Client(configuration: LimitedTransferFixture.configuration())
        let leecher = try await Client(configuration: LimitedTransferFixture.configuration())
        let reasons = Recorder<String>()
        seeder.events.on(.peerDisconnect) { event in
            if case .peerDisconnect(_, let reason) = event { reasons.append(reason.name) }
        }
        let seeding = try await seeder.addTorrent(torrent, downloadDirectory: seedFolder)
        // The leecher downloads slowly (a download limit set at add time) so the connection lasts.
        let slow = TorrentLimits(downloadLimit: .bytesPerSecond(64 * 1024))
        let downloading = try await leecher.addTorrent(torrent, downloadDirectory: leechFolder, limits: slow)
        try await leecher.connect(host: "127.0.0.1", port: seeder.port, for: downloading)
        #expect(await ClientFixtures.eventually { await seeder.status(of: seeding)?.peers == 1 })

        try await seeder.setLimits(TorrentLimits(maximumPeers: 0), for: seeding)
        #expect(await seeder.status(of: seeding)?.limits.maximumPeers == 0)
        #expect(await ClientFixtures.eventually { await seeder.peers(of: seeding).isEmpty })
        #expect(reasons.values.contains("tooMany"))
        let partial = try #require(await leecher.status(of: downloading))
        #expect(!partial.isComplete)

        try await seeder.setLimits(TorrentLimits(), for: seeding)
        try await leecher.setLimits(TorrentLimits(), for: downloading)
        try await leecher.connect(host: "127.0.0.1", port: seeder.port, for: downloading)
        let done = try #require(await ClientFixtures.waitForCompletion(leecher, downloading))
        #expect(done.isComplete)
        await leecher.shutdown()
        await seeder.shutdown()
        #expect(ClientFixtures.identical(seedFolder, leechFolder))
    }
}
