import BTMetainfo
import NIOCore
import Testing

@testable import BTWire

private func pair(aHas: Bool = false, bHas: Bool = true, fast: Bool = true, pieces: Int = 40) -> PeerPair {
    let content = PeerPair.content(size: pieces * 16384, seed: 11)
    var pair = PeerPair(
        a: PeerPair.configuration(content: content, pieceLength: 16384, have: aHas, fast: fast, peerIDByte: 1),
        b: PeerPair.configuration(content: content, pieceLength: 16384, have: bHas, fast: fast, peerIDByte: 2),
        content: content)
    pair.connect()
    return pair
}

private func block(_ piece: Int, _ byte: UInt8 = 0) -> PeerMessage {
    .piece(Block(piece: piece, offset: 0, data: ByteBuffer(repeating: byte, count: 16384)))
}

@Test func requestTimeoutSnubsThePeerAndLeavesOneRequestOutstanding() {
    var p = pair()
    _ = p.a.receive(message: .unchoke, now: p.now)
    #expect(p.a.requestCapacity(now: p.now) == 4, "initial depth before any rate is known")
    let blocks = (0..<4).map { BlockRequest(piece: $0, offset: 0, length: 16384) }
    _ = p.a.request(blocks, now: p.now)
    #expect(p.a.tick(now: p.now + .seconds(29)).isEmpty)
    let actions = p.a.tick(now: p.now + .seconds(30))
    #expect(p.a.isSnubbed && p.a.blocksInFlight == 1)
    #expect(actions.contains(.event(.snubbed(true))))
    #expect(actions.contains(.requestsReturned(Array(blocks[1...]))))
    #expect(actions.filter { if case .send(.cancel) = $0 { return true } else { return false } }.count == 3)
    #expect(p.a.pipelineDepth(now: p.now + .seconds(30)) == 1 && p.a.requestCapacity(now: p.now + .seconds(30)) == 0)
    // Delivering the one outstanding block ends the snub.
    let after = p.a.receive(message: block(0), now: p.now + .seconds(31))
    #expect(!p.a.isSnubbed && after.contains(.event(.snubbed(false))))
}

@Test func pipelineDepthFollowsTheMeasuredRateAndThePeersReqq() {
    var p = pair(pieces: 400)
    _ = p.a.receive(message: .unchoke, now: p.now)
    // 10 seconds at 100 blocks/s: 1.6 MB/s × 3 s / 16 KiB = 300 blocks, capped by the peer's reqq of 250.
    var piece = 0
    for second in 0..<10 {
        let t = p.now + .seconds(Int64(second))
        for _ in 0..<40 {
            let request = BlockRequest(piece: piece, offset: 0, length: 16384)
            _ = p.a.request([request], now: t)
            _ = p.a.receive(message: block(piece), now: t)
            piece = (piece + 1) % 400
        }
    }
    let t = p.now + .seconds(9)
    let depth = p.a.pipelineDepth(now: t)
    #expect(depth == Int(40.0 * 16384 * 3 / 16384), "40 blocks/s × 3 s = 120")
    // A peer announcing reqq 16 caps the pipeline at 16.
    let ext = ExtensionHandshake(messages: ["ut_pex": 1], requestQueueLength: 16)
    _ = p.a.receive(
        message: .extended(ExtendedMessage(id: 0, payload: ByteBuffer(bytes: ext.encoded()))), now: t)
    #expect(p.a.pipelineDepth(now: t) == 16)
}

@Test func uselessPeerIsDroppedAfterThreeMinutesWithoutInterest() {
    var p = pair(aHas: false, bHas: false)
    #expect(!p.a.amInterested && !p.a.peerInterested)
    #expect(p.a.tick(now: p.now + .seconds(179)).allSatisfy { if case .disconnect = $0 { false } else { true } })
    #expect(p.a.tick(now: p.now + .seconds(180)).contains(.disconnect(.uselessPeer, detail: "neither side interested")))
}

@Test func keepAliveIsSentWhenTheLineIsIdle() {
    var p = pair(aHas: false, bHas: true)
    #expect(!p.a.tick(now: p.now + .seconds(89)).contains(.send(.keepAlive)))
    #expect(p.a.tick(now: p.now + .seconds(90)).contains(.send(.keepAlive)))
}

@Test func statusFlagsReflectEveryMessage() {
    var p = pair(aHas: false, bHas: false)
    #expect(p.a.isIncoming == false && p.b.isIncoming && p.b.source == .incoming && p.a.source == .tracker)
    #expect(p.a.amChoking && p.a.peerChoking && !p.a.isEncrypted && p.a.reservedBytes?[.fast] == true)
    #expect(p.a.bitfieldStatus == .none && !p.a.isSeed && !p.a.isUploadOnly)
    _ = p.a.receive(message: .have(piece: 3), now: p.now)
    #expect(p.a.peerPieces[3] && p.a.bitfieldStatus == .partial && p.a.amInterested)
    _ = p.a.receive(message: .interested, now: p.now)
    #expect(p.a.peerInterested)
    _ = p.a.receive(message: .suggest(piece: 3), now: p.now)
    _ = p.a.receive(message: .allowedFast(piece: 3), now: p.now)
    _ = p.a.receive(message: .port(6881), now: p.now)
    #expect(p.a.suggestedPieces == [3] && p.a.allowedFastFromPeer == [3] && p.a.dhtPort == 6881)
    #expect(p.a.canRequest(piece: 3) && !p.a.canRequest(piece: 4))
    let ext = ExtensionHandshake(messages: ["ut_pex": 1], uploadOnly: true)
    _ = p.a.receive(message: .extended(ExtendedMessage(id: 0, payload: ByteBuffer(bytes: ext.encoded()))), now: p.now)
    #expect(p.a.isUploadOnly && !p.a.isSeed)
    _ = p.a.receive(message: .haveAll, now: p.now)
    #expect(p.a.isSeed && p.a.bitfieldStatus == .all)
    p.a.isOptimisticUnchoke = true
    _ = p.a.unchoke(now: p.now)
    _ = p.a.choke(now: p.now)
    #expect(p.a.amChoking && !p.a.isOptimisticUnchoke)
    var queued = PeerStateMachine(
        configuration: p.a.configuration, incoming: false, source: .dht, now: p.now)
    #expect(queued.isQueued)
    _ = queued.startConnecting(now: p.now)
    #expect(queued.isConnecting)
    _ = queued.connectionEstablished(now: p.now)
    #expect(queued.isHandshaking)
    #expect(
        queued.connectionClosed(now: p.now).contains(.disconnect(.byRemote, detail: "the peer closed the connection")))
}

@Test func noExtensionIsAdvertisedUnlessConfigured() {
    var p = pair(aHas: false, bHas: true)
    // Only what the machine answers itself (lt_donthave, libtorrent's upload_only message): no ut_pex/ut_metadata.
    #expect(
        Set(p.a.remoteExtensions?.messages.keys ?? [:].keys)
            == [ExtensionHandshake.Name.donthave, ExtensionHandshake.Name.uploadOnly],
        "B offers no ut_pex/ut_metadata it would not answer")
    #expect(p.a.sendExtension(.metadata(.request(piece: 0)), now: p.now).isEmpty)
}

@Test func extensionMessagesAreDecodedAndSentUnderThePeersIDs() {
    let content = PeerPair.content(size: 40 * 16384, seed: 11)
    var b = PeerPair.configuration(content: content, pieceLength: 16384, have: true, fast: true, peerIDByte: 2)
    b.extensionHandshake.messages = [ExtensionHandshake.Name.pex: 1, ExtensionHandshake.Name.metadata: 2]
    var p = PeerPair(
        a: PeerPair.configuration(content: content, pieceLength: 16384, have: false, fast: true, peerIDByte: 1),
        b: b, content: content)
    p.connect()
    let pex = PEXMessage(added: [PeerEndpoint(address: .v4(0x7F00_0005), port: 6881)], addedFlags: [0x10])
    // B announced ut_pex as 1 in its extension handshake; A sends under that id and B decodes it.
    let sent = p.a.sendExtension(.pex(pex), now: p.now)
    #expect(sent.contains(.send(.extended(ExtendedMessage(id: 1, payload: ByteBuffer(bytes: pex.encoded()))))))
    p.apply(sent, fromA: true)
    p.pump()
    #expect(p.actionsOfB.contains(.extensionMessage(.pex(pex))))
    p.apply(p.a.sendExtension(.metadata(.request(piece: 0)), now: p.now), fromA: true)
    p.pump()
    #expect(p.actionsOfB.contains(.extensionMessage(.metadata(.request(piece: 0)))))
}
