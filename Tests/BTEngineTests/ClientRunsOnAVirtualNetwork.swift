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
        let seeder = try await Client(configuration: Self.configuration(network), on: clock.loop)
        let leecher = try await Client(configuration: Self.configuration(network), on: clock.loop)
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

    /// A running torrent's resume data is written every two minutes (when it changed), not only when the
    /// torrent stops: a kill -9 then costs a partial check, not a full one.
    @Test func resumeDataIsSavedEveryTwoVirtualMinutesWhileRunning() async throws {
        let seedFolder = try ClientFixtures.temporaryFolder("virtual-resume")
        defer { try? FileManager.default.removeItem(atPath: seedFolder) }
        let torrent = try ClientFixtures.makeTorrent(in: seedFolder)
        let resume = seedFolder + "/seed.resume"
        let clock = await VirtualClock.start()
        let network = VirtualNetwork(loop: clock.loop)
        let seeder = try await Client(configuration: Self.configuration(network), on: clock.loop)
        try await seeder.addTorrent(torrent, downloadDirectory: seedFolder, resume: resume)
        await clock.advance(by: .seconds(100), step: .seconds(1))
        #expect(!FileManager.default.fileExists(atPath: resume), "not before two minutes")
        await clock.advance(by: .seconds(30), step: .seconds(1))
        var saved = false
        for _ in 0..<100 where !saved {  // the save runs on the storage workers, in real time
            try await Task.sleep(for: .milliseconds(50))
            saved = FileManager.default.fileExists(atPath: resume)
        }
        #expect(saved, "saved once two virtual minutes passed, while the torrent runs")
        await seeder.shutdown()
        try? await clock.loop.shutdownGracefully()
    }

    @Test func aPeerThatNeverHandshakesIsDroppedAfterThirtyVirtualSeconds() async throws {
        let clock = await VirtualClock.start()
        let network = VirtualNetwork(loop: clock.loop)
        let client = try await Client(configuration: Self.configuration(network), on: clock.loop)
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

    @Test func twoPeersWithNothingToTradeKeepAliveThenPartAfterThreeVirtualMinutes() async throws {
        let folder = try ClientFixtures.temporaryFolder("virtual-useless")
        let emptyA = try ClientFixtures.temporaryFolder("virtual-useless-a")
        let emptyB = try ClientFixtures.temporaryFolder("virtual-useless-b")
        defer {
            for path in [folder, emptyA, emptyB] { try? FileManager.default.removeItem(atPath: path) }
        }
        let torrent = try ClientFixtures.makeTorrent(in: folder)
        let clock = await VirtualClock.start()
        let network = VirtualNetwork(loop: clock.loop)
        let first = try await Client(configuration: Self.configuration(network), on: clock.loop)
        let second = try await Client(configuration: Self.configuration(network), on: clock.loop)
        let reasons = Recorder<String>()
        let keepAlives = Recorder<Int>()
        first.events.on(.peerDisconnect) { event in
            if case .peerDisconnect(_, let reason) = event { reasons.append(reason.name) }
        }
        first.events.on(.packetIncomingKeepalive) { event in
            if case .packetIncoming(_, .message(.keepAlive)) = event { keepAlives.append(1) }
        }
        // Neither has any data: neither side is ever interested.
        let a = try await first.addTorrent(torrent, downloadDirectory: emptyA)
        let b = try await second.addTorrent(torrent, downloadDirectory: emptyB)
        try await second.connect(host: "127.0.0.1", port: first.port, for: b)
        #expect(await clock.advance(until: { await first.status(of: a)?.peers == 1 }, limit: .seconds(10)))
        await clock.advance(by: .seconds(170), step: .seconds(1))
        #expect(await first.status(of: a)?.peers == 1, "still connected after 170 virtual seconds")
        #expect(keepAlives.values.count >= 1, "the idle peer sent keep-alives")
        await clock.advance(by: .seconds(20), step: .seconds(1))
        #expect(await first.status(of: a)?.peers == 0, "parted once three virtual minutes passed")
        #expect(reasons.values.contains("uselessPeer"))
        await first.shutdown()
        await second.shutdown()
        try? await clock.loop.shutdownGracefully()
    }
}
