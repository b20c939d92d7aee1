import BTSimulator
import Foundation
import Testing

/// Two runs of one seed give identical results, peer by peer. The engine keeps peers in dictionaries, whose
/// order depends on memory addresses unless the process starts with `SWIFT_DETERMINISTIC_HASHING=1`, so
/// the test runs only then (`Tests/cli/simulate.sh` runs `nbt simulate` twice that way in every test run).
@Suite struct SwarmRunsRepeatExactly {
    @Test(.enabled(if: Swarm.hashingIsDeterministic, "needs SWIFT_DETERMINISTIC_HASHING=1 at launch"))
    func twoRunsOfOneSeedAreIdentical() async throws {
        var configuration = SwarmConfiguration.swarm(
            seeds: 1, leechers: 19, freeRiders: 2, liars: 2,
            profile: NodeProfile(loss: 0.01), contentSize: 512 * 1024, pieceLength: 64 * 1024, seed: 5)
        configuration.peers[19].joinsAt = .seconds(2)
        configuration.peers[18].leavesAt = .seconds(3)
        let first = try await Swarm(configuration).run()
        let second = try await Swarm(configuration).run()
        #expect(first.withoutWallTime == second.withoutWallTime)
        #expect(first.peers.contains { $0.completedAt != nil })
    }

    @Test func anotherSeedGivesAnotherRun() async throws {
        let one = try await Swarm(.swarm(leechers: 6, contentSize: 256 * 1024, pieceLength: 32 * 1024, seed: 1)).run()
        let two = try await Swarm(.swarm(leechers: 6, contentSize: 256 * 1024, pieceLength: 32 * 1024, seed: 2)).run()
        #expect(one.allCompleted && two.allCompleted)
        #expect(one.withoutWallTime != two.withoutWallTime)
    }

    @Test func aSwarmWithoutASeedIsATypedError() async {
        await #expect(throws: SimulationError.self) {
            _ = try await Swarm(SwarmConfiguration(peers: [PeerSpec()])).run()
        }
    }
}
