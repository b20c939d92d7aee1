import BTMetainfo
import NIOCore
import Testing

@testable import BTWire

/// Automatic interest counts only the peer's pieces that are wanted and missing (BEP 3): a peer with only
/// unwanted pieces is not interesting, `setWantedPieces` changes that both ways, and a cancelled request is
/// no longer being served.
@Suite struct InterestFollowsWantedPieces {
    static func pair(wanted: Bitfield?) -> PeerPair {
        let content = PeerPair.content(size: 8 * 16384, seed: 3)
        var a = PeerPair.configuration(content: content, pieceLength: 16384, have: false, fast: true, peerIDByte: 1)
        a.wantedPieces = wanted
        var pair = PeerPair(
            a: a,
            b: PeerPair.configuration(content: content, pieceLength: 16384, have: false, fast: true, peerIDByte: 2),
            content: content)
        pair.connect()
        return pair
    }

    @Test func onlyWantedMissingPiecesMakeAPeerInteresting() {
        var wanted = Bitfield(count: 8)
        for piece in 0..<4 { wanted[piece] = true }
        var p = Self.pair(wanted: wanted)
        #expect(p.a.receive(message: .have(piece: 6), now: p.now).allSatisfy { $0 != .send(.interested) })
        #expect(!p.a.amInterested && !p.a.peerHasWantedPiece)
        #expect(p.a.receive(message: .have(piece: 2), now: p.now).contains(.send(.interested)))
        #expect(p.a.amInterested)
        // Piece 2 verified here: the peer has nothing wanted left.
        #expect(p.a.havePiece(2, now: p.now).contains(.send(.notInterested)))
        // Piece 6 wanted after all: interested again; nil wants everything.
        var more = wanted
        more[6] = true
        #expect(p.a.setWantedPieces(more, now: p.now).first == .send(.interested))
        #expect(p.a.setWantedPieces(wanted, now: p.now).first == .send(.notInterested))
        #expect(p.a.setWantedPieces(nil, now: p.now).first == .send(.interested))
        #expect(p.a.wantedPieces == nil)
    }

    @Test func aCancelledRequestIsNoLongerServedAndIsRejected() {
        let content = PeerPair.content(size: 8 * 16384, seed: 3)
        var p = PeerPair(
            a: PeerPair.configuration(content: content, pieceLength: 16384, have: true, fast: true, peerIDByte: 1),
            b: PeerPair.configuration(content: content, pieceLength: 16384, have: false, fast: true, peerIDByte: 2),
            content: content)
        p.connect()
        _ = p.a.unchoke(now: p.now)
        let request = BlockRequest(piece: 1, offset: 0, length: 16384)
        #expect(p.a.receive(message: .request(request), now: p.now).contains(.readBlock(request)))
        #expect(p.a.isServing(request))
        #expect(p.a.receive(message: .cancel(request), now: p.now).contains(.send(.reject(request))))
        #expect(!p.a.isServing(request))
    }
}
