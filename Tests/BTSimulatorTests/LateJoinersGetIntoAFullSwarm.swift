import BTSimulator
import NIOCore
import Testing

/// Peers that join a swarm whose every peer is at its connection limit still get in and complete: a full peer
/// makes room for a newcomer that ranks above its lowest-ranked connection (BEP 40 canonical priority, as
/// libtorrent's `attach_peer`), and peers that become seeds drop their seed connections at once. The
/// newcomers of this swarm used to get nothing in 90 s: the virtual network gave accepted channels no remote
/// address, so every incoming connection came from 0.0.0.0 and, after the first burst, all were refused as
/// one address past its accept rate (stop 15 found it; the engine was right, the simulator was not).
@Suite struct LateJoinersGetIntoAFullSwarm {
    @Test func newcomersToAFullSwarmComplete() async throws {
        // 100 peers fill each other's 50 slots within a second; three more join at 3 s, while everyone trades.
        var configuration = SwarmConfiguration.swarm(
            seeds: 1, leechers: 99, contentSize: 512 * 1024, pieceLength: 64 * 1024, seed: 18)
        for _ in 0..<3 { configuration.peers.append(PeerSpec(role: .leecher, joinsAt: .seconds(3))) }
        configuration.deadline = .seconds(90)
        let result = try await Swarm(configuration).run()
        let newcomers = result.peers.suffix(3)
        let early = result.peers.filter { $0.role == .leecher && $0.joinedAt == 0 }
        let lastEarly = early.compactMap(\.completedAt).max() ?? .infinity
        print(
            "late joiners: early peers' last completion \(lastEarly) s; newcomers joined at 3 s, completed at "
                + "\(newcomers.map { $0.completedAt ?? -1 }) s, blocks from \(newcomers.map(\.sources)) peers "
                + "(wall \(result.wallSeconds) s)")
        #expect(early.allSatisfy { $0.completedAt != nil })
        for newcomer in newcomers {
            #expect(newcomer.completedAt != nil, "newcomer \(newcomer.index) completed")
            #expect(newcomer.holdsCorrectCopy)
            // Early peers complete in about 5 s; 40 s leaves room for redial back-off and the choker's rounds.
            #expect((newcomer.completedAt ?? .infinity) - newcomer.joinedAt < 40)
        }
    }
}
