import BTMetainfo
import NIOCore
import Testing

@testable import BTWire

/// A choked peer may fetch a piece we allowed fast (BEP 6), but not request it again and again: as
/// libtorrent does (`too_many_requests_when_choked`), more than 3 times the piece's blocks of requests for
/// one allowed-fast piece while choked end the connection with `requestFlood`, cancelled ones included (a
/// request+cancel flood costs the seed a read and a reject per pair, and no output bound sees it coming).
@Suite struct AllowedFastFloodsAreCutOff {
    static func seedAndLeecher(pieceLength: Int) -> PeerPair {
        let content = PeerPair.content(size: pieceLength * 8, seed: 5)
        var pair = PeerPair(
            a: PeerPair.configuration(
                content: content, pieceLength: pieceLength, have: false, fast: true, peerIDByte: 1),
            b: PeerPair.configuration(
                content: content, pieceLength: pieceLength, have: true, fast: true, peerIDByte: 2),
            content: content)
        pair.connect()
        return pair
    }

    @Test(arguments: [16384, 65536])
    func requestCancelPairsForAnAllowedFastPieceAreAFlood(pieceLength: Int) {
        var pair = Self.seedAndLeecher(pieceLength: pieceLength)
        _ = pair.b.allowFast(piece: 5, now: pair.now)
        let request = BlockRequest(piece: 5, offset: 0, length: 16384)
        let limit = 3 * (pieceLength / 16384)
        var closedAfter: Int?
        for attempt in 1...(limit + 5) {
            let actions =
                pair.b.receive(message: .request(request), now: pair.now)
                + pair.b.receive(message: .cancel(request), now: pair.now)
            if actions.contains(where: { if case .disconnect(.requestFlood, _) = $0 { true } else { false } }) {
                closedAfter = attempt
                break
            }
        }
        #expect(closedAfter == limit + 1)
        #expect(pair.b.phase == .closed(.requestFlood))
    }

    @Test func fetchingAnAllowedFastPieceOnceIsFine() {
        var pair = Self.seedAndLeecher(pieceLength: 65536)
        _ = pair.b.allowFast(piece: 5, now: pair.now)
        for offset in stride(from: 0, to: 65536, by: 16384) {
            let actions = pair.b.receive(
                message: .request(BlockRequest(piece: 5, offset: offset, length: 16384)), now: pair.now)
            #expect(actions.contains { if case .readBlock = $0 { true } else { false } })
        }
        #expect(pair.b.phase == .active)
    }
}
