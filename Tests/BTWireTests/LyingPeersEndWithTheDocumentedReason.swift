import BTMetainfo
import NIOCore
import Testing

@testable import BTWire

private func h(_ text: String) -> [UInt8] { WireTestSupport.hex(text) }

/// A connected pair where A is the honest side under test and B's bytes are replaced by a liar's.
private func connectedPair(
    aHas: Bool, bHas: Bool, fast: Bool, pieces: Int = 10, extensions: [String: UInt8] = [:]
) -> PeerPair {
    let content = PeerPair.content(size: pieces * 16384, seed: 9)
    var a = PeerPair.configuration(content: content, pieceLength: 16384, have: aHas, fast: fast, peerIDByte: 1)
    a.extensionHandshake.messages = extensions
    var pair = PeerPair(
        a: a,
        b: PeerPair.configuration(content: content, pieceLength: 16384, have: bHas, fast: fast, peerIDByte: 2),
        content: content)
    pair.connect()
    return pair
}

private func lie(_ pair: inout PeerPair, _ bytes: [UInt8]) -> [PeerAction] {
    let actions = pair.a.receive(ByteBuffer(bytes: bytes), now: pair.now)
    pair.actionsOfA += actions
    return actions
}

private func reason(_ actions: [PeerAction]) -> DisconnectReason? {
    for case .disconnect(let reason, _) in actions { return reason }
    return nil
}

@Test(arguments: [true, false])
func bitfieldOfTheWrongSizeOrWithSpareBitsIsAMalformedPacket(fast: Bool) {
    var pair = connectedPair(aHas: false, bHas: false, fast: fast)
    #expect(reason(lie(&pair, h("00000002 05 ff"))) == .malformedPacket)
    var spare = connectedPair(aHas: false, bHas: false, fast: fast)
    #expect(reason(lie(&spare, h("00000003 05 ffc1"))) == .malformedPacket)
    #expect(spare.a.phase == .closed(.malformedPacket))
}

@Test(arguments: [true, false])
func unrequestedBlockIsAProtocolViolation(fast: Bool) {
    var pair = connectedPair(aHas: false, bHas: true, fast: fast)
    let block = PeerMessage.piece(Block(piece: 3, offset: 0, data: ByteBuffer(bytes: [1, 2, 3]))).encoded
    #expect(reason(lie(&pair, block)) == .protocolViolation)
}

@Test func blockArrivingAfterOurCancelIsTolerated() {
    var pair = connectedPair(aHas: false, bHas: true, fast: true)
    pair.apply(pair.b.unchoke(now: pair.now), fromA: false)
    pair.pump()
    let request = BlockRequest(piece: 1, offset: 0, length: 16384)
    _ = pair.a.request([request], now: pair.now)
    _ = pair.a.cancel(request, now: pair.now)
    let late = PeerMessage.piece(Block(piece: 1, offset: 0, data: ByteBuffer(repeating: 7, count: 16384))).encoded
    #expect(reason(lie(&pair, late)) == nil)
    #expect(pair.a.phase == .active)
    // But the same block a second time was never requested.
    #expect(reason(lie(&pair, late)) == .protocolViolation)
}

@Test func oversizeMessageIsAMalformedPacket() {
    var pair = connectedPair(aHas: false, bHas: true, fast: true)
    #expect(reason(lie(&pair, h("01000000"))) == .malformedPacket)
    var request = connectedPair(aHas: true, bHas: false, fast: true)
    #expect(reason(lie(&request, h("0000000d 06 00000000 00000000 00008000"))) == .malformedPacket)
}

@Test func requestsForPiecesWeLackAreRejectedThenPunished() {
    // With the fast extension each bad request is rejected; after 20 the peer is dropped.
    var fast = connectedPair(aHas: false, bHas: false, fast: true)
    _ = fast.a.unchoke(now: fast.now)
    var rejects = 0
    var last: DisconnectReason?
    for i in 0..<30 where last == nil {
        let actions = lie(&fast, PeerMessage.request(BlockRequest(piece: i % 10, offset: 0, length: 16384)).encoded)
        rejects += actions.filter { if case .send(.reject) = $0 { return true } else { return false } }.count
        last = reason(actions)
    }
    #expect(rejects == 20 && last == .protocolViolation)
    // Without it, the second offence ends the connection.
    var slow = connectedPair(aHas: false, bHas: false, fast: false)
    _ = slow.a.unchoke(now: slow.now)
    #expect(reason(lie(&slow, PeerMessage.request(BlockRequest(piece: 1, offset: 0, length: 16384)).encoded)) == nil)
    #expect(
        reason(lie(&slow, PeerMessage.request(BlockRequest(piece: 2, offset: 0, length: 16384)).encoded))
            == .protocolViolation)
    // A request reaching past the end of a piece counts as invalid too.
    var past = connectedPair(aHas: true, bHas: false, fast: false)
    _ = past.a.unchoke(now: past.now)
    _ = lie(&past, PeerMessage.request(BlockRequest(piece: 9, offset: 16000, length: 1000)).encoded)
    #expect(
        reason(lie(&past, PeerMessage.request(BlockRequest(piece: 9, offset: 16384, length: 1)).encoded))
            == .protocolViolation)
}

@Test(arguments: [true, false])
func floodOfRequestsEndsInRequestFlood(fast: Bool) {
    var pair = connectedPair(aHas: true, bHas: false, fast: fast, pieces: 100)
    _ = pair.a.unchoke(now: pair.now)
    var bytes: [UInt8] = []
    for i in 0..<700 {
        bytes += PeerMessage.request(BlockRequest(piece: i % 100, offset: (i / 100) * 16, length: 16)).encoded
    }
    let actions = lie(&pair, bytes)
    let reads = actions.filter { if case .readBlock = $0 { return true } else { return false } }.count
    let rejects = actions.filter { if case .send(.reject) = $0 { return true } else { return false } }.count
    #expect(reads == 250, "the serving queue holds our reqq")
    #expect(rejects == (fast ? 250 : 0))
    #expect(reason(actions) == .requestFlood)
}

@Test func fastMessagesWithoutTheFastExtensionAreProtocolViolations() {
    for bytes in [
        h("00000001 0e"), h("00000001 0f"), h("00000005 11 00000001"), h("00000005 0d 00000001"),
        h("0000000d 10 00000000 00000000 00004000"),
    ] {
        var pair = connectedPair(aHas: false, bHas: false, fast: false)
        #expect(reason(lie(&pair, bytes)) == .protocolViolation, "\(bytes)")
    }
}

@Test func malformedExtensionPayloadsAreMalformedPackets() {
    var pair = connectedPair(aHas: false, bHas: false, fast: true)
    #expect(reason(lie(&pair, h("00000004 14 00 6c65"))) == .malformedPacket)
    var pex = connectedPair(aHas: false, bHas: false, fast: true, extensions: [ExtensionHandshake.Name.pex: 1])
    #expect(reason(lie(&pex, h("00000006 14 01") + Array("d5:a".utf8))) == .malformedPacket)
    // An id we did not advertise has no meaning (BEP 10): a violation, as libtorrent disconnects at it.
    var unadvertised = connectedPair(aHas: false, bHas: false, fast: true)
    #expect(reason(lie(&unadvertised, h("00000006 14 01") + Array("d5:a".utf8))) == .protocolViolation)
}

@Test func aWrongHandshakeEndsTheConnectionWithItsReason() {
    let content = PeerPair.content(size: 16384, seed: 5)
    func machine(incoming: Bool) -> PeerStateMachine {
        var m = PeerStateMachine(
            configuration: PeerPair.configuration(
                content: content, pieceLength: 16384, have: false, fast: true, peerIDByte: 1),
            incoming: incoming, source: .tracker, now: .uptimeNanoseconds(0))
        _ = m.startConnecting(now: .uptimeNanoseconds(0))
        _ = m.connectionEstablished(now: .uptimeNanoseconds(0))
        return m
    }
    let otherTorrent = Handshake(
        reserved: .local(), infoHash: [UInt8](repeating: 1, count: 20), peerID: PeerID.generate())
    var outgoing = machine(incoming: false)
    #expect(
        reason(outgoing.receive(ByteBuffer(bytes: otherTorrent.encoded), now: .uptimeNanoseconds(0)))
            == .handshakeInfoHashMismatch)
    var incoming = machine(incoming: true)
    #expect(
        reason(incoming.receive(ByteBuffer(bytes: otherTorrent.encoded), now: .uptimeNanoseconds(0))) == .noSuchTorrent)
    var loop = machine(incoming: false)
    let ourselves = Handshake(
        reserved: .local(), infoHash: [UInt8](repeating: 0xab, count: 20), peerID: loop.configuration.localPeerID)
    #expect(reason(loop.receive(ByteBuffer(bytes: ourselves.encoded), now: .uptimeNanoseconds(0))) == .loopback)
    var garbage = machine(incoming: false)
    #expect(
        reason(garbage.receive(ByteBuffer(bytes: Array("GET /announce".utf8)), now: .uptimeNanoseconds(0)))
            == .malformedHandshake)
    var silent = machine(incoming: false)
    #expect(silent.tick(now: .uptimeNanoseconds(29_000_000_000)).isEmpty)
    #expect(reason(silent.tick(now: .uptimeNanoseconds(30_000_000_000))) == .handshakeTimeout)
}

@Test(arguments: DisconnectReason.allCases)
func disconnectReasonsHaveStableCodesAndText(reason: DisconnectReason) {
    let codes: [DisconnectReason: Int] = [
        .byRemote: 1, .loopback: 2, .noSuchTorrent: 3, .handshakeInfoHashMismatch: 4, .malformedHandshake: 5,
        .malformedPacket: 6, .preexisting: 7, .tooMany: 8, .hashChecking: 9, .bothSeeds: 10, .handshakeTimeout: 11,
        .uselessPeer: 12, .mseSyncFailure: 13, .protocolViolation: 14, .reputation: 15, .blacklisted: 16,
        .ioError: 17, .requestFlood: 18, .local: 19, .ipFiltered: 20, .queueFull: 21, .sendBufferFull: 22,
        .inactive: 23,
    ]
    #expect(reason.code == codes[reason])
    #expect(!reason.description.isEmpty)
    #expect(!reason.name.isEmpty && reason.name.first!.isLowercase)
    // The seed's 13 keywords belong to codes 1-13, in the seed's order.
    #expect((reason.seedConstant != nil) == (reason.code <= 13))
    #expect(DisconnectReason(rawValue: reason.code) == reason)
}

@Test func aPeerThatSendsNothingForThreeMinutesIsDisconnectedAsInactive() {
    // A is interested in B (B has every piece), so only silence can end the connection, not uselessness.
    var pair = connectedPair(aHas: false, bHas: true, fast: true)
    let start = pair.now
    #expect(reason(pair.a.tick(now: start + .seconds(170))) == nil)
    // A keep-alive from the peer is activity: the clock starts again.
    _ = pair.a.receive(ByteBuffer(bytes: [0, 0, 0, 0]), now: start + .seconds(170))
    #expect(reason(pair.a.tick(now: start + .seconds(340))) == nil)
    #expect(reason(pair.a.tick(now: start + .seconds(350))) == .inactive)
}
