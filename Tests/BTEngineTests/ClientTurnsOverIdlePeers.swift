import BTMetainfo
import Foundation
import Testing

@testable import BTEngine

/// Peer turnover (issue 12's slot exhaustion): idle connections that fill a torrent's slots make room for
/// a newcomer, and the policy never drops a connection that trades or is still in its grace time.
@Suite struct ClientTurnsOverIdlePeers {
    typealias Turnover = PeerTurnover<Int>

    static func snapshot(
        _ peer: Int, connected: Int64, lastPayload: Int64? = nil, weInterested: Bool = true,
        peerInterested: Bool = true
    ) -> Turnover.PeerSnapshot {
        Turnover.PeerSnapshot(
            peer: peer, connectedAt: .seconds(connected), lastPayloadAt: lastPayload.map { .seconds($0) },
            weAreInterested: weInterested, peerInterested: peerInterested)
    }

    @Test func onlyIdleConnectionsPastTheirGraceAreChosenHopelessOnesFirst() {
        let turnover = Turnover()  // grace 60 s, idle after 60 s
        let now = EngineInstant.seconds(1_000)
        let peers = [
            Self.snapshot(1, connected: 100, lastPayload: 990),  // trading: never dropped
            Self.snapshot(2, connected: 980),  // in its grace time
            Self.snapshot(3, connected: 100, lastPayload: 500),  // idle since 500
            Self.snapshot(4, connected: 200, weInterested: false, peerInterested: false),  // nothing can flow
            Self.snapshot(5, connected: 100),  // idle since it connected at 100
        ]
        #expect(turnover.ranked(peers, now: now) == [4, 5, 3])
        #expect(turnover.victimForNewcomer(among: peers, now: now) == 4)
        #expect(turnover.victimForNewcomer(among: [peers[0], peers[1]], now: now) == nil)
    }

    @Test func periodicTurnoverRunsOnlyNearTheMaximumAndDropsAFraction() {
        let turnover = Turnover(configuration: .init(fraction: 0.1))
        let now = EngineInstant.seconds(1_000)
        let idle = (0..<50).map { Self.snapshot($0, connected: Int64($0)) }
        #expect(turnover.periodicVictims(among: Array(idle.prefix(44)), maximum: 50, now: now).isEmpty)
        #expect(turnover.periodicVictims(among: idle, maximum: 50, now: now) == [0, 1, 2, 3, 4])
        #expect(turnover.periodicVictims(among: Array(idle.prefix(2)), maximum: 2, now: now) == [0])
    }

    @Test func idlePeersHoldingEverySlotMakeRoomForAnHonestDownloader() async throws {
        let folder = try ClientFixtures.temporaryFolder("turnover")
        let leechFolder = try ClientFixtures.temporaryFolder("turnover-leech")
        defer {
            for path in [folder, leechFolder] { try? FileManager.default.removeItem(atPath: path) }
        }
        let torrent = try ClientFixtures.makeTorrent(in: folder)
        var configuration = ClientConfiguration(host: "127.0.0.80")
        configuration.usesTrackers = false
        configuration.maximumPeersPerTorrent = 4
        configuration.peerTurnover.grace = .milliseconds(500)
        configuration.peerTurnover.idleTime = .milliseconds(500)
        let seed = try await Client(configuration: configuration)
        let dropped = Recorder<String>()
        let refused = Recorder<String>()
        seed.events.on(.peerDisconnect) { event in
            guard case .peerDisconnect(let peer, let reason) = event else { return }
            if reason == .uselessPeer { dropped.append("\(peer.endpoint.address)") }
            if reason == .tooMany { refused.append("\(peer.endpoint.address)") }
        }
        let handle = try await seed.addTorrent(torrent, downloadDirectory: folder)
        // Four idle peers, each from its own address, take every slot: they handshake, say `interested` and
        // then say nothing more.
        var idle: [RawPeer] = []
        for index in 1...4 {
            let peer = RawPeer(infoHash: handle.wireInfoHash, requests: [], stopsReading: false)
            try await peer.connect(host: "127.0.0.80", port: seed.port, from: "127.0.0.8\(index)")
            idle.append(peer)
        }
        #expect(await ClientFixtures.eventually { await seed.peers(of: handle).count == 4 })
        // A fifth idle peer at once: the others are still in their grace time, so it is refused.
        let early = RawPeer(infoHash: handle.wireInfoHash, requests: [], stopsReading: false)
        try await early.connect(host: "127.0.0.80", port: seed.port, from: "127.0.0.85")
        #expect(await ClientFixtures.eventually { refused.values.contains("127.0.0.85") }, "\(refused.values)")
        await early.close()
        try await Task.sleep(for: .seconds(1))

        var honestConfiguration = ClientConfiguration(host: "127.0.0.86")
        honestConfiguration.usesTrackers = false
        let honest = try await Client(configuration: honestConfiguration)
        let download = try await honest.addTorrent(torrent, downloadDirectory: leechFolder)
        try await honest.connect(host: "127.0.0.80", port: seed.port, for: download)
        let status = await ClientFixtures.waitForCompletion(honest, download, limit: .seconds(60))
        #expect(status?.isComplete == true)
        #expect(dropped.values.count == 1, "\(dropped.values)")
        #expect(dropped.values.allSatisfy { $0.hasPrefix("127.0.0.8") && $0 != "127.0.0.86" })
        for peer in idle { await peer.close() }
        await honest.shutdown()
        await seed.shutdown()
    }
}
