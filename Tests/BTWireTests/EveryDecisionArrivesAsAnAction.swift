import BTMetainfo
import NIOCore
import Testing

@testable import BTWire

/// Packet events are for observers only: with them switched off, everything the peer says that the caller
/// must act on (availability, choking, interest, cancels, rejects) still arrives as a ``PeerAction``.

private let bytes = WireTestSupport.encoded

/// A has every piece but 9 and reports no packet events; B (fast extension) is connected to it.
private func quietPair() -> PeerPair {
    let content = PeerPair.content(size: 10 * 16384, seed: 51)
    var a = PeerPair.configuration(content: content, pieceLength: 16384, have: true, fast: true, peerIDByte: 1)
    a.localPieces[9] = false
    a.emitsPacketEvents = false
    var pair = PeerPair(
        a: a, b: PeerPair.configuration(content: content, pieceLength: 16384, have: false, fast: true, peerIDByte: 2),
        content: content)
    pair.connect()
    return pair
}

@Test func theMachineReportsNoPacketEventWhenNobodyObserves() {
    var pair = quietPair()
    var actions = pair.actionsOfA
    actions += pair.a.receive(bytes(.interested, .have(piece: 2), .unchoke, .keepAlive), now: pair.now)
    #expect(!actions.isEmpty)
    #expect(!actions.contains { if case .event(.packet) = $0 { true } else { false } })
}

@Test func availabilityArrivesAsActions() {
    var pair = quietPair()
    // B has nothing: with the fast extension it said so at the handshake.
    #expect(pair.actionsOfA.contains(.peerHas(.none)))
    #expect(pair.a.receive(bytes(.have(piece: 9)), now: pair.now).contains(.peerHas(.piece(9))))
    // A repeated `have` changes nothing and reports nothing.
    #expect(
        !pair.a.receive(bytes(.have(piece: 9)), now: pair.now).contains {
            if case .peerHas = $0 { true } else { false }
        })
    var bits = Bitfield(count: 10)
    bits[4] = true
    let merged = bits.union(pair.a.peerPieces)
    #expect(
        pair.a.receive(bytes(.bitfield(ByteBuffer(bytes: bits.bytes))), now: pair.now).contains(
            .peerHas(.pieces(merged))))
    #expect(pair.a.receive(bytes(.haveNone), now: pair.now).contains(.peerHas(.none)))
    #expect(pair.a.peerPieces.isNoneSet)
}

@Test func chokingAndInterestArriveAsActions() {
    var pair = quietPair()
    #expect(pair.a.receive(bytes(.unchoke), now: pair.now) == [.peerChoked(false)])
    #expect(pair.a.receive(bytes(.choke), now: pair.now) == [.peerChoked(true)])
    #expect(pair.a.receive(bytes(.interested), now: pair.now) == [.peerInterested(true)])
    #expect(pair.a.receive(bytes(.notInterested), now: pair.now) == [.peerInterested(false)])
}

@Test func aCancelFromThePeerArrivesAsAnActionAfterItsReject() {
    var pair = quietPair()
    _ = pair.a.unchoke(now: pair.now)
    let request = BlockRequest(piece: 0, offset: 0, length: 16384)
    #expect(pair.a.receive(bytes(.request(request)), now: pair.now) == [.readBlock(request)])
    // BEP 6: the cancelled request is still answered, by a reject; the caller hears it left the queue.
    #expect(
        pair.a.receive(bytes(.cancel(request)), now: pair.now) == [.send(.reject(request)), .requestCancelled(request)])
    #expect(!pair.a.isServing(request))
    // A cancel for nothing queued is nothing.
    #expect(pair.a.receive(bytes(.cancel(request)), now: pair.now).isEmpty)
}

@Test func aRejectFromThePeerReturnsTheRequestToThePicker() {
    var pair = quietPair()
    _ = pair.a.receive(bytes(.have(piece: 9), .unchoke), now: pair.now)
    let request = BlockRequest(piece: 9, offset: 0, length: 16384)
    #expect(pair.a.request([request], now: pair.now) == [.send(.request(request))])
    #expect(pair.a.receive(bytes(.reject(request)), now: pair.now) == [.requestsReturned([request])])
    #expect(!pair.a.isInFlight(request) && pair.a.blocksInFlight == 0)
    // A reject for a request not in flight returns nothing.
    #expect(pair.a.receive(bytes(.reject(request)), now: pair.now).isEmpty)
}
