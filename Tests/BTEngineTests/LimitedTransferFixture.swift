import BTMetainfo
import Foundation
import Testing

@testable import BTEngine

/// One fixture torrent moved from a fresh seeder to a fresh leecher on 127.0.0.1, timed, for the tests that prove
/// a rate limit holds a transfer back (set at add time, per torrent, or globally on a running client).
enum LimitedTransferFixture {
    /// A client on 127.0.0.1 without trackers or packet events.
    static func configuration() -> ClientConfiguration {
        var configuration = ClientConfiguration(host: "127.0.0.1", ports: [0])
        configuration.usesTrackers = false
        configuration.reportsPacketEvents = false
        return configuration
    }

    /// Adds the fixture torrent to a seeder (with `seedLimits`) and a leecher, runs `prepare` on them, then times
    /// the leecher's download from its first connect to completion; checks the data arrived intact. Returns the
    /// torrent's size and the time the transfer took.
    static func timedTransfer(
        _ name: String, seedLimits: TorrentLimits = TorrentLimits(),
        prepare: (_ seeder: Client, _ seeding: TorrentHandle, _ leecher: Client) async throws -> Void = { _, _, _ in }
    ) async throws -> (size: Int64, elapsed: Duration) {
        let seedFolder = try ClientFixtures.temporaryFolder("\(name)-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("\(name)-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let torrent = try ClientFixtures.makeTorrent(in: seedFolder)
        let seeder = try await Client(configuration: configuration())
        let leecher = try await Client(configuration: configuration())
        let seeding = try await seeder.addTorrent(torrent, downloadDirectory: seedFolder, limits: seedLimits)
        let downloading = try await leecher.addTorrent(torrent, downloadDirectory: leechFolder)
        try await prepare(seeder, seeding, leecher)
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

    /// A lower bound only: a limit of `rate` bytes a second, less one burst (a quarter second), makes a transfer
    /// of `size` bytes take at least this long (an ignored limit finishes in a fraction of it on loopback).
    static func minimumDuration(_ size: Int64, under rate: Int) -> Duration {
        .seconds(Double(Int(size) - rate / 4) / Double(rate) * 0.8)
    }
}
