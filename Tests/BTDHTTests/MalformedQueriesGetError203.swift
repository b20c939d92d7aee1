import BTDHT
import NIOCore
import Testing

/// BEP 5: a query whose arguments are missing or mistyped is answered with error 203 (protocol error) and
/// its transaction id, as libtorrent answers "missing 'target' key"; anything else malformed gets nothing.
@Suite struct MalformedQueriesGetError203 {
    static let source = T.endpoint("11.1.1.1", 7000)

    static func node() -> DHTNode {
        DHTNode(configuration: DHTConfiguration(localID: T.id(0x10), randomSeed: 3), now: T.start)
    }

    @Test func findNodeWithoutTargetGets203WithItsTransactionID() {
        var node = Self.node()
        let id = String(repeating: "b", count: 20)
        let query = Array("d1:ad2:id20:\(id)e1:q9:find_node1:t2:xy1:y1:qe".utf8)
        guard case .error(let error)? = T.answer(node.receive(query, from: Self.source, now: T.start)) else {
            Issue.record("no error answer")
            return
        }
        #expect(error.code == KRPCErrorMessage.protocolError)
        #expect(error.transactionID == Array("xy".utf8))
        #expect(error.message.contains("target"))
        #expect(node.statistics.malformed == 1)
    }

    @Test func malformedResponsesAndGarbageGetNoAnswer() {
        var node = Self.node()
        #expect(node.receive(Array("d1:rd2:id3:abce1:t2:aa1:y1:re".utf8), from: Self.source, now: T.start).isEmpty)
        #expect(node.receive(Array("d1:t2:aa1:y1:qe".utf8) + [0xff], from: Self.source, now: T.start).isEmpty)
        #expect(node.receive([0x64, 0x31], from: Self.source, now: T.start).isEmpty)
        #expect(node.statistics.malformed == 3)
    }

    @Test func readOnlyNodesAndFloodersGetNoErrors() {
        var readOnly = DHTNode(
            configuration: DHTConfiguration(localID: T.id(0x10), readOnly: true, randomSeed: 3), now: T.start)
        let query = Array("d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe".utf8)
        #expect(readOnly.receive(query, from: Self.source, now: T.start).isEmpty)
        var node = Self.node()
        var answered = 0
        for _ in 0..<200 where !node.receive(query, from: Self.source, now: T.start).isEmpty { answered += 1 }
        // The per-address rate limit (20 per second, a burst of 40) bounds the errors too.
        #expect(answered > 0 && answered <= 41)
    }
}
