import BTDHT
import NIOCore
import Testing

@Suite struct NodeServesQueriesWithTokensAndLimits {
    static let us = T.id(0x10)
    static let them = T.id(0x90)
    static let source = T.endpoint("11.1.1.1", 7000)
    static let infoHash = T.id(0x33)

    static func node(_ configure: (inout DHTConfiguration) -> Void = { _ in }) -> DHTNode {
        var configuration = DHTConfiguration(localID: us, randomSeed: 42)
        configure(&configuration)
        return DHTNode(configuration: configuration, now: T.start)
    }

    static func response(_ actions: [DHTAction]) -> KRPCResponseMessage? {
        if case .response(let r)? = T.answer(actions) { return r }
        return nil
    }

    static func error(_ actions: [DHTAction]) -> KRPCErrorMessage? {
        if case .error(let e)? = T.answer(actions) { return e }
        return nil
    }

    @Test func pingIsAnsweredWithOurIDTheTransactionAndTheRequesterAddress() {
        var node = Self.node()
        let reply = Self.response(
            node.receive(T.query(.ping, from: Self.them, tid: [7, 7]), from: Self.source, now: T.start))
        #expect(reply?.transactionID == [7, 7])
        #expect(reply?.response.senderID == Self.us)
        #expect(reply?.requesterAddress == Self.source)  // BEP 42 `ip`
        // The querier entered the routing table, unconfirmed.
        #expect(node.routingTable.node(Self.them)?.state(at: T.start) == .questionable)
    }

    @Test func findNodeReturnsTheKClosest() {
        var node = Self.node()
        for n in 1...40 {
            _ = node.receive(
                T.query(.ping, from: T.id(UInt8(n * 6))), from: T.endpoint("11.2.0.\(n)"), now: T.start)
        }
        let target = T.id(0x60)
        let reply = Self.response(
            node.receive(T.query(.findNode(target: target, want: []), from: Self.them), from: Self.source, now: T.start)
        )
        let expected = node.routingTable.closest(to: target, count: 8, now: T.start)
        #expect(reply?.response.nodes == expected)
        #expect(reply?.response.nodes.count == 8)
        #expect(reply?.response.values.isEmpty == true)
    }

    @Test func announceNeedsTheTokenOfGetPeersAndImpliedPortUsesTheSourcePort() {
        var node = Self.node()
        let first = Self.response(
            node.receive(
                T.query(.getPeers(infoHash: Self.infoHash, want: [], noSeed: false), from: Self.them),
                from: Self.source,
                now: T.start))
        let token = try! #require(first?.response.token)
        #expect(first?.response.values.isEmpty == true)
        // A wrong token is a protocol error (BEP 5: 203).
        let refused = Self.error(
            node.receive(
                T.query(
                    .announcePeer(infoHash: Self.infoHash, port: 1, token: [0], impliedPort: false, seed: false),
                    from: Self.them),
                from: Self.source, now: T.start))
        #expect(refused?.code == 203)
        // The right token from another address is refused too: tokens are bound to the IP.
        let stolen = Self.error(
            node.receive(
                T.query(
                    .announcePeer(infoHash: Self.infoHash, port: 1, token: token, impliedPort: false, seed: false),
                    from: Self.them),
                from: T.endpoint("11.9.9.9"), now: T.start))
        #expect(stolen?.code == 203)
        let accepted = Self.response(
            node.receive(
                T.query(
                    .announcePeer(infoHash: Self.infoHash, port: 1, token: token, impliedPort: true, seed: false),
                    from: Self.them),
                from: Self.source, now: T.start))
        #expect(accepted != nil)
        let peers = Self.response(
            node.receive(
                T.query(.getPeers(infoHash: Self.infoHash, want: [], noSeed: false), from: T.id(0x91)),
                from: T.endpoint("11.1.1.2"), now: T.start))
        #expect(peers?.response.values == [DHTEndpoint(ip: Self.source.ip, port: 7000)])
        // Nodes as well as values, as libtorrent answers: the lookup still learns the storing node's
        // neighbours (here the nodes that queried us).
        #expect(peers?.response.nodes.map(\.id).contains(Self.them) == true)
    }

    /// A `get_peers` answer with the most peers (100) and the k closest nodes is about 1,100 bytes (900
    /// without the nodes): one datagram within a 1,500-byte MTU (1,472 bytes of UDP payload), as
    /// libtorrent's answers are. With ``DHTConfiguration/nodesWithPeers`` off, peers come alone.
    @Test(arguments: [true, false]) func aFullPeersAnswerWithNodesFitsOneDatagram(nodesWithPeers: Bool) throws {
        var node = Self.node { $0.nodesWithPeers = nodesWithPeers }
        for n in 0..<150 {
            let source = T.endpoint("11.3.\(n / 100).\(n % 100 + 1)", 7000)
            let querier = T.id(0x80, last: UInt8(n))
            let token = try #require(
                Self.response(
                    node.receive(
                        T.query(.getPeers(infoHash: Self.infoHash, want: [], noSeed: false), from: querier),
                        from: source, now: T.start))?.response.token)
            _ = node.receive(
                T.query(
                    .announcePeer(infoHash: Self.infoHash, port: 0, token: token, impliedPort: true, seed: false),
                    from: querier),
                from: source, now: T.start)
        }
        let actions = node.receive(
            T.query(.getPeers(infoHash: Self.infoHash, want: [], noSeed: false), from: Self.them),
            from: Self.source, now: T.start)
        guard case .send(let datagram, _)? = actions.first, let reply = Self.response(actions) else {
            Issue.record("no answer")
            return
        }
        #expect(reply.response.values.count == 100)
        #expect(reply.response.nodes.count == (nodesWithPeers ? 8 : 0))
        #expect(datagram.count <= (nodesWithPeers ? 1200 : 1000))
    }

    /// BEP 5: the secret changes every 5 minutes and tokens of the previous secret stay valid.
    @Test func tokensSurviveOneRotationButNotTwo() {
        var node = Self.node()
        let token = Self.response(
            node.receive(
                T.query(.getPeers(infoHash: Self.infoHash, want: [], noSeed: false), from: Self.them),
                from: Self.source,
                now: T.start))!.response.token!
        func announce(_ at: NIODeadline) -> [DHTAction] {
            _ = node.tick(now: at)
            return node.receive(
                T.query(
                    .announcePeer(infoHash: Self.infoHash, port: 9, token: token, impliedPort: false, seed: false),
                    from: Self.them),
                from: Self.source, now: at)
        }
        #expect(Self.response(announce(T.start + .minutes(6))) != nil)
        #expect(Self.error(announce(T.start + .minutes(11)))?.code == 203)
    }

    @Test func unknownMethodsGetError204() {
        var node = Self.node()
        #expect(
            Self.error(
                node.receive(
                    T.query(.unknown(method: Array("vote".utf8)), from: Self.them), from: Self.source, now: T.start))?
                .code
                == 204)
    }

    @Test func aFloodingAddressIsCutOff() {
        var node = Self.node { $0.queriesPerSecondPerAddress = 5 }
        var answered = 0
        for i in 0..<100 {
            let actions = node.receive(
                T.query(.ping, from: Self.them), from: Self.source, now: T.start + .milliseconds(Int64(i)))
            answered += actions.count
        }
        #expect(answered == 10)  // the burst (2 × rate), then silence
        #expect(node.statistics.rateLimited == 90)
        // Other addresses are still served.
        #expect(node.receive(T.query(.ping, from: T.id(1)), from: T.endpoint("11.3.3.3"), now: T.start).count == 1)
    }

    /// BEP 43: read-only senders are answered but not added; a read-only node answers nothing.
    @Test func readOnlyNodesStayOutOfTables() {
        var node = Self.node()
        let ro = KRPCCodec.encode(
            .query(KRPCQueryMessage(transactionID: [1], senderID: Self.them, query: .ping, readOnly: true)))
        #expect(node.receive(ro, from: Self.source, now: T.start).count == 1)
        #expect(node.routingTable.count == 0)
        var readOnly = Self.node { $0.readOnly = true }
        #expect(readOnly.receive(T.query(.ping, from: Self.them), from: Self.source, now: T.start).isEmpty)
        let (_, actions) = readOnly.bootstrap(from: [Self.source], now: T.start)
        guard case .query(let q)? = actions.first.flatMap(T.message)?.0 else { Issue.record("no query"); return }
        #expect(q.readOnly)
    }

    @Test func garbageIsCountedAndIgnored() {
        var node = Self.node()
        #expect(node.receive([0xff, 0x00], from: Self.source, now: T.start).isEmpty)
        #expect(node.statistics.malformed == 1)
        // A response nobody asked for is ignored.
        let stray = KRPCCodec.encode(
            .response(KRPCResponseMessage(transactionID: [1, 2, 3, 4], response: KRPCResponse(senderID: Self.them))))
        #expect(node.receive(stray, from: Self.source, now: T.start).isEmpty)
        #expect(node.routingTable.count == 0)
    }

    @Test func sampleInfohashesListsStoredTorrents() {
        var node = Self.node()
        let token = Self.response(
            node.receive(
                T.query(.getPeers(infoHash: Self.infoHash, want: [], noSeed: false), from: Self.them),
                from: Self.source, now: T.start))!.response.token!
        _ = node.receive(
            T.query(
                .announcePeer(infoHash: Self.infoHash, port: 5, token: token, impliedPort: false, seed: false),
                from: Self.them),
            from: Self.source, now: T.start)
        let reply = Self.response(
            node.receive(
                T.query(.sampleInfohashes(target: Self.them, want: []), from: Self.them), from: Self.source,
                now: T.start))
        #expect(reply?.response.samples == [Self.infoHash])
        #expect(reply?.response.storedCount == 1)
    }
}

@Suite struct PeerStoreIsBoundedAndExpires {
    @Test func perTorrentAndTorrentLimitsHold() {
        var random = DHTRandom(seed: 1)
        var store = PeerStore(
            limits: PeerStoreLimits(maximumTorrents: 3, maximumPeersPerTorrent: 5, maximumPeersPerReply: 4))
        for t in 0..<10 {
            for p in 0..<(t + 1) * 2 {
                store.announce(
                    T.id(UInt8(t)), peer: DHTEndpoint(ip: .v4(UInt32(p)), port: 1), seed: false, now: T.start,
                    using: &random)
            }
        }
        #expect(store.torrentCount == 3)
        #expect(store.peerCount <= 15)
        #expect(store.peers(for: T.id(9), noSeed: false, now: T.start, using: &random).count == 4)
    }

    @Test func peersExpireAndSeedsCanBeLeftOut() {
        var random = DHTRandom(seed: 1)
        var store = PeerStore()
        store.announce(T.id(1), peer: T.endpoint("11.0.0.1"), seed: true, now: T.start, using: &random)
        store.announce(T.id(1), peer: T.endpoint("11.0.0.2"), seed: false, now: T.start + .minutes(30), using: &random)
        #expect(store.peers(for: T.id(1), noSeed: true, now: T.start, using: &random) == [T.endpoint("11.0.0.2")])
        store.expire(now: T.start + .minutes(50))
        #expect(
            store.peers(for: T.id(1), noSeed: false, now: T.start + .minutes(50), using: &random) == [
                T.endpoint("11.0.0.2")
            ])
        store.expire(now: T.start + .minutes(80))
        #expect(store.torrentCount == 0 && store.peerCount == 0)
    }
}
