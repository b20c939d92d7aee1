import BTMetainfo
import Foundation
import NIOCore
import Testing

@testable import BTEngine

/// ``Client/peers(of:)`` shows each connection's wire state (interest, choking, the peer's pieces, phase,
/// reputation), keeps the choker's inputs true to it (a peer that chokes us again is no longer "unchoked us
/// at"), lists dials waiting for a half-open slot as queued, and reports a dial the full queue drops.
@Suite(.serialized) struct ClientReportsPeerState {
    @Test func aPeerThatUnchokesThenChokesUsShowsInPeerStatusAndInTheChokerInputs() async throws {
        let folder = try ClientFixtures.temporaryFolder("peerstate")
        let empty = try ClientFixtures.temporaryFolder("peerstate-empty")
        defer {
            try? FileManager.default.removeItem(atPath: folder)
            try? FileManager.default.removeItem(atPath: empty)
        }
        let torrent = try ClientFixtures.makeSingleFileTorrent(
            in: folder, name: "state.bin", length: 1024 * 1024, pieceLength: 64 * 1024)
        var configuration = ClientConfiguration(host: "127.0.0.1")
        configuration.usesTrackers = false
        let client = try await Client(configuration: configuration)
        let handle = try await client.addTorrent(torrent, downloadDirectory: empty)
        let peer = RawPeer(infoHash: handle.wireInfoHash, requests: [], stopsReading: false)
        try await peer.connect(port: client.port)
        #expect(await ClientFixtures.eventually { await client.peers(of: handle).first?.phase == .connected })

        // A full bitfield, then `unchoke`.
        let count = torrent.pieceCount
        var bits = [UInt8](repeating: 0xff, count: (count + 7) / 8)
        if count % 8 != 0 { bits[bits.count - 1] = UInt8(0xff << (8 - count % 8) & 0xff) }
        try await peer.send([0, 0, 0, UInt8(bits.count + 1), 5] + bits + [0, 0, 0, 1, 1])
        #expect(await ClientFixtures.eventually { await client.peers(of: handle).first?.peerChoking == false })
        let unchoked = try #require(await client.peers(of: handle).first)
        #expect(unchoked.peerInterested && unchoked.amInterested)
        #expect(unchoked.peerPieceCount == count && unchoked.isSeed && unchoked.isUploadOnly)
        #expect(unchoked.phase == .connected && unchoked.reputation == 100 && !unchoked.isOnParole)
        #expect(!unchoked.isEncrypted && !unchoked.isSnubbed)
        #expect(try await client.onLoop { core in core.connections.byKey.values.first?.unchokedUsAt != nil })

        // `choke`: the choker must no longer see the peer as one that unchoked us.
        try await peer.send([0, 0, 0, 1, 0])
        #expect(await ClientFixtures.eventually { await client.peers(of: handle).first?.peerChoking == true })
        #expect(try await client.onLoop { core in core.connections.byKey.values.first?.unchokedUsAt == nil })
        await peer.close()
        await client.shutdown()
    }

    /// The optimistic-unchoke flag is the choker's latest answer for every peer, including peers whose choke
    /// state the rechoke did not change.
    @Test func everyPeersOptimisticFlagFollowsTheLatestRechoke() async throws {
        let folder = try ClientFixtures.temporaryFolder("optimistic")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let torrent = try ClientFixtures.makeSingleFileTorrent(
            in: folder, name: "optimistic.bin", length: 256 * 1024, pieceLength: 64 * 1024)
        var configuration = ClientConfiguration(host: "127.0.0.1")
        configuration.usesTrackers = false
        let client = try await Client(configuration: configuration)
        let handle = try await client.addTorrent(torrent, downloadDirectory: folder)
        let peers = (0..<2).map { _ in RawPeer(infoHash: handle.wireInfoHash, requests: [], stopsReading: false) }
        for peer in peers { try await peer.connect(port: client.port) }
        // Both interested peers fit in the regular slots: both end unchoked.
        #expect(
            await ClientFixtures.eventually {
                let statuses = await client.peers(of: handle)
                return statuses.count == 2 && statuses.allSatisfy { !$0.amChoking }
            })
        // A stale flag on both; a rechoke that changes nobody's choke state must still correct it.
        let flagged = try await client.onLoop { core in
            guard let session = core.session(handle) else { return -1 }
            for connection in session.connections.values {
                _ = connection.withMachine { $0.isOptimisticUnchoke = true }
            }
            core.uploads.rechoke(session, now: core.loop.now)
            return session.connections.values.filter { $0.machine?.isOptimisticUnchoke == true }.count
        }
        #expect(flagged >= 0 && flagged <= 1, "the choker has one optimistic slot; \(flagged) peers claim it")
        #expect(await client.peers(of: handle).filter(\.isOptimisticUnchoke).count == flagged)
        for peer in peers { await peer.close() }
        await client.shutdown()
    }

    @Test func dialsWaitingForASlotAreQueuedAndAFullQueueIsReported() async throws {
        let folder = try ClientFixtures.temporaryFolder("queued")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let torrent = try ClientFixtures.makeSingleFileTorrent(
            in: folder, name: "queued.bin", length: 256 * 1024, pieceLength: 64 * 1024)
        var configuration = ClientConfiguration(host: "127.0.0.1")
        configuration.usesTrackers = false
        configuration.maximumHalfOpen = 1
        configuration.maximumQueuedConnections = 1
        configuration.transport = SlowConnectTransport()
        let client = try await Client(configuration: configuration)
        let reasons = Recorder<String>()
        client.events.on(.peerDisconnect) { event in
            if case .peerDisconnect(_, let reason) = event { reasons.append(reason.name) }
        }
        let handle = try await client.addTorrent(torrent, downloadDirectory: folder + "/empty")
        for port in [40001, 40002, 40003] { try await client.connect(host: "127.0.0.1", port: port, for: handle) }
        let peers = await client.peers(of: handle)
        #expect(peers.map(\.phase) == [.connecting, .queued])
        #expect(peers.map(\.endpoint.port) == [40001, 40002])
        #expect(reasons.values == ["queueFull"])
        // Both dials fail after a second (the transport's doing); then the client shuts down cleanly.
        #expect(await ClientFixtures.eventually { await client.peers(of: handle).isEmpty })
        await client.shutdown()
    }
}

/// A transport whose connections fail a second after they are started, so dials stay `connecting` for a while.
struct SlowConnectTransport: PeerTransport {
    func listen(
        host: String, port: Int, group: any EventLoopGroup,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) async throws -> any PeerListener {
        try await TCPTransport().listen(host: host, port: port, group: group, initializer: initializer)
    }

    func connect(
        host: String, port: Int, loop: any EventLoop, timeout: TimeAmount,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) -> EventLoopFuture<any Channel> {
        let promise = loop.makePromise(of: (any Channel).self)
        loop.scheduleTask(in: .seconds(1)) { promise.fail(ChannelError.connectTimeout(.seconds(1))) }
        return promise.futureResult
    }
}
