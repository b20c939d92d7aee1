import BTMetainfo
import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import BTEngine

/// Attacks from issue 12 that the one driver's budgets and the per-address limit stop: a peer that
/// never reads while it makes us queue a `reject` per request+cancel pair (cut by the output bound or the
/// cancel budget, whichever comes first), one host opening many connections, and one host opening and closing
/// connections in a loop (the accept rate per address).
@Suite(.serialized) struct ClientBoundsHostilePeers {
    @Test func requestCancelFloodFromAPeerThatNeverReadsIsDisconnected() async throws {
        let folder = try ClientFixtures.temporaryFolder("flood")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let torrent = try ClientFixtures.makeSingleFileTorrent(
            in: folder, name: "flood.bin", length: 1024 * 1024, pieceLength: 256 * 1024)
        var configuration = ClientConfiguration(host: "127.0.0.1")
        configuration.usesTrackers = false
        configuration.reportsPacketEvents = false
        configuration.maximumQueuedOutputBytesPerPeer = 64 * 1024
        let seed = try await Client(configuration: configuration)
        let reasons = Recorder<String>()
        seed.events.on(.peerDisconnect) { event in
            if case .peerDisconnect(_, let reason) = event { reasons.append(reason.name) }
        }
        let handle = try await seed.addTorrent(torrent, downloadDirectory: folder)
        let peer = RawPeer(infoHash: handle.wireInfoHash, requests: [], stopsReading: true, fast: true)
        try await peer.connect(port: seed.port)
        #expect(await ClientFixtures.eventually { peer.sentRequests }, "the seed unchokes the interested peer")

        // Pairs of `request` + `cancel`: each one makes the seed queue a 17-byte `reject` (BEP 6), and the
        // peer reads none. The kernel's socket buffers take the first few MiB; after that the seed's own
        // count of unsent bytes passes the bound.
        var largest = 0
        var round = 0
        while !peer.isClosed && round < 80 {
            var pairs: [UInt8] = []
            pairs.reserveCapacity(4096 * 34)
            for index in 0..<4096 {
                for id in [UInt8(6), UInt8(8)] {
                    pairs += [0, 0, 0, 13, id, 0, 0, 0, UInt8(index % 4)]
                    let offset = UInt32((index / 4 % 16) * 16384)
                    pairs += withUnsafeBytes(of: offset.bigEndian, Array.init) + [0, 0, 0x40, 0]
                }
            }
            try? await peer.send(pairs)
            if let status = await seed.peers(of: handle).first { largest = max(largest, status.queuedUploadBytes) }
            round += 1
        }
        // Whichever bound comes first closes it: the unsent output (`sendBufferFull`) or, since the input
        // budgets, the cancel budget (10,000 per 10 s: `requestFlood`), which usually does, after about three
        // rounds. Either way the seed's queued output stayed bounded (below); BTWireTests'
        // PeersThatNeverReadAreCutOffAtTheOutputBudget proves the output bound alone.
        #expect(
            await ClientFixtures.eventually {
                reasons.values.contains("sendBufferFull") || reasons.values.contains("requestFlood")
            },
            "reasons: \(reasons.values) after \(round) rounds")
        #expect(largest <= 64 * 1024 + 256 * 1024, "the seed held at most the bound plus one batch: \(largest)")
        #expect(await ClientFixtures.eventually { await seed.peers(of: handle).isEmpty })
        await peer.close()
        await seed.shutdown()
    }

    @Test func oneAddressGetsAtMostFourConnectionsAndAnHonestPeerStillDownloads() async throws {
        let folder = try ClientFixtures.temporaryFolder("per-address")
        let leechFolder = try ClientFixtures.temporaryFolder("per-address-leech")
        defer {
            for path in [folder, leechFolder] { try? FileManager.default.removeItem(atPath: path) }
        }
        let torrent = try ClientFixtures.makeTorrent(in: folder)
        var configuration = ClientConfiguration(host: "127.0.0.60")
        configuration.usesTrackers = false
        let seed = try await Client(configuration: configuration)
        let refused = Recorder<String>()
        seed.events.on(.peerDisconnect) { event in
            if case .peerDisconnect(let peer, let reason) = event, reason == .tooMany {
                refused.append("\(peer.endpoint.address)")
            }
        }
        let handle = try await seed.addTorrent(torrent, downloadDirectory: folder)
        // Idle peers from 127.0.0.1 that handshake, say `interested` and then say nothing more.
        var idle: [RawPeer] = []
        for _ in 0..<8 {
            let peer = RawPeer(infoHash: handle.wireInfoHash, requests: [], stopsReading: false)
            try await peer.connect(host: "127.0.0.60", port: seed.port)
            idle.append(peer)
        }
        #expect(await ClientFixtures.eventually { refused.values.count == 4 }, "\(refused.values)")
        #expect(refused.values.allSatisfy { $0 == "127.0.0.1" })
        #expect(await seed.peers(of: handle).count == 4)

        var honestConfiguration = ClientConfiguration(host: "127.0.0.61")
        honestConfiguration.usesTrackers = false
        let honest = try await Client(configuration: honestConfiguration)
        let download = try await honest.addTorrent(torrent, downloadDirectory: leechFolder)
        try await honest.connect(host: "127.0.0.60", port: seed.port, for: download)
        let status = await ClientFixtures.waitForCompletion(honest, download, limit: .seconds(60))
        #expect(status?.isComplete == true)
        for peer in idle { await peer.close() }
        await honest.shutdown()
        await seed.shutdown()
    }

    @Test func anAddressThatOpensAndClosesConnectionsInALoopIsRefusedAndAnHonestPeerStillDownloads() async throws {
        let folder = try ClientFixtures.temporaryFolder("accept-rate")
        let leechFolder = try ClientFixtures.temporaryFolder("accept-rate-leech")
        defer {
            for path in [folder, leechFolder] { try? FileManager.default.removeItem(atPath: path) }
        }
        let torrent = try ClientFixtures.makeTorrent(in: folder)
        var configuration = ClientConfiguration(host: "127.0.0.62")
        configuration.usesTrackers = false
        #expect(configuration.incomingConnectionRate?.attemptsPerWindow == 50, "the defaults are in force")
        let seed = try await Client(configuration: configuration)
        let refused = Recorder<String>()
        seed.events.on(.peerDisconnect) { event in
            if case .peerDisconnect(let peer, let reason) = event, reason == .tooMany {
                refused.append("\(peer.endpoint.address)")
            }
        }
        let handle = try await seed.addTorrent(torrent, downloadDirectory: folder)

        // 80 connections from 127.0.0.63, each closed at once (never more than one open, so the per-address
        // limit of 4 is not what refuses them): the first 50 in 10 s are accepted, the rest refused.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        for _ in 0..<80 {
            let channel = try await ClientBootstrap(group: group)
                .bind(to: try SocketAddress(ipAddress: "127.0.0.63", port: 0))
                .connect(host: "127.0.0.62", port: seed.port).get()
            try? await channel.close().get()
        }
        try await group.shutdownGracefully()
        #expect(
            await ClientFixtures.eventually { refused.values.count >= 30 },
            "refused: \(refused.values.count) of 80")
        #expect(refused.values.allSatisfy { $0 == "127.0.0.63" })

        // The hammering address stays refused, even with a valid handshake and nothing else open.
        let late = RawPeer(infoHash: handle.wireInfoHash, requests: [], stopsReading: false)
        try await late.connect(host: "127.0.0.62", port: seed.port, from: "127.0.0.63")
        #expect(await ClientFixtures.eventually { late.isClosed }, "refused at accept")
        #expect(await seed.peers(of: handle).isEmpty)
        await late.close()

        // Another address is not affected: an honest download completes.
        var honestConfiguration = ClientConfiguration(host: "127.0.0.64")
        honestConfiguration.usesTrackers = false
        let honest = try await Client(configuration: honestConfiguration)
        let download = try await honest.addTorrent(torrent, downloadDirectory: leechFolder)
        try await honest.connect(host: "127.0.0.62", port: seed.port, for: download)
        let status = await ClientFixtures.waitForCompletion(honest, download, limit: .seconds(60))
        #expect(status?.isComplete == true)
        await honest.shutdown()
        await seed.shutdown()
    }
}
