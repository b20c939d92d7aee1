import BTMetainfo
import Foundation
import Testing

@testable import BTEngine

/// A super-seed (BEP 16) seen from a leecher, through the leecher's packet events: the seed's availability is
/// have-none (both ends speak BEP 6), never have-all or a bitfield, and every piece is announced by a `have`;
/// the leecher still completes from the super-seed alone. Switching super-seeding off announces the pieces.
@Suite(.serialized) struct SuperSeedNeverShowsItsBitfield {
    @Test(.timeLimit(.minutes(2)))
    func leecherSeesHaveNoneThenOneHaveAtATimeAndCompletes() async throws {
        let seedFolder = try ClientFixtures.temporaryFolder("superseed-wire")
        let leechFolder = try ClientFixtures.temporaryFolder("superseed-wire-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let torrent = try ClientFixtures.makeTorrent(in: seedFolder)
        let seeder = try await Client(configuration: ClientConfiguration(host: "127.0.0.1", ports: [0]))
        var leechConfig = ClientConfiguration(host: "127.0.0.1", ports: [0])
        leechConfig.reportsPacketEvents = true
        let leecher = try await Client(configuration: leechConfig)
        let events = leecher.events.events(bufferingNewest: 100_000)
        let seeding = try await seeder.addTorrent(
            torrent, downloadDirectory: seedFolder, limits: TorrentLimits(superSeeding: true))
        let downloading = try await leecher.addTorrent(torrent, downloadDirectory: leechFolder)
        try await leecher.connect(host: "127.0.0.1", port: seeder.port, for: downloading)
        let done = await ClientFixtures.waitForCompletion(leecher, downloading, limit: .seconds(90))
        let uploaded = await seeder.status(of: seeding)?.uploadedBytes ?? 0
        await leecher.shutdown()
        await seeder.shutdown()
        #expect(done?.isComplete == true)
        #expect(ClientFixtures.identical(seedFolder, leechFolder))
        // A lone leecher gets each piece once.
        #expect(uploaded == torrent.totalSize)

        var haveNone = 0
        var revealing = 0
        var haves: [Int] = []
        for await event in events {
            guard case .packetIncoming(_, .message(let message)) = event else { continue }
            switch message {
            case .haveNone: haveNone += 1
            case .haveAll, .bitfield: revealing += 1
            case .have(let index): haves.append(index)
            default: break
            }
        }
        #expect(haveNone == 1)
        #expect(revealing == 0)
        #expect(Set(haves) == Set(0..<torrent.pieceCount))
        #expect(haves.count == torrent.pieceCount)
    }

    @Test(.timeLimit(.minutes(1)))
    func switchingSuperSeedingOffAnnouncesEveryPiece() async throws {
        let seedFolder = try ClientFixtures.temporaryFolder("superseed-off")
        let leechFolder = try ClientFixtures.temporaryFolder("superseed-off-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let torrent = try ClientFixtures.makeTorrent(in: seedFolder)
        let seeder = try await Client(configuration: ClientConfiguration(host: "127.0.0.1", ports: [0]))
        let leecher = try await Client(configuration: ClientConfiguration(host: "127.0.0.1", ports: [0]))
        let seeding = try await seeder.addTorrent(
            torrent, downloadDirectory: seedFolder, limits: TorrentLimits(downloadLimit: .unlimited, superSeeding: true)
        )
        // The leecher downloads slowly, so it is still connected, knowing only its offers, when the switch comes.
        let downloading = try await leecher.addTorrent(
            torrent, downloadDirectory: leechFolder, limits: TorrentLimits(downloadLimit: .bytesPerSecond(64 * 1024)))
        try await leecher.connect(host: "127.0.0.1", port: seeder.port, for: downloading)
        var before = 0
        let connected = await ClientFixtures.eventually(limit: .seconds(20)) {
            before = await leecher.peers(of: downloading).first?.pieces.setCount ?? 0
            return before > 0
        }
        #expect(connected)
        #expect(before < torrent.pieceCount / 2)
        try await seeder.setLimits(TorrentLimits(), for: seeding)
        let announced = await ClientFixtures.eventually(limit: .seconds(20)) {
            await leecher.peers(of: downloading).first?.pieces.setCount == torrent.pieceCount
        }
        await leecher.shutdown()
        await seeder.shutdown()
        #expect(announced)
    }
}
