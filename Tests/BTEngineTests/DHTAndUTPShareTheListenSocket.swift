import BTDHT
import BTMetainfo
import BTUTP
import Foundation
import NBTTestSupport
import NIOCore
import NIOPosix
import Testing

@testable import BTEngine

/// One UDP socket for uTP and the DHT (issue 16): inside a loopback-only network namespace, a seeding and a
/// leeching ``Client`` over ``UTPTransport`` run their DHT nodes on their uTP listen sockets (127.0.0.3 and
/// 127.0.0.4, port 6881), joined through a third node (127.0.0.2). The leecher finds the seed through the DHT
/// alone and downloads over uTP from the port the DHT named, while DHT queries reach both listen ports during
/// the transfer; a datagram of neither kind is dropped and counted; a torrent with ``TorrentLimits/usesDHT``
/// off is never announced.
@Suite(.serialized) struct DHTAndUTPShareTheListenSocket {
    static let port: UInt16 = 6881
    static func endpoint(_ last: UInt32) -> DHTEndpoint { DHTEndpoint(ip: .v4(0x7f00_0000 + last), port: port) }

    static func nodeConfiguration(seed: UInt64) -> DHTConfiguration {
        var node = DHTConfiguration(randomSeed: seed)
        node.queryTimeout = .seconds(2)
        node.lookupTimeout = .seconds(10)
        return node
    }

    static func client(socket: CInt, host: String, seed: UInt64) async throws -> Client {
        var configuration = ClientConfiguration(host: host, ports: [Int(port)])
        configuration.usesTrackers = false
        configuration.transport = UTPTransport(socketFactory: { _, _ in socket })
        var dht = DHTSettings(bootstrapNodes: ["127.0.0.2:\(port)"], node: nodeConfiguration(seed: seed))
        dht.announceInterval = .seconds(60)
        configuration.dht = dht
        return try await Client(configuration: configuration)
    }

    @Test(.timeLimit(.minutes(2)))
    func aLeecherFindsTheSeedThroughTheDHTAndDownloadsOverUTPOnTheSamePort() async throws {
        let sockets: [CInt]
        switch LoopbackNamespace.udpSockets(addresses: [0x7f00_0002, 0x7f00_0003, 0x7f00_0004], port: Self.port) {
        case .success(let (fds, _)): sockets = fds
        case .failure(let failure):
            Issue.record("no loopback namespace: \(failure)")
            return
        }
        let seedFolder = try ClientFixtures.temporaryFolder("udpshare-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("udpshare-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let torrent = try ClientFixtures.makeSingleFileTorrent(
            in: seedFolder, name: "shared.bin", length: 3 << 20, pieceLength: 64 * 1024)
        let hidden = try ClientFixtures.makeSingleFileTorrent(
            in: seedFolder, name: "hidden.bin", length: 100_000, pieceLength: 16 * 1024)

        // The third node: a bare DHTService on its own socket.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let channel = try await DatagramBootstrap(group: group).withBoundSocket(sockets[0]).get()
        let router = try await DHTService.start(on: channel, configuration: Self.nodeConfiguration(seed: 1))

        let seeder = try await Self.client(socket: sockets[1], host: "127.0.0.3", seed: 2)
        #expect(seeder.port == Int(Self.port))
        // The node runs on the uTP socket, not on one of its own.
        let seederSocket = try await seeder.onLoop { core in core.dht.service?.channel }
        #expect(
            seederSocket != nil && seederSocket === (seeder.configuration.transport as? UTPTransport)?.listeningChannel)
        try await seeder.addTorrent(torrent, downloadDirectory: seedFolder)
        try await seeder.addTorrent(hidden, downloadDirectory: seedFolder, limits: TorrentLimits(usesDHT: false))
        let announced = await ClientFixtures.eventually(limit: .seconds(30)) {
            ((try? await router.statistics().torrents) ?? 0) >= 1
        }
        #expect(announced, "the seed never announced to the DHT")

        let leecher = try await Self.client(socket: sockets[2], host: "127.0.0.4", seed: 3)
        // About 3 s of transfer at 1 MiB/s, so the DHT queries below meet it.
        let handle = try await leecher.addTorrent(
            torrent, downloadDirectory: leechFolder,
            limits: TorrentLimits(downloadLimit: .bytesPerSecond(1 << 20, burst: 64 * 1024)))
        let peers = await ClientTransfersOverUTP.peersDuringTransfer(leecher, handle)
        // DHT queries to both listen ports while uTP carries the transfer on them.
        let lookup = try await router.bootstrap(nodes: [Self.endpoint(3), Self.endpoint(4)])
        let answered = Set(lookup.closest.map(\.endpoint))
        let midTransfer = await leecher.status(of: handle)
        let done = try #require(await ClientFixtures.waitForCompletion(leecher, handle, limit: .seconds(60)))
        #expect(done.isComplete)
        #expect(midTransfer?.isComplete == false, "the transfer ended before the DHT queries")
        #expect(answered.isSuperset(of: [Self.endpoint(3), Self.endpoint(4)]), "\(answered)")
        #expect(peers.count == 1)
        #expect(peers.first?.transport == .utp)
        #expect(peers.first?.source == .dht)
        #expect(peers.first?.endpoint.port == Self.port)

        // A datagram of neither kind, to the seed's port: dropped and counted, the DHT and uTP unaffected.
        let junk = channel.allocator.buffer(bytes: Array("neither uTP nor KRPC".utf8))
        let seedAddress = try SocketAddress(ipAddress: "127.0.0.3", port: Int(Self.port))
        try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: seedAddress, data: junk))
        let seedTransport = try #require(seeder.configuration.transport as? UTPTransport)
        let counted = await ClientFixtures.eventually(limit: .seconds(5)) {
            seedTransport.unclaimedDatagrams?[.other] == 1
        }
        #expect(counted, "\(String(describing: seedTransport.unclaimedDatagrams))")
        let seedStatistics = try #require(await seeder.dhtStatistics())
        #expect(seedStatistics.messages.queriesServed > 0)

        // The torrent with the DHT switched off was never announced: the router stores one torrent only.
        #expect(try await router.statistics().torrents == 1)
        let hiddenLookup = try await router.getPeers(NodeID(bytes: hidden.infoHashes.wire)!)
        #expect(hiddenLookup.peers.isEmpty)

        await leecher.shutdown()
        await seeder.shutdown()
        try? await router.close()
        try? await group.shutdownGracefully()
        let original = FileManager.default.contents(atPath: seedFolder + "/shared.bin")
        #expect(original != nil && original == FileManager.default.contents(atPath: leechFolder + "/shared.bin"))
    }
}
