import BTDHT
import NIOCore
import Testing

@Suite struct SimulatedNetworkFindsAnnouncedPeersUnderChurn {
    /// 300 nodes, round trips of 20–400 ms, 1 % loss, 20 % of the nodes replaced while 100 lookups run:
    /// every lookup finds its announcer within a few hops (none misses the storing nodes); the first peers
    /// arrive in under 300 ms of virtual time (median; 193 ms measured, 228 ms before α = 5, aggressive
    /// lookups and bucket refreshes), the whole lookup converges in under 2 s (1.1 s measured, 1.5 s before).
    @Test func threeHundredNodesWithChurn() {
        let scenario = DHTSimulationScenario(
            nodeCount: 300, torrents: 10, lookups: 100, churn: 0.2, lookupPhase: .seconds(120),
            network: DHTSimulation.Configuration(seed: 7, lossRate: 0.01))
        let report = scenario.run()
        print(report)
        #expect(report.lookups == 100)
        #expect(report.churned == 60)
        #expect(report.successRate >= 0.99)
        #expect(report.failedStorersMissed == 0)
        #expect(report.median(\.firstPeers) < 300)
        #expect(report.median(\.durations) < 2000)
        #expect(report.timedOut == 0)
    }

    /// The same seed replays the same run.
    @Test func runsAreDeterministic() {
        let scenario = DHTSimulationScenario(
            nodeCount: 60, torrents: 3, lookups: 10, churn: 0.1, lookupPhase: .seconds(20),
            network: DHTSimulation.Configuration(seed: 3))
        let one = scenario.run()
        let two = scenario.run()
        #expect(one.messages == two.messages)
        #expect(one.durations == two.durations)
        #expect(one.datagrams == two.datagrams)
    }
}

@Suite struct SybilsNextToATorrentArePowerlessUnderBEP42 {
    static func run(enforce: Bool) -> DHTSybilScenario.Report {
        var network = DHTSimulation.Configuration(seed: 5, lossRate: 0)
        network.node.routingTable.enforceSecureIDs = enforce
        return DHTSybilScenario(nodeCount: 200, sybils: 16, contactsPerSybil: 40, lookups: 30, network: network).run()
    }

    /// Without enforcement, attackers with ids next to the info-hash capture the lookups; with BEP 42
    /// enforced they never enter a table or a lookup, and every lookup finds the real announcer.
    @Test func enforcementDefeatsTheAttack() {
        let open = Self.run(enforce: false)
        let enforced = Self.run(enforce: true)
        print("BEP 42 off: \(open)\nBEP 42 on: \(enforced)")
        #expect(open.poisoned > open.lookups / 2)
        #expect(open.sybilTableEntries > 0)
        #expect(enforced.found == enforced.lookups && enforced.lookups == 30)
        #expect(enforced.sybilTableEntries == 0)
    }
}
