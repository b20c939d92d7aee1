import BTDHT
import NIOCore
import Testing

@Suite struct LookupsReplaceSlowNodesAndEndInTime {
    /// A node that knows five others (they pinged it) and whose queries nobody answers.
    static func lonelyNode(count: Int = 5, _ configure: (inout DHTConfiguration) -> Void = { _ in }) -> DHTNode {
        var configuration = DHTConfiguration(localID: T.id(0x01), randomSeed: 3)
        configure(&configuration)
        var node = DHTNode(configuration: configuration, now: T.start)
        for n in 1...count {
            _ = node.receive(T.query(.ping, from: T.id(UInt8(0x40 + n))), from: T.endpoint("11.0.0.\(n)"), now: T.start)
        }
        return node
    }

    static func sends(_ actions: [DHTAction]) -> Int {
        actions.filter { if case .send = $0 { true } else { false } }.count
    }

    /// α queries (3 here) go out at once; after 1 s without an answer they stop counting and the remaining nodes
    /// are queried (libtorrent's short timeout); once every candidate is silent the lookup ends without
    /// waiting for the query timeout, which later marks the nodes as failed in the routing table.
    @Test func slowQueriesAreReplacedAfterOneSecond() throws {
        var node = Self.lonelyNode { $0.alpha = 3 }
        let (id, first) = node.findNode(T.id(0x44), now: T.start)
        #expect(Self.sends(first) == 3)
        #expect(node.tick(now: T.start + .milliseconds(999)).isEmpty)
        #expect(node.nextDeadline == T.start + .seconds(1))
        #expect(Self.sends(node.tick(now: T.start + .seconds(1))) == 2)
        let end = node.tick(now: T.start + .seconds(2))
        guard case .lookupCompleted(let result)? = end.last else { Issue.record("not finished"); return }
        #expect(result.id == id)
        #expect(result.queriesSent == 5 && result.responses == 0 && !result.timedOut)
        #expect(result.duration == .seconds(2))
        #expect(node.outstandingQueryCount == 5)
        _ = node.tick(now: T.start + .seconds(6))
        #expect(node.outstandingQueryCount == 0)
        // Every node failed once: none is bad yet (BEP 5: several failures in a row).
        #expect(node.routingTable.nodes.allSatisfy { $0.failCount == 1 })
        #expect(node.routingTable.count == 5)
    }

    @Test func aLookupEndsAtTheHardTimeout() {
        var node = Self.lonelyNode(count: 20) { $0.lookupTimeout = .seconds(3) }
        _ = node.getPeers(T.id(0x44), now: T.start)
        _ = node.tick(now: T.start + .seconds(1))
        _ = node.tick(now: T.start + .seconds(2))
        let end = node.tick(now: T.start + .seconds(3))
        guard case .lookupCompleted(let result)? = end.last else { Issue.record("not finished"); return }
        #expect(result.timedOut)
        #expect(result.duration == .seconds(3))
        #expect(node.activeLookupCount == 0)
    }

    /// Two nodes back to back: a lookup converges on the answer and records the responder as good.
    @Test func answersMoveTheLookupAndConfirmTheNode() throws {
        var a = DHTNode(configuration: DHTConfiguration(localID: T.id(0x01), randomSeed: 1), now: T.start)
        var b = DHTNode(configuration: DHTConfiguration(localID: T.id(0x02), randomSeed: 2), now: T.start)
        let ea = T.endpoint("11.0.0.1")
        let eb = T.endpoint("11.0.0.2")
        var (_, pending) = a.bootstrap(from: [eb], now: T.start)
        var completed: DHTLookupResult?
        var now = T.start
        for _ in 0..<10 where completed == nil {
            now = now + .milliseconds(50)
            var next: [DHTAction] = []
            for action in pending {
                switch action {
                case .send(let datagram, let to) where to == eb:
                    for reply in b.receive(datagram, from: ea, now: now) {
                        if case .send(let d, _) = reply { next += a.receive(d, from: eb, now: now) }
                    }
                case .lookupCompleted(let result): completed = result
                default: break
                }
            }
            pending = next
        }
        let result = try #require(completed)
        #expect(result.responses >= 1)
        #expect(result.closest.map(\.id) == [T.id(0x02)])
        #expect(a.routingTable.node(T.id(0x02))?.state(at: now) == .good)
        #expect(b.routingTable.node(T.id(0x01)) != nil)
    }
}
