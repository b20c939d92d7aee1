import BTDHT
import NIOCore
import Testing

/// A `get_peers` lookup reports each peer once, as soon as an answer brings it (``DHTAction/peersFound``),
/// before the lookup ends; the final result lists them all.
@Suite struct LookupsReportPeersAsTheyArrive {
    @Test func eachNewPeerIsReportedOnceBeforeTheLookupEnds() throws {
        var node = DHTNode(configuration: DHTConfiguration(localID: T.id(0x10), randomSeed: 9), now: T.start)
        let a = DHTNodeInfo(id: T.id(0x30), endpoint: T.endpoint("11.0.0.1"))
        let b = DHTNodeInfo(id: T.id(0x31), endpoint: T.endpoint("11.0.0.2"))
        for peer in [a, b] { _ = node.receive(T.query(.ping, from: peer.id), from: peer.endpoint, now: T.start) }
        let p1 = T.endpoint("12.0.0.1", 5000)
        let p2 = T.endpoint("12.0.0.2", 5000)
        let (id, actions) = node.getPeers(T.id(0x33), now: T.start)
        let queries = actions.compactMap(T.message)
        #expect(queries.count == 2)
        var reported: [[DHTEndpoint]] = []
        var completedAfter: Int?
        for (index, (message, to)) in queries.enumerated() {
            guard case .query(let query) = message else { continue }
            let sender = to == a.endpoint ? a : b
            let values = index == 0 ? [p1] : [p1, p2]
            let reply = KRPCCodec.encode(
                .response(
                    KRPCResponseMessage(
                        transactionID: query.transactionID,
                        response: KRPCResponse(senderID: sender.id, values: values, token: [1]))))
            for action in node.receive(reply, from: to, now: T.start + .milliseconds(Int64(10 * (index + 1)))) {
                switch action {
                case .peersFound(let lookup, let peers):
                    #expect(lookup == id)
                    #expect(completedAfter == nil)
                    reported.append(peers)
                case .lookupCompleted(let result):
                    completedAfter = reported.count
                    #expect(result.peers == [p1, p2])
                default: break
                }
            }
        }
        #expect(reported == [[p1], [p2]])
        #expect(completedAfter == 2)
    }
}
