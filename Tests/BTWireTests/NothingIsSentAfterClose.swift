import BTMetainfo
import NIOCore
import Testing

@testable import BTWire

/// The closed state has no decoder, no queues and no timers: whatever happens after the connection ended,
/// the machine sends nothing, reads nothing, asks for nothing and does not close a second time.

/// A (leecher) connected to B (seed), A unchoked with requests in flight and B serving one of them.
private func busyPair() -> PeerPair {
    let content = PeerPair.content(size: 8 * 16384, seed: 31)
    var pair = PeerPair(
        a: PeerPair.configuration(content: content, pieceLength: 16384, have: false, fast: true, peerIDByte: 1),
        b: PeerPair.configuration(content: content, pieceLength: 16384, have: true, fast: true, peerIDByte: 2),
        content: content)
    pair.connect()
    pair.apply(pair.b.unchoke(now: pair.now), fromA: false)
    pair.pump()
    return pair
}

/// An action that would reach the peer, the storage or the picker, or end the connection again.
private func isEffect(_ action: PeerAction) -> Bool {
    switch action {
    case .event: false
    default: true
    }
}

/// Every command and input there is, each of which would produce something on a live connection.
private func everythingAfterClose(_ machine: inout PeerStateMachine, at now: NIODeadline) -> [PeerAction] {
    let block = BlockRequest(piece: 1, offset: 0, length: 16384)
    var actions: [PeerAction] = []
    actions += machine.unchoke(now: now)
    actions += machine.choke(now: now)
    actions += machine.setInterested(!machine.amInterested, now: now)
    actions += machine.cancel(BlockRequest(piece: 0, offset: 0, length: 16384), now: now)
    actions += machine.blockRead(block, data: ByteBuffer(repeating: 1, count: 16384), now: now)
    actions += machine.blockUnavailable(block, now: now)
    actions += machine.havePiece(7, now: now)
    actions += machine.suggest(piece: 7, now: now)
    actions += machine.allowFast(piece: 3, now: now)
    actions += machine.sendExtension(.other(name: "ut_pex", payload: ByteBuffer(bytes: [1])), now: now)
    actions += machine.setWantedPieces(nil, now: now)
    actions += machine.startConnecting(now: now)
    actions += machine.connectionEstablished(now: now)
    actions += machine.disconnect(.local, now: now)
    actions += machine.connectionClosed(error: "reset", now: now)
    var bytes = ByteBuffer()
    PeerMessage.haveAll.encode(into: &bytes)
    PeerMessage.request(block).encode(into: &bytes)
    PeerMessage.piece(Block(piece: 0, offset: 0, data: ByteBuffer(repeating: 2, count: 16384))).encode(into: &bytes)
    actions += machine.receive(bytes, now: now)
    actions += machine.receive(message: .interested, now: now)
    for minutes in [1, 5, 60] { actions += machine.tick(now: now + .minutes(Int64(minutes))) }
    return actions
}

@Test(arguments: ["ours", "theirs", "lie", "timeout"])
func aClosedConnectionAnswersNoCommandOrInput(closedBy: String) {
    var pair = busyPair()
    pair.requestMissing()
    #expect(pair.a.blocksInFlight > 0)
    let inFlight = (0..<8).flatMap { piece in
        [BlockRequest(piece: piece, offset: 0, length: 16384)].filter { pair.a.isInFlight($0) }
    }
    let closing: [PeerAction]
    switch closedBy {
    case "ours": closing = pair.a.disconnect(.local, detail: "test", now: pair.now)
    case "theirs": closing = pair.a.connectionClosed(now: pair.now)
    case "lie":
        // A bitfield of 24 bits for 8 pieces.
        closing = pair.a.receive(ByteBuffer(bytes: [0, 0, 0, 4, 5, 0xff, 0xff, 0xff]), now: pair.now)
    default: closing = pair.a.tick(now: pair.now + .minutes(10))
    }
    // The requests in flight go back to the picker once, then the one disconnect ends the list.
    guard case .disconnect? = closing.last else {
        Issue.record("\(closedBy): expected a disconnect, got \(closing)")
        return
    }
    #expect(closing.filter { if case .disconnect = $0 { true } else { false } }.count == 1)
    let returned = closing.flatMap { action -> [BlockRequest] in
        if case .requestsReturned(let blocks) = action { return blocks }
        return []
    }
    #expect(Set(returned) == Set(inFlight), "\(closedBy)")
    #expect(pair.a.blocksInFlight == 0 && pair.a.servingQueueLength == 0 && pair.a.decoderRetainedBytes == 0)

    var after = everythingAfterClose(&pair.a, at: pair.now)
    // A request is answered by giving the blocks straight back; nothing else has any effect.
    let block = BlockRequest(piece: 2, offset: 0, length: 16384)
    #expect(pair.a.request([block], now: pair.now) == [.requestsReturned([block])])
    after.removeAll { !isEffect($0) }
    #expect(after.isEmpty, "\(closedBy): \(after)")
    #expect(!pair.a.isServing(block) && !pair.a.isInFlight(block) && !pair.a.canRequest(piece: 2))
}

@Test func aConnectionClosedBeforeItsHandshakeAnswersNothingEither() {
    let content = PeerPair.content(size: 8 * 16384, seed: 32)
    let config = PeerPair.configuration(content: content, pieceLength: 16384, have: true, fast: true, peerIDByte: 1)
    let now = NIODeadline.uptimeNanoseconds(1_000_000_000)
    for phase in ["queued", "connecting", "handshaking"] {
        var machine = PeerStateMachine(configuration: config, incoming: false, source: .tracker, now: now)
        if phase != "queued" { _ = machine.startConnecting(now: now) }
        if phase == "handshaking" { _ = machine.connectionEstablished(now: now) }
        #expect(machine.disconnect(.tooMany, now: now).last == .disconnect(.tooMany, detail: ""))
        #expect(machine.phase == .closed(.tooMany))
        var after = everythingAfterClose(&machine, at: now)
        after.removeAll { !isEffect($0) }
        #expect(after.isEmpty, "\(phase): \(after)")
        #expect(machine.phase == .closed(.tooMany) && machine.remoteHandshake == nil)
    }
}

@Test func theClosedStateKeepsWhatWasKnownOfThePeer() {
    var pair = busyPair()
    let peerID = pair.a.peerID
    #expect(peerID != nil && pair.a.isSeed && !pair.a.peerChoking && pair.a.amInterested)
    _ = pair.a.connectionClosed(now: pair.now)
    #expect(pair.a.phase == .closed(.byRemote))
    // Status survives for whoever reports on the connection after it ended.
    #expect(pair.a.peerID == peerID && pair.a.isSeed && pair.a.peerPieces.isAllSet)
    #expect(pair.a.supportsFastExtension && pair.a.supportsExtensions && pair.a.bitfieldStatus == .all)
    #expect(!pair.a.peerChoking && pair.a.amInterested)
    // Our pieces still follow what we verify, for a reconnection's bitfield.
    _ = pair.a.havePiece(3, now: pair.now)
    #expect(pair.a.localPieces[3])
}
