import BTDHT
import NIOCore
import Testing

@Suite struct ConfirmationsRefreshTheBucketOfTheNodeConfirmed {
    /// A node heard about in an answer is confirmed with a `find_node`. With
    /// ``DHTConfiguration/confirmationRefreshesBucket`` (the default) its target is a random id in that
    /// node's bucket, so the answer names more nodes for the same bucket: this is what fills the large top
    /// buckets (the 10,000-node simulation's tables grew from about 60 nodes to a few hundred). Without it
    /// the target is our own id, which only ever feeds our neighbourhood.
    @Test(arguments: [true, false]) func theConfirmingQueryTargetsTheNodesBucket(refreshesBucket: Bool) throws {
        var configuration = DHTConfiguration(localID: T.id(0x01), randomSeed: 9)
        configuration.confirmationRefreshesBucket = refreshesBucket
        var node = DHTNode(configuration: configuration, now: T.start)
        // 100 nodes in the far half and 29 in ours: the 129th overflows the first bucket (16 k) and splits it.
        let farHalf = (0..<100).map { T.id(0x80 + UInt8($0)) }
        let ourHalf = (0..<29).map { T.id(0x40 + UInt8($0)) }
        for (n, id) in (farHalf + ourHalf).enumerated() {
            _ = node.receive(T.query(.ping, from: id), from: T.endpoint("11.0.\(n / 250).\(n % 250 + 1)"), now: T.start)
        }
        #expect(node.routingTable.bucketCount == 2)
        #expect(node.routingTable.count == 129)

        // A lookup near us hears of a node in the far half, which has room left (100 of 128).
        let heard = DHTNodeInfo(id: T.id(0xf0, last: 9), endpoint: T.endpoint("11.7.0.1"))
        let (_, sent) = node.findNode(T.id(0x40), now: T.start)
        let (message, to) = try #require(sent.compactMap(T.message).first)
        guard case .query(let query) = message else { Issue.record("not a query"); return }
        let responder = try #require(node.routingTable.nodes.first { $0.info.endpoint == to }).info.id
        let reply = KRPCResponseMessage(
            transactionID: query.transactionID, response: KRPCResponse(senderID: responder, nodes: [heard]))
        _ = node.receive(T.datagram(.response(reply)), from: to, now: T.start)
        #expect(node.routingTable.node(heard.id) == nil)

        let confirmation = node.tick(now: T.start + configuration.confirmationInterval).compactMap(T.message)
            .filter { $0.1 == heard.endpoint }
        #expect(confirmation.count == 1)
        guard case .query(let confirming)? = confirmation.first?.0, case .findNode(let target, _) = confirming.query
        else {
            Issue.record("no find_node to the node heard about")
            return
        }
        if refreshesBucket {
            #expect(target.commonPrefixLength(with: node.localID) == 0)
        } else {
            #expect(target == node.localID)
        }
    }
}
