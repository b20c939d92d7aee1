import BTMetainfo
import NIOCore
import Testing

@testable import BTWire

/// A driver that holds reads back (a byte cap, a rate limit) keeps no list of its own: accepted requests wait
/// in the machine's serving queue until claimed, oldest first, and a cancel or a choke removes them there.

private let bytes = WireTestSupport.encoded

/// A seeds 10 one-block pieces; B (fast extension) is connected, interested and unchoked.
private func servingPair() -> PeerPair {
    let content = PeerPair.content(size: 10 * 16384, seed: 77)
    var a = PeerPair.configuration(content: content, pieceLength: 16384, have: true, fast: true, peerIDByte: 1)
    a.emitsPacketEvents = false
    var pair = PeerPair(
        a: a, b: PeerPair.configuration(content: content, pieceLength: 16384, have: false, fast: true, peerIDByte: 2),
        content: content)
    pair.connect()
    _ = pair.a.unchoke(now: pair.now)
    return pair
}

private func block(_ piece: Int) -> BlockRequest { BlockRequest(piece: piece, offset: 0, length: 16384) }

@Test func requestsAreClaimedOldestFirstAndACancelDropsAWaitingOne() {
    var pair = servingPair()
    _ = pair.a.receive(bytes(.request(block(0)), .request(block(1)), .request(block(2))), now: pair.now)
    #expect(pair.a.requestsWaitingToBeRead == 3)
    #expect(pair.a.bytesWaitingToBeRead == 3 * 16384)
    #expect(pair.a.nextRequestToRead == block(0))
    #expect(pair.a.claimNextRequest() == block(0))
    #expect(pair.a.requestsWaitingToBeRead == 2 && pair.a.servingQueueLength == 3)
    // The peer cancels request 1 while it waits: it leaves the one queue, and 2 is next.
    _ = pair.a.receive(bytes(.cancel(block(1))), now: pair.now)
    #expect(pair.a.nextRequestToRead == block(2))
    #expect(pair.a.requestsWaitingToBeRead == 1)
    // The claimed read finishes: the block goes out and the claim ends with it.
    let data = ByteBuffer(bytes: pair.content[0..<16384])
    let sent = pair.a.blockRead(block(0), data: data, now: pair.now)
    #expect(sent.contains { if case .send(.piece) = $0 { true } else { false } })
    #expect(pair.a.claimNextRequest() == block(2))
    #expect(pair.a.claimNextRequest() == nil)
    #expect(pair.a.requestsWaitingToBeRead == 0 && pair.a.servingQueueLength == 1)
}

@Test func aChokeDropsWaitingAndClaimedRequestsAndAFinishedReadOfOneSendsNothing() {
    var pair = servingPair()
    // Pieces B may not fetch while choked (a choke keeps allowed-fast requests, BEP 6).
    let pieces = (0..<10).filter { !pair.a.allowedFastToPeer.contains($0) }
    try! #require(pieces.count >= 4)
    _ = pair.a.receive(
        bytes(.request(block(pieces[0])), .request(block(pieces[1])), .request(block(pieces[2]))), now: pair.now)
    #expect(pair.a.claimNextRequest() == block(pieces[0]))
    _ = pair.a.choke(now: pair.now)
    #expect(pair.a.requestsWaitingToBeRead == 0 && pair.a.servingQueueLength == 0)
    #expect(pair.a.nextRequestToRead == nil)
    let start = pieces[0] * 16384
    let data = ByteBuffer(bytes: pair.content[start..<(start + 16384)])
    let sent = pair.a.blockRead(block(pieces[0]), data: data, now: pair.now)
    #expect(!sent.contains { if case .send(.piece) = $0 { true } else { false } })
    // After a new unchoke, a new request is the only one waiting.
    _ = pair.a.unchoke(now: pair.now)
    _ = pair.a.receive(bytes(.request(block(pieces[3]))), now: pair.now)
    #expect(pair.a.nextRequestToRead == block(pieces[3]) && pair.a.requestsWaitingToBeRead == 1)
}

@Test func aRequestReadWithoutAClaimLeavesTheClaimedOnesAlone() {
    var pair = servingPair()
    _ = pair.a.receive(bytes(.request(block(0)), .request(block(1)), .request(block(2))), now: pair.now)
    #expect(pair.a.claimNextRequest() == block(0))
    // A driver that reads at once (never claims) answers request 2 directly.
    let data = ByteBuffer(bytes: pair.content[(2 * 16384)..<(3 * 16384)])
    _ = pair.a.blockRead(block(2), data: data, now: pair.now)
    #expect(pair.a.nextRequestToRead == block(1) && pair.a.requestsWaitingToBeRead == 1)
    #expect(pair.a.claimNextRequest() == block(1))
    #expect(pair.a.claimNextRequest() == nil)
}
