import BTDHT
import NIOCore
import Testing

/// A router given to ``DHTNode/bootstrap(from:routers:now:)`` is queried to join but never enters the
/// routing table (libtorrent's treatment of `dht_bootstrap_nodes`): not when it answers, not when it queries
/// us, not when another node names it; the nodes it names do.
@Suite struct RoutersBootstrapButStayOutOfTheTable {
    static let router = DHTNodeInfo(id: T.id(0x70), endpoint: T.endpoint("11.7.7.7"))
    static let named = DHTNodeInfo(id: T.id(0x20), endpoint: T.endpoint("11.2.2.2"))

    @Test func routerAnswersButOnlyTheNodesItNamesAreKept() throws {
        var node = DHTNode(configuration: DHTConfiguration(localID: T.id(0x10), randomSeed: 5), now: T.start)
        let (_, actions) = node.bootstrap(from: [], routers: [Self.router.endpoint], now: T.start)
        let (message, to) = try #require(actions.first.flatMap(T.message))
        #expect(to == Self.router.endpoint)
        guard case .query(let query) = message else {
            Issue.record("no query")
            return
        }
        let answer = KRPCCodec.encode(
            .response(
                KRPCResponseMessage(
                    transactionID: query.transactionID,
                    response: KRPCResponse(senderID: Self.router.id, nodes: [Self.named]))))
        var now = T.start + .milliseconds(30)
        var next = node.receive(answer, from: Self.router.endpoint, now: now)
        // The node it named is queried next and answers, naming the router back.
        let (nextMessage, nextTo) = try #require(next.compactMap(T.message).first)
        #expect(nextTo == Self.named.endpoint)
        guard case .query(let second) = nextMessage else {
            Issue.record("no second query")
            return
        }
        now = now + .milliseconds(30)
        next = node.receive(
            KRPCCodec.encode(
                .response(
                    KRPCResponseMessage(
                        transactionID: second.transactionID,
                        response: KRPCResponse(senderID: Self.named.id, nodes: [Self.router])))),
            from: Self.named.endpoint, now: now)
        #expect(next.contains { if case .lookupCompleted = $0 { true } else { false } })
        // The router queries us, too.
        _ = node.receive(T.query(.ping, from: Self.router.id), from: Self.router.endpoint, now: now)
        #expect(node.routingTable.node(Self.named.id) != nil)
        #expect(node.routingTable.node(Self.router.id) == nil)
        #expect(!node.state.nodes.contains { $0.endpoint == Self.router.endpoint })
    }

    @Test func bootstrapNodesThatAreNotRoutersAreKept() throws {
        var node = DHTNode(configuration: DHTConfiguration(localID: T.id(0x10), randomSeed: 5), now: T.start)
        let (_, actions) = node.bootstrap(from: [Self.router.endpoint], now: T.start)
        guard case .query(let query)? = actions.first.flatMap(T.message)?.0 else {
            Issue.record("no query")
            return
        }
        _ = node.receive(
            KRPCCodec.encode(
                .response(
                    KRPCResponseMessage(
                        transactionID: query.transactionID, response: KRPCResponse(senderID: Self.router.id)))),
            from: Self.router.endpoint, now: T.start + .milliseconds(30))
        #expect(node.routingTable.node(Self.router.id) != nil)
    }
}
