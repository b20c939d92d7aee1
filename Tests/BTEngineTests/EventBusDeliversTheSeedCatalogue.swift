import BTEngine
import BTMetainfo
import BTWire
import NIOCore
import Testing

/// Every event of seed 004 exists as a typed event and reaches both callbacks and async streams.
@Suite struct EventBusDeliversTheSeedCatalogue {
    /// The event names of seed 004 (Net::BitTorrent 0.05x), copied from its Events section.
    static let seedNames: [String] =
        ["ip_filter", "peer_connect", "peer_disconnect", "peer_read", "peer_write"]
        + [
            "handshake", "keepalive", "choke", "unchoke", "interested", "not_interested", "have", "bitfield",
            "request", "block", "cancel", "extended",
        ].flatMap { ["packet_incoming_\($0)", "packet_outgoing_\($0)"] }
        + ["file_error", "file_open", "file_close", "file_write", "file_read"]
        + [
            "tracker_connect", "tracker_disconnect", "tracker_success", "tracker_failure", "tracker_write",
            "tracker_read",
        ]
        + ["piece_hash_fail", "piece_hash_pass"]

    static let torrent = ClientEvent.TorrentInfo(
        infoHashes: InfoHashes(v1: [UInt8](repeating: 1, count: 20), v2: nil), name: "t")
    static let peer = ClientEvent.PeerInfo(
        endpoint: PeerEndpoint(address: .v4(0x7F00_0001), port: 6881), isIncoming: true)
    static let file = ClientEvent.FileInfo(torrent: torrent, index: 0, path: ["a"])
    static let tracker = ClientEvent.TrackerInfo(torrent: torrent, url: "udp://tracker.example:80")

    static let hashRequest = HashRequest(
        piecesRoot: [UInt8](repeating: 3, count: 32), baseLayer: 0, index: 0, length: 2, proofLayers: 0)

    /// One event of every kind.
    static var samples: [ClientEvent] {
        let block = BlockRequest(piece: 1, offset: 0, length: 16384)
        let messages: [PeerMessage] = [
            .keepAlive, .choke, .unchoke, .interested, .notInterested, .have(piece: 1),
            .bitfield(ByteBuffer(bytes: [0xe0])),
            .request(block), .piece(Block(piece: 1, offset: 0, data: ByteBuffer(repeating: 0, count: 16384))),
            .cancel(block), .port(6881), .suggest(piece: 2), .haveAll, .haveNone, .reject(block),
            .allowedFast(piece: 3),
            .extended(ExtendedMessage(id: 0, payload: ByteBuffer(bytes: [0x64, 0x65]))), .hashRequest(hashRequest),
            .hashes(HashesMessage(request: hashRequest, hashes: ByteBuffer(repeating: 1, count: 64))),
            .hashReject(hashRequest), .unknown(id: 99, payload: ByteBuffer(repeating: 0, count: 4)),
        ]
        let handshake = Handshake(
            reserved: ReservedBits(), infoHash: [UInt8](repeating: 1, count: 20),
            peerID: PeerID(bytes: [UInt8](repeating: 2, count: 20))!)
        let packets: [PacketEvent.Packet] = [.handshake(handshake)] + messages.map { .message($0) }
        return [
            .ipFilter(peer.endpoint, allowed: true), .peerConnect(peer), .peerDisconnect(peer, reason: .tooMany),
            .peerRead(peer, length: 10), .peerWrite(peer, length: 10),
        ] + packets.flatMap { [.packetIncoming(peer, $0), .packetOutgoing(peer, $0)] } + [
            .fileOpen(file, mode: .write), .fileClose(file), .fileRead(file, length: 1), .fileWrite(file, length: 1),
            .fileError(file, message: "disk full"), .trackerConnect(tracker, event: .started),
            .trackerDisconnect(tracker), .trackerSuccess(tracker, .init(complete: 1, incomplete: 2)),
            .trackerFailure(tracker, reason: "timeout"), .trackerWrite(tracker, length: 1),
            .trackerRead(tracker, length: 1), .pieceHashPass(torrent, index: 0), .pieceHashFail(torrent, index: 1),
            .torrentFinished(torrent),
        ]
    }

    @Test func everySeedEventHasAKindAndEveryKindAnEvent() {
        let kinds = Set(ClientEvent.Kind.allCases.map(\.rawValue))
        for name in Self.seedNames { #expect(kinds.contains(name), "\(name) is missing") }
        #expect(kinds.contains("torrent_finished"))
        #expect(Set(Self.samples.map(\.kind)) == Set(ClientEvent.Kind.allCases))
    }

    @Test func handlersReceiveOnlyTheirKindUntilRemoved() {
        let bus = EventBus()
        let passes = Recorder<ClientEvent>()
        let everything = Recorder<ClientEvent.Kind>()
        let subscription = bus.on(.pieceHashPass) { passes.append($0) }
        bus.onEvery { everything.append($0.kind) }
        for event in Self.samples { bus.emit(event) }
        #expect(passes.values == [.pieceHashPass(Self.torrent, index: 0)])
        #expect(everything.values == Self.samples.map(\.kind))
        bus.remove(subscription)
        bus.emit(.pieceHashPass(Self.torrent, index: 5))
        #expect(passes.values.count == 1)
        #expect(everything.values.count == Self.samples.count + 1)
    }

    @Test func streamsReceiveEventsInOrderAndEndOnFinish() async {
        let bus = EventBus()
        let stream = bus.events()
        for event in Self.samples { bus.emit(event) }
        bus.finish()
        var received: [ClientEvent] = []
        for await event in stream { received.append(event) }
        #expect(received == Self.samples)
        #expect(bus.streamCount == 0)
        var late: [ClientEvent] = []
        for await event in bus.events() { late.append(event) }
        #expect(late.isEmpty, "a finished bus gives finished streams")
    }

    @Test func aSlowStreamKeepsTheNewestEventsAndCountsTheDrops() async {
        let bus = EventBus()
        let stream = bus.events(bufferingNewest: 3)
        for index in 0..<10 { bus.emit(.pieceHashPass(Self.torrent, index: index)) }
        bus.finish()
        var indexes: [Int] = []
        for await event in stream {
            if case .pieceHashPass(_, let index) = event { indexes.append(index) }
        }
        #expect(indexes == [7, 8, 9])
        #expect(bus.droppedEventCount == 7)
    }
}
