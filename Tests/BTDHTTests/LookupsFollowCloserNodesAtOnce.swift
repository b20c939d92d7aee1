import BTDHT
import NIOCore
import Testing

@Suite struct LookupsFollowCloserNodesAtOnce {
    /// A node whose routing table holds the nodes `ids` (each pinged it from an address of its own).
    static func node(knowing ids: [NodeID], _ configure: (inout DHTConfiguration) -> Void = { _ in }) -> DHTNode {
        var configuration = DHTConfiguration(localID: T.id(0x01), randomSeed: 5)
        configure(&configuration)
        var node = DHTNode(configuration: configuration, now: T.start)
        for (n, id) in ids.enumerated() {
            _ = node.receive(T.query(.ping, from: id), from: address(n), now: T.start)
        }
        return node
    }

    static func address(_ n: Int) -> DHTEndpoint { T.endpoint("11.0.\(n / 250).\(n % 250 + 1)") }

    /// The queries among `actions`, with their transaction ids.
    static func queries(_ actions: [DHTAction]) -> [(KRPCQueryMessage, DHTEndpoint)] {
        actions.compactMap { action in
            guard let (message, to) = T.message(action), case .query(let query) = message else { return nil }
            return (query, to)
        }
    }

    static func reply(_ query: KRPCQueryMessage, from id: NodeID, nodes: [DHTNodeInfo] = []) -> [UInt8] {
        T.datagram(
            .response(
                KRPCResponseMessage(
                    transactionID: query.transactionID, response: KRPCResponse(senderID: id, nodes: nodes))))
    }

    /// Regression: a lookup keeps at most 64 candidates, and once the farthest of them had been queried, a
    /// closer node named in a later answer was dropped instead of taking a queried node's place, so the
    /// lookup ended without the very node it was looking for. Here 64 known nodes refuse the query but the
    /// last, which names a node right next to the target: that node must be queried and end up closest.
    @Test func aCloserNodeNamedWhenTheCandidateListIsFullIsQueried() throws {
        let known = (0..<64).map { T.id(0x80 + UInt8($0)) }
        var node = Self.node(knowing: known)
        let ids = Dictionary(uniqueKeysWithValues: known.enumerated().map { (Self.address($0.offset), $0.element) })
        let near = DHTNodeInfo(id: T.id(0x02, last: 1), endpoint: T.endpoint("11.9.0.1"))
        var (_, pending) = node.findNode(T.id(0x02), now: T.start)
        var refused = 0
        var queriedNear = false
        var result: DHTLookupResult?
        while !pending.isEmpty {
            var next: [DHTAction] = []
            for action in pending {
                if case .lookupCompleted(let finished) = action { result = finished }
            }
            for (query, to) in Self.queries(pending) {
                if to == near.endpoint {
                    queriedNear = true
                    next += node.receive(Self.reply(query, from: near.id), from: to, now: T.start)
                } else if refused < known.count - 1 {
                    refused += 1
                    let error = KRPCErrorMessage(transactionID: query.transactionID, code: 202, message: "busy")
                    next += node.receive(T.datagram(.error(error)), from: to, now: T.start)
                } else {
                    let id = try #require(ids[to])
                    next += node.receive(Self.reply(query, from: id, nodes: [near]), from: to, now: T.start)
                }
            }
            pending = next
        }
        #expect(refused == 63)
        #expect(queriedNear)
        #expect(try #require(result).closest.first?.id == near.id)
    }

    /// libtorrent's aggressive lookups: when the first answer names closer nodes, α of them are queried at
    /// once; the two queries still in flight to farther nodes no longer hold them back. Without it, only one
    /// slot is free.
    @Test(arguments: [true, false]) func closerNodesAreQueriedWithoutWaitingForFartherOnes(aggressive: Bool) throws {
        let far = [T.id(0xf1), T.id(0xf2), T.id(0xf3)]
        var node = Self.node(knowing: far) {
            $0.alpha = 3
            $0.aggressiveLookups = aggressive
        }
        let (_, first) = node.findNode(T.id(0x02), now: T.start)
        let sent = Self.queries(first)
        #expect(sent.count == 3)
        let closer = (1...3).map { DHTNodeInfo(id: T.id(0x10 + UInt8($0)), endpoint: T.endpoint("11.8.0.\($0)")) }
        let (query, to) = sent[0]
        let ids = Dictionary(uniqueKeysWithValues: far.enumerated().map { (Self.address($0.offset), $0.element) })
        let id = try #require(ids[to])
        let after = node.receive(Self.reply(query, from: id, nodes: closer), from: to, now: T.start)
        let next = Self.queries(after)
        #expect(next.count == (aggressive ? 3 : 1))
        #expect(next.allSatisfy { sent in closer.contains { $0.endpoint == sent.1 } })
    }
}
