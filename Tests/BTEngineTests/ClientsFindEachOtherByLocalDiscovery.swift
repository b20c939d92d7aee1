import BTMetainfo
import BTWire
import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import BTEngine

/// Two ``Client``s with local service discovery (BEP 14) and no other way to learn of each other: their
/// multicast sockets share a namespace whose loopback carries the group (their TCP listeners are on the host's
/// 127.0.0.1), each hears the other's `BT-SEARCH` and dials it, tagged ``PeerSource/lsd``, and the torrent
/// transfers. A private torrent is never announced, so two clients with one find nobody.
@Suite(.serialized) struct ClientsFindEachOtherByLocalDiscovery {
    /// Client settings whose discovery socket is `fd` (made in the namespace), announcing on 127.0.0.1.
    static func configuration(socket fd: CInt) -> ClientConfiguration {
        var config = ClientConfiguration(host: "127.0.0.1", ports: [0])
        var discovery = LocalDiscoverySettings(interfaceAddress: "127.0.0.1")
        discovery.makeChannel = { loop in
            try await DatagramBootstrap(group: loop).withBoundSocket(NIOBSDSocket.Handle(fd)).get()
        }
        config.localDiscovery = discovery
        return config
    }

    static func sockets(_ count: Int) -> [CInt]? {
        switch MulticastLoopbackNamespace.sockets(count: count) {
        case .success(let fds): return fds
        case .failure(let failure):
            Issue.record("no multicast namespace: \(failure)")
            return nil
        }
    }

    @Test(
        .disabled("issue 18: the device fix in LocalDiscoverySource is in, but this case has not been run since"),
        .timeLimit(.minutes(2)))
    func twoClientsFindEachOtherAndTransferByDiscoveryAlone() async throws {
        guard let fds = Self.sockets(2) else { return }
        let seedFolder = try ClientFixtures.temporaryFolder("lsd-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("lsd-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let torrent = try ClientFixtures.makeTorrent(in: seedFolder)
        let seeder = try await Client(configuration: Self.configuration(socket: fds[0]))
        let leecher = try await Client(configuration: Self.configuration(socket: fds[1]))
        let seeding = try await seeder.addTorrent(torrent, downloadDirectory: seedFolder)
        let downloading = try await leecher.addTorrent(torrent, downloadDirectory: leechFolder)

        let done = await ClientFixtures.waitForCompletion(leecher, downloading, limit: .seconds(60))
        let seedPeers = await seeder.peers(of: seeding)
        await leecher.shutdown()
        await seeder.shutdown()
        #expect(done?.isComplete == true)
        #expect(ClientFixtures.identical(seedFolder, leechFolder))
        // Whoever dialled, the dialling side tagged the peer LSD; the seed saw it either way.
        #expect(!seedPeers.isEmpty)
        let found = await [seeder, leecher].asyncMap { client in
            await client.inspect { core in core.localDiscovery.peersFound }
        }
        #expect(found.allSatisfy { ($0 ?? 0) > 0 })
    }

    @Test(.timeLimit(.minutes(1)))
    func privateTorrentIsNeverAnnounced() async throws {
        guard let fds = Self.sockets(2) else { return }
        let seedFolder = try ClientFixtures.temporaryFolder("lsd-private-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("lsd-private-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        try ClientFixtures.writePayload(ClientFixtures.files, in: "\(seedFolder)/payload", seed: 42)
        var creator = TorrentCreator(path: "\(seedFolder)/payload")
        creator.version = .v1
        creator.pieceLength = 48 * 1024
        creator.isPrivate = true
        creator.creationDate = nil
        let torrent = try creator.create()
        #expect(torrent.isPrivate)
        let seeder = try await Client(configuration: Self.configuration(socket: fds[0]))
        let leecher = try await Client(configuration: Self.configuration(socket: fds[1]))
        let seeding = try await seeder.addTorrent(torrent, downloadDirectory: seedFolder)
        let downloading = try await leecher.addTorrent(torrent, downloadDirectory: leechFolder)
        // Three announces would have gone out within 6 s.
        try await Task.sleep(for: .seconds(8))
        let seedPeers = await seeder.peers(of: seeding)
        let leechPeers = await leecher.peers(of: downloading)
        let found = await [seeder, leecher].asyncMap { client in
            await client.inspect { core in core.localDiscovery.peersFound }
        }
        await leecher.shutdown()
        await seeder.shutdown()
        #expect(seedPeers.isEmpty && leechPeers.isEmpty)
        #expect(found == [0, 0])
    }
}

extension Array where Element: Sendable {
    fileprivate func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}

extension Client {
    /// Runs `body` on the engine's loop (tests read components' counters this way).
    fileprivate func inspect<T: Sendable>(_ body: @escaping @Sendable (ClientCore) -> T) async -> T? {
        try? await onLoop { core throws(EngineError) in body(core) }
    }
}
