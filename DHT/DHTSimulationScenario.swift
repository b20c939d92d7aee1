import NIOCore

/// The measurement the DHT issue asks for, run on a ``DHTSimulation``: nodes join one by one, some
/// announce torrents, then a share of the nodes leaves and as many new ones join while other nodes look the
/// torrents up. Shared by the tests (a few hundred nodes) and `Benchmarks/dht/run` (10,000).
public struct DHTSimulationScenario: Sendable {
    /// Nodes in the network before churn.
    public var nodeCount: Int
    /// Torrents announced.
    public var torrents: Int
    /// `get_peers` lookups measured.
    public var lookups: Int
    /// Share of the nodes that leave (and are replaced by as many new ones) during the lookup phase.
    public var churn: Double
    /// Virtual time between two joins.
    public var joinSpacing: TimeAmount
    /// Virtual length of the lookup phase.
    public var lookupPhase: TimeAmount
    /// The network's settings.
    public var network: DHTSimulation.Configuration
    /// Virtual time between the last join and the announces. The default minute leaves tables about as
    /// full as a node's first minutes online; a longer settling models nodes that have run for a while
    /// (real ones run for hours, where this run compresses 10,000 joins into 200 s).
    public var settle: TimeAmount = .seconds(60)
    /// After the joins, every node looks up its own id once more (the neighbourhood refresh a node does
    /// as it runs; the joins here are compressed into minutes).
    public var refreshAfterJoin = false

    /// Creates a scenario.
    public init(
        nodeCount: Int, torrents: Int = 20, lookups: Int = 200, churn: Double = 0.2,
        joinSpacing: TimeAmount = .milliseconds(20), lookupPhase: TimeAmount = .seconds(300),
        network: DHTSimulation.Configuration = .init()
    ) {
        self.nodeCount = nodeCount
        self.torrents = torrents
        self.lookups = lookups
        self.churn = churn
        self.joinSpacing = joinSpacing
        self.lookupPhase = lookupPhase
        self.network = network
    }

    /// What a run measured.
    public struct Report: Sendable, CustomStringConvertible {
        /// Lookups finished.
        public var lookups = 0
        /// Lookups that found the announcer.
        public var successes = 0
        /// Nodes that left and joined during the lookup phase.
        public var churned = 0
        /// Hops per lookup, sorted.
        public var rounds: [Int] = []
        /// Queries per lookup, sorted.
        public var messages: [Int] = []
        /// Lookup durations in milliseconds, sorted.
        public var durations: [Double] = []
        /// Milliseconds until the first peers arrived, sorted (successful lookups only).
        public var firstPeers: [Double] = []
        /// Datagrams sent in the whole run, and lost.
        public var datagrams = 0
        /// Datagrams lost.
        public var lost = 0
        /// Datagrams sent per node and minute online, over the whole run (lookups, answers and table upkeep).
        public var datagramsPerNodeMinute = 0.0
        /// Mean routing table size (live nodes) at the end.
        public var meanTableSize = 0.0
        /// Per lookup, how many of the 8 nodes truly closest to the target it ended with.
        public var closestFound: [Int] = []
        /// Lookups that hit the lookup timeout.
        public var timedOut = 0
        /// Failed lookups whose torrent no online node stored any more (the storing nodes had all left).
        public var failedStorersGone = 0
        /// Failed lookups whose torrent was still stored online, but on no node the lookup ended with
        /// among its closest (the storing nodes were never reached).
        public var failedStorersMissed = 0
        /// Failed lookups that did get an answer from a storing node (its peers did not include the
        /// announcer).
        public var failedStorerAnswered = 0
        /// Per torrent, the nodes that stored it right after the announce phase, and how many of them were
        /// among the 8 closest online nodes to its info-hash.
        public var storers: [Int] = []
        /// See ``storers``.
        public var storersAmongTrueClosest: [Int] = []

        func mean(_ values: [Int]) -> Double {
            values.isEmpty ? 0 : Double(values.reduce(0, +)) / Double(values.count)
        }

        /// Share of lookups that found the announcer.
        public var successRate: Double { lookups == 0 ? 0 : Double(successes) / Double(lookups) }

        static func percentile<V: Comparable>(_ values: [V], _ p: Double) -> V? {
            values.isEmpty ? nil : values[min(values.count - 1, Int(Double(values.count) * p))]
        }

        /// The value at percentile `p` (0...1) of a sorted list.
        public func median(_ keyPath: KeyPath<Report, [Double]>, _ p: Double = 0.5) -> Double {
            Self.percentile(self[keyPath: keyPath], p) ?? .nan
        }

        public var description: String {
            let meanMessages = messages.isEmpty ? 0 : Double(messages.reduce(0, +)) / Double(messages.count)
            let meanRounds = rounds.isEmpty ? 0 : Double(rounds.reduce(0, +)) / Double(rounds.count)
            return """
                lookups \(lookups), success \(successes) (\(format2(successRate * 100)) %), churned \(churned), timed out \(timedOut)
                rounds: mean \(format2(meanRounds)), median \(Self.percentile(rounds, 0.5) ?? 0), p90 \(Self.percentile(rounds, 0.9) ?? 0)
                queries per lookup: mean \(format2(meanMessages)), median \(Self.percentile(messages, 0.5) ?? 0), p90 \(Self.percentile(messages, 0.9) ?? 0)
                get_peers time (ms): median \(format2(median(\.durations))), p90 \(format2(median(\.durations, 0.9)))
                first peers (ms): median \(format2(median(\.firstPeers))), p90 \(format2(median(\.firstPeers, 0.9)))
                true 8 closest found: mean \(format2(Double(closestFound.reduce(0, +)) / Double(max(1, closestFound.count)))) of 8
                datagrams \(datagrams), lost \(lost), per node and minute \(format2(datagramsPerNodeMinute)), mean table size \(format2(meanTableSize))
                failures: storers gone \(failedStorersGone), storers online but not reached \(failedStorersMissed), storer answered \(failedStorerAnswered)
                announces: storing nodes per torrent mean \(format2(mean(storers))), of them among the true 8 closest mean \(format2(mean(storersAmongTrueClosest)))
                """
        }
    }

    /// Runs the scenario and returns what it measured.
    public func run() -> Report {
        var simulation = DHTSimulation(configuration: network)
        var random = DHTRandom(seed: network.seed ^ 0x5eed)
        for _ in 0..<nodeCount {
            simulation.addNode()
            simulation.run(for: joinSpacing)
        }
        simulation.run(for: settle)
        if refreshAfterJoin {
            for node in simulation.online.sorted() {
                if let id = simulation.node(node)?.localID { simulation.findNode(at: node, target: id) }
                simulation.run(for: .milliseconds(5))
            }
            simulation.run(for: .seconds(30))
        }
        _ = simulation.takeResults()

        // Announce: each torrent by one node, on TCP port 6881.
        var announcers: [(node: Int, infoHash: NodeID)] = []
        for _ in 0..<torrents {
            let node = Int.random(in: 0..<simulation.nodeCount, using: &random)
            let infoHash = NodeID.random(using: &random)
            simulation.getPeers(at: node, infoHash: infoHash, announce: DHTAnnounce(port: 6881))
            announcers.append((node, infoHash))
        }
        simulation.run(for: .seconds(30))
        _ = simulation.takeResults()
        let protected = Set(announcers.map(\.node))

        var report = Report()
        for (_, infoHash) in announcers {
            let storing = Set(simulation.storers(of: infoHash))
            let truth = simulation.closestOnline(to: infoHash, count: 8)
            report.storers.append(storing.count)
            report.storersAmongTrueClosest.append(truth.filter { storing.contains($0) }.count)
        }

        // Lookups and churn, spread evenly over the phase.
        let churnCount = Int(Double(nodeCount) * churn)
        let events = max(lookups, churnCount)
        let step = TimeAmount.nanoseconds(lookupPhase.nanoseconds / Int64(max(1, events)))
        var expected: [String: Int] = [:]
        for e in 0..<events {
            if e * churnCount / events != (e + 1) * churnCount / events {
                // One leaves (never an announcer: it would re-announce), one joins.
                let candidates = simulation.online.subtracting(protected)
                if let leaving = candidates.sorted().randomElement(using: &random) {
                    simulation.removeNode(leaving)
                    simulation.addNode()
                    report.churned += 1
                }
            }
            if e * lookups / events != (e + 1) * lookups / events {
                let target = Int.random(in: 0..<announcers.count, using: &random)
                let online = simulation.online.subtracting([announcers[target].node]).sorted()
                if let node = online.randomElement(using: &random),
                    let id = simulation.getPeers(at: node, infoHash: announcers[target].infoHash)
                {
                    expected["\(node)/\(id.rawValue)"] = target
                }
            }
            simulation.run(for: step)
        }
        simulation.run(for: .seconds(40))
        for (node, result) in simulation.takeResults() {
            guard case .getPeers(nil) = result.kind, let target = expected["\(node)/\(result.id.rawValue)"] else {
                continue
            }
            report.lookups += 1
            let announcer = DHTEndpoint(ip: simulation.endpoint(of: announcers[target].node).ip, port: 6881)
            if result.peers.contains(announcer) {
                report.successes += 1
                if let first = result.firstPeersAfter { report.firstPeers.append(Double(first.nanoseconds) / 1e6) }
            } else {
                // Why it failed: were the storing nodes gone, or never reached?
                let storing = Set(simulation.storers(of: result.target).map { simulation.endpoint(of: $0) })
                if storing.isEmpty {
                    report.failedStorersGone += 1
                } else if result.closest.contains(where: { storing.contains($0.endpoint) }) {
                    report.failedStorerAnswered += 1
                } else {
                    report.failedStorersMissed += 1
                }
            }
            if result.timedOut { report.timedOut += 1 }
            report.rounds.append(result.rounds)
            report.messages.append(result.queriesSent)
            report.durations.append(Double(result.duration.nanoseconds) / 1e6)
            // How many of the k nodes truly closest to the target (among those online) the lookup found.
            let truth = simulation.online.compactMap { simulation.node($0)?.localID }
                .sorted { result.target.isCloser($0, than: $1) }.prefix(8)
            let found = Set(result.closest.map(\.id))
            report.closestFound.append(truth.filter { found.contains($0) }.count)
        }
        report.rounds.sort()
        report.messages.sort()
        report.durations.sort()
        report.firstPeers.sort()
        report.datagrams = simulation.datagramsSent
        report.lost = simulation.datagramsLost
        report.datagramsPerNodeMinute =
            Double(simulation.datagramsSent) / max(1, Double(simulation.nodeTime.nanoseconds) / 60e9)
        let online = simulation.online
        report.meanTableSize =
            Double(online.reduce(0) { $0 + (simulation.node($1)?.routingTable.count ?? 0) })
            / Double(max(1, online.count))
        return report
    }
}

/// A Sybil attack on one info-hash (the issue's poisoning scenario): attackers take ids right next to
/// it, make themselves known, and answer every lookup with each other and a poisoned peer; then the
/// torrent is announced and looked up. With BEP 42 enforced, ids that do not match their address are
/// refused and the attack comes to nothing.
public struct DHTSybilScenario: Sendable {
    /// Honest nodes.
    public var nodeCount: Int
    /// Attacking nodes, each at its own address.
    public var sybils: Int
    /// Honest nodes each attacker pings to get known.
    public var contactsPerSybil: Int
    /// Lookups measured.
    public var lookups: Int
    /// The network (its node configuration decides enforcement).
    public var network: DHTSimulation.Configuration

    /// Creates a scenario.
    public init(
        nodeCount: Int, sybils: Int = 32, contactsPerSybil: Int = 50, lookups: Int = 50,
        network: DHTSimulation.Configuration
    ) {
        self.nodeCount = nodeCount
        self.sybils = sybils
        self.contactsPerSybil = contactsPerSybil
        self.lookups = lookups
        self.network = network
    }

    /// What the attack achieved.
    public struct Report: Hashable, Sendable, CustomStringConvertible {
        /// Lookups finished.
        public var lookups = 0
        /// Lookups that found the real announcer.
        public var found = 0
        /// Lookups that found only the poisoned peer.
        public var poisoned = 0
        /// Attackers that made it into honest routing tables (entries summed over nodes).
        public var sybilTableEntries = 0

        public var description: String {
            "lookups \(lookups), found the announcer \(found), poisoned only \(poisoned), attacker entries in honest tables \(sybilTableEntries)"
        }
    }

    /// Runs the attack.
    public func run() -> Report {
        var simulation = DHTSimulation(configuration: network)
        var random = DHTRandom(seed: network.seed ^ 0x5b11)
        for _ in 0..<nodeCount {
            simulation.addNode()
            simulation.run(for: .milliseconds(20))
        }
        simulation.run(for: .seconds(30))
        let infoHash = NodeID.random(using: &random)
        let poison = DHTEndpoint(ip: .v4(0x0606_0606), port: 666)
        var sybilIDs: Set<NodeID> = []
        for _ in 0..<sybils {
            // Ids sharing 40 leading bits with the target: closer than any honest node.
            let id = infoHash.keepingPrefix(40, rest: NodeID.random(using: &random))
            sybilIDs.insert(id)
            simulation.addSybil(id: id, poison: poison, contacts: contactsPerSybil)
        }
        simulation.run(for: .seconds(30))
        let announcer = 0
        simulation.getPeers(at: announcer, infoHash: infoHash, announce: DHTAnnounce(port: 6881))
        simulation.run(for: .seconds(30))
        _ = simulation.takeResults()
        var report = Report()
        for _ in 0..<lookups {
            let node = Int.random(in: 1..<nodeCount, using: &random)
            simulation.getPeers(at: node, infoHash: infoHash)
            simulation.run(for: .milliseconds(500))
        }
        simulation.run(for: .seconds(40))
        let real = DHTEndpoint(ip: simulation.endpoint(of: announcer).ip, port: 6881)
        for (_, result) in simulation.takeResults() {
            report.lookups += 1
            if result.peers.contains(real) {
                report.found += 1
            } else if result.peers.contains(poison) {
                report.poisoned += 1
            }
        }
        for index in 0..<nodeCount {
            report.sybilTableEntries +=
                simulation.node(index)?.routingTable.nodes.filter { sybilIDs.contains($0.info.id) }.count ?? 0
        }
        return report
    }
}

func format2(_ value: Double) -> String {
    guard value.isFinite else { return "-" }
    let scaled = (value * 100).rounded()
    let whole = Int(scaled) / 100
    let fraction = abs(Int(scaled)) % 100
    return "\(whole).\(fraction < 10 ? "0" : "")\(fraction)"
}
