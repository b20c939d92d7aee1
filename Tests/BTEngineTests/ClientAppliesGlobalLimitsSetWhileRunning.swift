import BTMetainfo
import Foundation
import Testing

@testable import BTEngine

/// Session-wide limits changed on a running client (`Client.setGlobalLimit`, what the daemon's `session-set`
/// calls) hold the transfer back at once, in both directions, though the client started unlimited.
@Suite(.serialized) struct ClientAppliesGlobalLimitsSetWhileRunning {
    private static func configuration() -> ClientConfiguration {
        var configuration = ClientConfiguration(host: "127.0.0.1", ports: [0])
        configuration.usesTrackers = false
        configuration.reportsPacketEvents = false
        return configuration
    }

    /// Downloads the fixture torrent from a fresh seeder, after `limit` has been applied on the side it names;
    /// returns the torrent's size and the time the transfer took.
    private func transfer(limiting direction: TransferDirection, rate: Int) async throws -> (Int64, Duration) {
        let seedFolder = try ClientFixtures.temporaryFolder("global-limit-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("global-limit-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let torrent = try ClientFixtures.makeTorrent(in: seedFolder)
        let seeder = try await Client(configuration: Self.configuration())
        let leecher = try await Client(configuration: Self.configuration())
        _ = try await seeder.addTorrent(torrent, downloadDirectory: seedFolder)
        let downloading = try await leecher.addTorrent(torrent, downloadDirectory: leechFolder)
        switch direction {
        case .upload: try await seeder.setGlobalLimit(.bytesPerSecond(rate), direction: .upload)
        case .download: try await leecher.setGlobalLimit(.bytesPerSecond(rate), direction: .download)
        }
        let start = ContinuousClock.now
        try await leecher.connect(host: "127.0.0.1", port: seeder.port, for: downloading)
        let done = try #require(await ClientFixtures.waitForCompletion(leecher, downloading))
        let elapsed = ContinuousClock.now - start
        #expect(done.isComplete)
        await leecher.shutdown()
        await seeder.shutdown()
        #expect(ClientFixtures.identical(seedFolder, leechFolder))
        return (torrent.totalSize, elapsed)
    }

    /// A lower bound only: the limit, less one burst, makes the transfer take at least this long (an ignored
    /// limit finishes in a fraction of it on loopback).
    private func minimum(_ size: Int64, _ rate: Int) -> Duration {
        .seconds(Double(Int(size) - rate / 4) / Double(rate) * 0.8)
    }

    @Test func aDownloadLimitSetOnARunningClientHoldsTheTransferBack() async throws {
        let rate = 512 * 1024
        let (size, elapsed) = try await transfer(limiting: .download, rate: rate)
        #expect(elapsed >= minimum(size, rate), "\(size) bytes in \(elapsed) under a live \(rate) B/s download limit")
    }

    @Test func anUploadLimitSetOnARunningClientHoldsTheTransferBack() async throws {
        let rate = 512 * 1024
        let (size, elapsed) = try await transfer(limiting: .upload, rate: rate)
        #expect(elapsed >= minimum(size, rate), "\(size) bytes in \(elapsed) under a live \(rate) B/s upload limit")
    }
}
