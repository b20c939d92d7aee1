import BTMetainfo
import Foundation
import Testing

@testable import BTEngine

/// The engine reaches peers only through ``PeerTransport``: two clients whose transport is a registry of
/// Unix socket pairs (no TCP at all) transfer a torrent byte-identically.
@Suite(.serialized) struct ClientRunsOverAnyPeerTransport {
    @Test func twoClientsTransferOverSocketPairsWithoutTCP() async throws {
        let seedFolder = try ClientFixtures.temporaryFolder("pair-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("pair-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let torrent = try ClientFixtures.makeTorrent(in: seedFolder)
        let transport = SocketPairTransport()
        var configuration = ClientConfiguration(host: "127.0.0.1", ports: [0])
        configuration.usesTrackers = false
        configuration.transport = transport
        let seeder = try await Client(configuration: configuration)
        let leecher = try await Client(configuration: configuration)
        #expect(seeder.port >= 50_000 && leecher.port >= 50_000 && seeder.port != leecher.port)
        try await seeder.addTorrent(torrent, downloadDirectory: seedFolder)
        let downloading = try await leecher.addTorrent(torrent, downloadDirectory: leechFolder)
        try await leecher.connect(host: "127.0.0.1", port: seeder.port, for: downloading)
        let done = try #require(await ClientFixtures.waitForCompletion(leecher, downloading))
        #expect(done.isComplete)
        #expect(transport.connectCount == 1)
        await leecher.shutdown()
        await seeder.shutdown()
        #expect(ClientFixtures.identical(seedFolder, leechFolder))
    }
}
