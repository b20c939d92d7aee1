import BTEngine
import Testing

/// Rechoking on a virtual clock: tit-for-tat, optimistic rotation, anti-snubbing, round-robin seeding.
@Suite struct ChokerUnchokesFastestAndRotates {
    typealias Snapshot = Choker<Int>.PeerSnapshot

    func leecher(_ peer: Int, rate: Int, interested: Bool = true, connectedAt: EngineInstant = .zero) -> Snapshot {
        Snapshot(peer: peer, isInterested: interested, downloadRate: rate, connectedAt: connectedAt)
    }

    @Test func leechingUnchokesTheFourFastestUploadersPlusOneOptimistic() {
        var choker = Choker<Int>()
        var random = SeededGenerator(seed: 1)
        let peers = (1...8).map { leecher($0, rate: $0 * 100, interested: $0 != 8) }
        let result = choker.rechoke(now: .seconds(100), peers: peers, seeding: false, using: &random)
        #expect(result.unchoked.isSuperset(of: [4, 5, 6, 7]))
        #expect(result.unchoked.count == 5 && result.optimistic.count == 1)
        #expect(result.optimistic.isSubset(of: [1, 2, 3]))
        #expect(!result.unchoked.contains(8), "a peer that is not interested stays choked")
        #expect(Set(result.decisions) == Set(result.unchoked.map { .unchoke($0) }))
        #expect(result.nextRechoke == .seconds(110))

        // Same inputs ten seconds later: nothing changes.
        let again = choker.rechoke(now: .seconds(110), peers: peers, seeding: false, using: &random)
        #expect(again.decisions.isEmpty && again.unchoked == result.unchoked)

        // Peer 1 starts uploading fastest: it takes the slot of the slowest regular peer, 4.
        var faster = peers
        faster[0] = leecher(1, rate: 10_000)
        let third = choker.rechoke(now: .seconds(120), peers: faster, seeding: false, using: &random)
        #expect(third.unchoked.isSuperset(of: [1, 5, 6, 7]))
    }

    @Test func theOptimisticUnchokeRotatesEveryThirtySeconds() {
        var choker = Choker<Int>()
        var random = SeededGenerator(seed: 2)
        let peers = (1...6).map { leecher($0, rate: $0 * 100) }  // 3...6 regular, 1 or 2 optimistic
        var optimistic: [Set<Int>] = []
        for second in stride(from: 100, through: 190, by: 10) {
            let result = choker.rechoke(now: .seconds(Int64(second)), peers: peers, seeding: false, using: &random)
            optimistic.append(result.optimistic)
        }
        // Rechokes at 100...190: the slot changes at 130 and 160 and 190, and only then.
        for index in 1..<optimistic.count {
            let rotated = optimistic[index] != optimistic[index - 1]
            #expect(rotated == (index % 3 == 0), "rechoke \(index): \(optimistic)")
        }
    }

    @Test func newlyConnectedPeersAreThreeTimesAsLikelyToBeOptimisticallyUnchoked() {
        var newPeerWins = 0
        let trials = 600
        for seed in 0..<UInt64(trials) {
            var choker = Choker<Int>(
                configuration: {
                    var configuration = Choker<Int>.Configuration()
                    configuration.regularSlots = 0
                    return configuration
                }())
            var random = SeededGenerator(seed: seed)
            let now = EngineInstant.seconds(1000)
            let peers = [
                leecher(1, rate: 0, connectedAt: .seconds(10)), leecher(2, rate: 0, connectedAt: .seconds(10)),
                leecher(3, rate: 0, connectedAt: .seconds(10)), leecher(4, rate: 0, connectedAt: .seconds(990)),
            ]
            let result = choker.rechoke(now: now, peers: peers, seeding: false, using: &random)
            if result.optimistic == [4] { newPeerWins += 1 }
        }
        // Expected 3/6 of the draws; the seeded run is deterministic, the bounds are generous.
        #expect((240...360).contains(newPeerWins), "new peer won \(newPeerWins) of \(trials)")
    }

    @Test func aSnubbingPeerLosesItsRegularSlotAndTheOptimisticSlotsGrow() {
        var choker = Choker<Int>()
        var random = SeededGenerator(seed: 3)
        func snapshot(_ peer: Int, rate: Int, lastBlock: EngineInstant) -> Snapshot {
            Snapshot(
                peer: peer, isInterested: true, weAreInterested: true, downloadRate: rate, connectedAt: .zero,
                unchokedUsAt: .zero, lastBlockAt: lastBlock)
        }
        // At 50 s nobody is snubbing yet: 4 fastest are regular.
        var peers = [
            snapshot(1, rate: 900, lastBlock: .seconds(0)), snapshot(2, rate: 800, lastBlock: .seconds(0)),
            snapshot(3, rate: 300, lastBlock: .seconds(45)), snapshot(4, rate: 200, lastBlock: .seconds(45)),
            snapshot(5, rate: 100, lastBlock: .seconds(45)),
        ]
        let before = choker.rechoke(now: .seconds(50), peers: peers, seeding: false, using: &random)
        #expect(before.snubbed.isEmpty && before.unchoked.isSuperset(of: [1, 2, 3, 4]))
        // At 60 s peers 1 and 2 have sent nothing for 60 s: snubbed, no regular slot. Only three peers can
        // hold the four regular slots; the empty one becomes a second optimistic slot.
        peers[2] = snapshot(3, rate: 300, lastBlock: .seconds(59))
        peers[3] = snapshot(4, rate: 200, lastBlock: .seconds(59))
        peers[4] = snapshot(5, rate: 100, lastBlock: .seconds(59))
        let after = choker.rechoke(now: .seconds(60), peers: peers, seeding: false, using: &random)
        #expect(after.snubbed == [1, 2])
        #expect(after.optimistic == [1, 2], "3, 4, 5 hold regular slots; the snubbed peers fill the optimistic ones")
        #expect(after.unchoked == [1, 2, 3, 4, 5])
    }

    @Test func seedingRotatesSlotsSoEveryInterestedPeerGetsAFairShare() {
        var configuration = Choker<Int>.Configuration()
        configuration.optimisticSlots = 0
        var choker = Choker<Int>(configuration: configuration)
        var random = SeededGenerator(seed: 4)
        let peers = (1...8).map {
            Snapshot(peer: $0, isInterested: true, uploadRate: $0 * 1000, connectedAt: .seconds(Int64($0)))
        }
        var unchokedTime: [Int: Int] = [:]
        for second in stride(from: 10, to: 610, by: 10) {
            let result = choker.rechoke(now: .seconds(Int64(second)), peers: peers, seeding: true, using: &random)
            #expect(result.unchoked.count == 4)
            for peer in result.unchoked { unchokedTime[peer, default: 0] += 10 }
        }
        let shares = (1...8).map { unchokedTime[$0] ?? 0 }
        #expect(shares.min()! >= 270 && shares.max()! <= 330, "each peer ~300 s of 600: \(shares)")
    }

    @Test func departedPeersAreForgottenAndChokedPeersAreReported() {
        var choker = Choker<Int>()
        var random = SeededGenerator(seed: 5)
        let peers = (1...3).map { leecher($0, rate: $0) }
        _ = choker.rechoke(now: .seconds(10), peers: peers, seeding: false, using: &random)
        #expect(choker.unchoked == [1, 2, 3])
        let notInterested = [leecher(1, rate: 1, interested: false), leecher(2, rate: 2)]
        let result = choker.rechoke(now: .seconds(20), peers: notInterested, seeding: false, using: &random)
        #expect(result.decisions == [.choke(1)], "peer 3 left: no message; peer 1 lost interest: choked")
        #expect(choker.unchoked == [2])
    }
}
