import BTMetainfo
import Foundation
import NIOCore
import NIOEmbedded
import Testing

@testable import BTEngine

/// The real engine on a virtual network and a virtual clock (``VirtualNetwork``, ``VirtualClock``): no
/// sockets, and timers fire when the test moves time, not when the wall clock does.
@Suite(.serialized) struct ClientRunsOnAVirtualNetwork {
    private static func configuration(_ network: VirtualNetwork) -> ClientConfiguration {
        var configuration = ClientConfiguration(host: "127.0.0.1", ports: [0])
        configuration.usesTrackers = false
        configuration.transport = network
        return configuration
    }

    @Test func twoClientsTransferATorrentOnVirtualTime() async throws {
        let seedFolder = try ClientFixtures.temporaryFolder("virtual-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("virtual-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let torrent = try ClientFixtures.makeTorrent(in: seedFolder)
        let clock = await VirtualClock.start()
        let network = VirtualNetwork(loop: clock.loop)
        let seeder = try await Client(configuration: Self.configuration(network), loop: clock.loop, owning: nil)
        let leecher = try await Client(configuration: Self.configuration(network), loop: clock.loop, owning: nil)
        try await seeder.addTorrent(torrent, downloadDirectory: seedFolder)
        let downloading = try await leecher.addTorrent(torrent, downloadDirectory: leechFolder)
        try await leecher.connect(host: "127.0.0.1", port: seeder.port, for: downloading)
        let start = clock.now
        let done = await clock.advance(
            until: { await leecher.status(of: downloading)?.isComplete == true }, limit: .seconds(600))
        #expect(done, "the download should complete within 600 virtual seconds")
        let elapsed = clock.now - start
        #expect(elapsed > .zero, "virtual time moved (\(elapsed.nanoseconds / 1_000_000) ms)")
        await leecher.shutdown()
        await seeder.shutdown()
        await clock.settle()
        #expect(ClientFixtures.identical(seedFolder, leechFolder))
        try? await clock.loop.shutdownGracefully()
    }

    @Test func aPeerThatNeverHandshakesIsDroppedAfterThirtyVirtualSeconds() async throws {
        let clock = await VirtualClock.start()
        let network = VirtualNetwork(loop: clock.loop)
        let client = try await Client(configuration: Self.configuration(network), loop: clock.loop, owning: nil)
        let port = client.port
        let silent = try await clock.loop.flatSubmit {
            network.connect(
                host: "127.0.0.1", port: port, loop: clock.loop, timeout: .seconds(10),
                initializer: { $0.eventLoop.makeSucceededVoidFuture() })
        }.get()
        await clock.settle()
        #expect(silent.isActive)
        await clock.advance(by: .seconds(29))
        #expect(silent.isActive, "still connected after 29 virtual seconds")
        await clock.advance(by: .seconds(2))
        #expect(!silent.isActive, "dropped once the 30 s handshake timeout passed")
        await client.shutdown()
        try? await clock.loop.shutdownGracefully()
    }
}
