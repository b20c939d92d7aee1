import BTMetainfo
import Testing

@testable import BTEngine

/// ``SuperSeeding`` (BEP 16) decides alone, with a hand-made swarm: each peer is offered pieces it lacks that
/// nobody has nor is offered (others only after it idled for the patience, the least offered and rarest first);
/// an offer is replaced only once the piece is seen at another peer (or the peer is alone, or the patience ran
/// out), and an offer the peer already had is replaced at once.
@Suite struct SuperSeedingOffersPiecesOnlyAsTheySpread {
    /// A swarm the test edits: what each peer has.
    final class Model {
        var pieces: [Int: Set<Int>] = [:]
        var swarm: SuperSeeding<Int>.Swarm {
            SuperSeeding<Int>.Swarm(
                peerHas: { [self] peer, piece in pieces[peer]?.contains(piece) ?? false },
                availability: { [self] piece in pieces.values.filter { $0.contains(piece) }.count })
        }
        func give(_ peer: Int, _ piece: Int) { pieces[peer, default: []].insert(piece) }
    }

    @Test func eachNewPeerIsOfferedDistinctPiecesItLacks() {
        let model = Model()
        var policy = SuperSeeding<Int>(pieceCount: 40)
        var offered: [Int] = []
        for peer in 0..<10 {
            model.pieces[peer] = []
            let offers = policy.peerJoined(peer, swarm: model.swarm, now: .zero)
            #expect(offers.count == 2)
            #expect(offers.allSatisfy { $0.peer == peer })
            offered += offers.map(\.piece)
        }
        // Twenty offers among forty pieces: none offered twice while unoffered pieces remain.
        #expect(Set(offered).count == 20)
    }

    @Test func onlyUnspreadPiecesAreOfferedUntilAPeerIdlesForThePatience() {
        let model = Model()
        model.pieces = [1: [0, 1, 2], 2: [0, 1, 3], 3: [0, 2, 3], 4: []]
        var policy = SuperSeeding<Int>(pieceCount: 5, offersPerPeer: 1, patience: .seconds(30))
        // Peer 1 lacks 3 (two peers have it) and 4 (nobody has it): only 4 is offered.
        #expect(policy.peerJoined(1, swarm: model.swarm, now: .zero).map(\.piece) == [4])
        // Peer 2 lacks 2 (spread) and 4 (offered to peer 1): nothing yet, it gets 2 from the swarm.
        #expect(policy.peerJoined(2, swarm: model.swarm, now: .zero).isEmpty)
        model.pieces[5] = [0, 1, 2, 3, 4]
        #expect(policy.peerJoined(5, swarm: model.swarm, now: .zero).isEmpty)
        #expect(policy.tick(swarm: model.swarm, now: .seconds(29)).isEmpty)
        // Idle for the patience: peer 2 is offered the least offered, rarest piece it lacks.
        #expect(policy.tick(swarm: model.swarm, now: .seconds(30)) == [.init(peer: 2, piece: 2)])
    }

    @Test func nextOfferWaitsUntilThePieceIsSeenAtAnotherPeer() {
        let model = Model()
        model.pieces = [1: [], 2: []]
        var policy = SuperSeeding<Int>(pieceCount: 8, offersPerPeer: 1)
        let first = policy.peerJoined(1, swarm: model.swarm, now: .zero)[0].piece
        let second = policy.peerJoined(2, swarm: model.swarm, now: .zero)[0].piece
        #expect(first != second)

        // Peer 1 completes its piece: no new offer yet, the piece has not spread.
        model.give(1, first)
        #expect(policy.peerAnnounced(1, piece: first, swarm: model.swarm, now: .seconds(1)).isEmpty)
        #expect(policy.offers(to: 1) == [first])

        // Peer 2 announces the same piece (it got it from peer 1): peer 1 is offered its next piece.
        model.give(2, first)
        let next = policy.peerAnnounced(2, piece: first, swarm: model.swarm, now: .seconds(2))
        #expect(next.count == 1 && next[0].peer == 1)
        #expect(!model.pieces[1]!.contains(next[0].piece))
        #expect(policy.offers(to: 1) == [next[0].piece])
        // Peer 2's own offer stands: it has not completed it.
        #expect(policy.offers(to: 2) == [second])
    }

    @Test func pieceAlreadySpreadWhenThePeerCompletesItIsReplacedAtOnce() {
        let model = Model()
        model.pieces = [1: [], 2: []]
        var policy = SuperSeeding<Int>(pieceCount: 8, offersPerPeer: 1)
        let piece = policy.peerJoined(1, swarm: model.swarm, now: .zero)[0].piece
        _ = policy.peerJoined(2, swarm: model.swarm, now: .zero)
        model.give(2, piece)  // peer 2 got it from peer 1 first
        model.give(1, piece)
        let next = policy.peerAnnounced(1, piece: piece, swarm: model.swarm, now: .seconds(1))
        #expect(next.map(\.peer) == [1])
    }

    @Test func offerThePeerAlreadyHadIsReplacedWhenItsBitfieldArrives() {
        let model = Model()
        model.pieces = [1: []]
        var policy = SuperSeeding<Int>(pieceCount: 4, offersPerPeer: 1)
        let piece = policy.peerJoined(1, swarm: model.swarm, now: .zero)[0].piece
        model.pieces[1] = [piece]  // its bitfield came after our first offer
        let next = policy.peerAnnounced(1, swarm: model.swarm, now: .zero)
        #expect(next.count == 1 && next[0].piece != piece)
        #expect(!policy.isOffered(piece, to: 1))
    }

    @Test func lonePeerGetsItsNextPieceWhenItCompletesOne() {
        let model = Model()
        model.pieces = [1: []]
        var policy = SuperSeeding<Int>(pieceCount: 3, offersPerPeer: 1)
        var piece = policy.peerJoined(1, swarm: model.swarm, now: .zero)[0].piece
        for _ in 0..<2 {
            model.give(1, piece)
            let next = policy.peerAnnounced(1, piece: piece, swarm: model.swarm, now: .zero)
            #expect(next.count == 1)
            piece = next[0].piece
        }
        model.give(1, piece)
        #expect(policy.peerAnnounced(1, piece: piece, swarm: model.swarm, now: .zero).isEmpty)
        #expect(model.pieces[1] == [0, 1, 2])
    }

    @Test func completedOfferNobodyTakesIsReplacedAfterThePatience() {
        let model = Model()
        model.pieces = [1: [], 2: []]
        var policy = SuperSeeding<Int>(pieceCount: 8, offersPerPeer: 1, patience: .seconds(30))
        let piece = policy.peerJoined(1, swarm: model.swarm, now: .zero)[0].piece
        _ = policy.peerJoined(2, swarm: model.swarm, now: .zero)
        model.give(1, piece)
        #expect(policy.peerAnnounced(1, piece: piece, swarm: model.swarm, now: .seconds(10)).isEmpty)
        #expect(policy.tick(swarm: model.swarm, now: .seconds(39)).isEmpty)
        let next = policy.tick(swarm: model.swarm, now: .seconds(40))
        #expect(next.map(\.peer) == [1] && next[0].piece != piece)
    }

    @Test func peerThatLeftFreesItsOffersForOthers() {
        let model = Model()
        model.pieces = [1: [], 2: []]
        var policy = SuperSeeding<Int>(pieceCount: 1, offersPerPeer: 1)
        #expect(policy.peerJoined(1, swarm: model.swarm, now: .zero).map(\.piece) == [0])
        // The only piece is offered to peer 1: peer 2 waits.
        #expect(policy.peerJoined(2, swarm: model.swarm, now: .zero).isEmpty)
        policy.peerLeft(1)
        #expect(policy.peers == [2])
        #expect(policy.offers(to: 1).isEmpty)
        // The next tick offers the freed piece to peer 2.
        #expect(policy.tick(swarm: model.swarm, now: .seconds(1)) == [.init(peer: 2, piece: 0)])
    }

    @Test func announcementsOutOfRangeChangeNothing() {
        let model = Model()
        model.pieces = [1: []]
        var policy = SuperSeeding<Int>(pieceCount: 4)
        _ = policy.peerJoined(1, swarm: model.swarm, now: .zero)
        let before = policy.offers(to: 1)
        #expect(policy.peerAnnounced(1, piece: -1, swarm: model.swarm, now: .zero).isEmpty)
        #expect(policy.peerAnnounced(1, piece: 4, swarm: model.swarm, now: .zero).isEmpty)
        #expect(policy.offers(to: 1) == before)
    }
}
