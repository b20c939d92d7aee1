import BTMetainfo
import NIOCore
import Testing

@testable import BTWire

/// A seeder and a leecher back to back, exchanging a 37-piece torrent (last piece short) through encoded
/// bytes in random splits.
@Test(arguments: [true, false])
func leecherDownloadsAWholeTorrentFromASeeder(fast: Bool) {
    let content = PeerPair.content(size: 37 * 32768 - 5000, seed: 1)
    var pair = PeerPair(
        a: PeerPair.configuration(content: content, pieceLength: 32768, have: false, fast: fast, peerIDByte: 1),
        b: PeerPair.configuration(content: content, pieceLength: 32768, have: true, fast: fast, peerIDByte: 2),
        content: content)
    pair.connect()
    #expect(pair.a.phase == .active && pair.b.phase == .active)
    #expect(pair.a.supportsExtensions && pair.b.supportsExtensions)
    #expect(pair.a.supportsFastExtension == fast && pair.b.supportsFastExtension == fast)
    #expect(pair.a.isSeed && pair.a.bitfieldStatus == .all && pair.a.amInterested)
    #expect(pair.b.peerInterested && pair.b.bitfieldStatus == (fast ? .none : .unknown))
    #expect(pair.a.remoteExtensions?.requestQueueLength == 250)
    #expect(pair.a.peerID?.client?.name == "NetBitTorrent")
    // Choked: nothing may be requested (no allowed-fast set was granted).
    let early = BlockRequest(piece: 0, offset: 0, length: 16384)
    pair.apply(pair.a.request([early], now: pair.now), fromA: true)
    #expect(pair.a.blocksInFlight == 0 && pair.returnedToA == [early])
    pair.returnedToA.removeAll()
    pair.apply(pair.b.unchoke(now: pair.now), fromA: false)
    pair.pump()
    #expect(!pair.a.peerChoking)
    var rounds = 0
    while pair.completedByA.count < 37 && rounds < 1000 {
        rounds += 1
        pair.requestMissing()
        pair.pump()
        pair.advance(seconds: 1)
    }
    #expect(pair.completedByA.count == 37)
    #expect(pair.a.localPieces.isAllSet)
    #expect(pair.b.peerPieces.isAllSet, "B learnt every piece from A's have messages")
    #expect(pair.a.blocksInFlight == 0 && pair.b.servingQueueLength == 0)
    // Once A is complete both are seeds and A's last `have` makes B end the connection.
    #expect(pair.disconnectOfB == .bothSeeds || pair.disconnectOfA == .bothSeeds)
    #expect(pair.returnedToA.isEmpty)
}

@Test func packetEventsCarryTheSeedFields() {
    let content = PeerPair.content(size: 4 * 16384, seed: 2)
    var pair = PeerPair(
        a: PeerPair.configuration(content: content, pieceLength: 16384, have: false, fast: true, peerIDByte: 1),
        b: PeerPair.configuration(content: content, pieceLength: 16384, have: true, fast: true, peerIDByte: 2),
        content: content)
    pair.connect()
    pair.apply(pair.b.unchoke(now: pair.now), fromA: false)
    pair.pump()
    pair.apply(pair.a.request([BlockRequest(piece: 2, offset: 0, length: 16384)], now: pair.now), fromA: true)
    pair.pump()
    let eventsA = pair.actionsOfA.compactMap { action -> PacketEvent? in
        if case .event(.packet(let packet)) = action { return packet }
        return nil
    }
    let names = eventsA.map(\.name)
    #expect(names.starts(with: ["packet_outgoing_handshake", "packet_incoming_handshake", "packet_outgoing_extended"]))
    for name in [
        "packet_outgoing_have_none", "packet_incoming_have_all", "packet_outgoing_interested",
        "packet_incoming_extended", "packet_incoming_unchoke", "packet_outgoing_request", "packet_incoming_block",
    ] {
        #expect(names.contains(name), "\(name)")
    }
    let block = eventsA.first { $0.name == "packet_incoming_block" }!
    #expect(block.index == 2 && block.offset == 0 && block.length == 16384)
    #expect(block.payload.map { Array($0.readableBytesView) } == Array(content[32768..<49152]))
    let request = eventsA.first { $0.name == "packet_outgoing_request" }!
    #expect(request.index == 2 && request.offset == 0 && request.length == 16384)
    let handshake = eventsA.first { $0.name == "packet_incoming_handshake" }!.handshake!
    #expect(handshake.peerID == pair.b.configuration.localPeerID && handshake.reserved[.fast])
    let extended = eventsA.first { $0.name == "packet_incoming_extended" }!
    #expect(extended.extendedID == 0 && extended.payload != nil)
    let servedB = pair.actionsOfB.compactMap { action -> PacketEvent? in
        if case .event(.packet(let packet)) = action, packet.name == "packet_outgoing_block" { return packet }
        return nil
    }
    #expect(servedB.count == 1 && servedB[0].index == 2 && servedB[0].length == 16384)
}

@Test func allowedFastPiecesCanBeFetchedWhileChoked() {
    let content = PeerPair.content(size: 40 * 16384, seed: 3)
    var pair = PeerPair(
        a: PeerPair.configuration(content: content, pieceLength: 16384, have: false, fast: true, peerIDByte: 1),
        b: PeerPair.configuration(
            content: content, pieceLength: 16384, have: true, fast: true, peerIDByte: 2, remoteIPv4: [127, 0, 0, 9]),
        content: content)
    pair.connect()
    let expected = AllowedFastSet.generate(
        count: 10, pieceCount: 40, infoHash: [UInt8](repeating: 0xab, count: 20), ipv4: [127, 0, 0, 9])
    #expect(pair.a.allowedFastFromPeer == Set(expected) && pair.b.allowedFastToPeer == Set(expected))
    #expect(pair.a.peerChoking)
    pair.requestMissing()
    #expect(pair.a.blocksInFlight > 0)
    pair.pump()
    #expect(pair.completedByA.isSubset(of: Set(expected)) && !pair.completedByA.isEmpty)
    // A piece outside the set, asked for by force while choked, is rejected by the seeder (BEP 6).
    let outside = (0..<40).first { !expected.contains($0) }!
    let forced = BlockRequest(piece: outside, offset: 0, length: 16384)
    pair.apply(pair.b.receive(message: .request(forced), now: pair.now), fromA: false)
    #expect(pair.actionsOfB.contains(.send(.reject(forced))))
}

@Test func chokeWithFastExtensionWaitsForRejectsAndWithoutItDropsRequests() {
    for fast in [true, false] {
        let content = PeerPair.content(size: 8 * 16384, seed: 4)
        var pair = PeerPair(
            a: PeerPair.configuration(content: content, pieceLength: 16384, have: false, fast: fast, peerIDByte: 1),
            b: PeerPair.configuration(content: content, pieceLength: 16384, have: true, fast: fast, peerIDByte: 2),
            content: content)
        pair.connect()
        pair.apply(pair.b.unchoke(now: pair.now), fromA: false)
        pair.pump()
        pair.requestMissing()
        #expect(pair.a.blocksInFlight == 4)
        // B reads the requests (queues them) but chokes before serving.
        let requests = pair.wireToB.readSlice(length: pair.wireToB.readableBytes)!
        var bActions = pair.b.receive(requests, now: pair.now)
        bActions = bActions.filter { if case .readBlock = $0 { return false } else { return true } }
        pair.actionsOfB += bActions
        #expect(pair.b.servingQueueLength == 4)
        pair.apply(pair.b.choke(now: pair.now), fromA: false)
        #expect(pair.b.servingQueueLength == 0)
        let rejects = pair.actionsOfB.filter { if case .send(.reject) = $0 { return true } else { return false } }
        #expect(rejects.count == (fast ? 4 : 0))
        pair.pump()
        #expect(pair.a.peerChoking && pair.a.blocksInFlight == 0)
        #expect(pair.returnedToA.count == 4, "rejects (fast) or the choke (no fast) hand the requests back")
    }
}
