import BTDHT
import NIOCore
import Testing

@Suite struct RoutingTableSplitsReplacesAndPersists {
    static func node(_ id: NodeID, _ n: Int) -> DHTNodeInfo {
        DHTNodeInfo(id: id, endpoint: DHTEndpoint(ip: .v4(0x0B00_0000 + UInt32(n)), port: 6881))
    }

    static func filled(_ count: Int, seed: UInt64 = 1, local: NodeID = T.id(0x55)) -> RoutingTable {
        var random = DHTRandom(seed: seed)
        var table = RoutingTable(localID: local, now: T.start)
        for n in 0..<count {
            table.heard(from: node(NodeID.random(using: &random), n), responded: true, now: T.start)
        }
        return table
    }

    /// libtorrent's extended table: the farthest bucket holds 16 k, then 8 k, 4 k, 2 k, then k.
    @Test func topBucketsAreLargerAsInLibtorrent() {
        let table = RoutingTable(localID: .zero, now: T.start)
        #expect((0..<6).map { table.capacity(ofBucket: $0) } == [128, 64, 32, 16, 8, 8])
        let plain = RoutingTable(
            localID: .zero, configuration: RoutingTableConfiguration(largerTopBuckets: false), now: T.start)
        #expect(plain.capacity(ofBucket: 0) == 8)
    }

    @Test func onlyTheOwnBucketSplitsAndNoBucketOverflows() {
        let table = Self.filled(5000)
        #expect(table.bucketCount > 6)
        // Random ids: about half share 0 bits with us, a quarter 1 bit...: the top buckets fill up.
        #expect(table.count > 128 + 64 + 32 + 16)
        #expect(table.count <= (0..<table.bucketCount).reduce(0) { $0 + table.capacity(ofBucket: $1) })
        #expect(table.replacementCount > 0)
    }

    @Test func closestMatchesBruteForce() {
        let table = Self.filled(2000, seed: 7)
        var random = DHTRandom(seed: 99)
        for _ in 0..<20 {
            let target = NodeID.random(using: &random)
            let expected = table.nodes.map(\.info).sorted { target.isCloser($0.id, than: $1.id) }.prefix(8)
            #expect(table.closest(to: target, count: 8, now: T.start) == Array(expected))
        }
    }

    @Test func oneNodePerAddress() {
        var table = RoutingTable(localID: .zero, now: T.start)
        let endpoint = T.endpoint("11.0.0.1")
        let first = table.heard(from: DHTNodeInfo(id: T.id(1), endpoint: endpoint), responded: true, now: T.start)
        let second = table.heard(from: DHTNodeInfo(id: T.id(2), endpoint: endpoint), responded: true, now: T.start)
        let otherPort = DHTEndpoint(ip: endpoint.ip, port: 9999)
        let third = table.heard(from: DHTNodeInfo(id: T.id(3), endpoint: otherPort), responded: true, now: T.start)
        #expect(first && !second && !third)
        #expect(table.count == 1)
    }

    @Test func nodesAgeFromGoodToQuestionableToBad() {
        var table = RoutingTable(localID: .zero, now: T.start)
        let info = DHTNodeInfo(id: T.id(0x80), endpoint: T.endpoint("11.0.0.1"))
        table.heard(from: info, responded: true, now: T.start)
        #expect(table.node(info.id)?.state(at: T.start + .minutes(14)) == .good)
        #expect(table.node(info.id)?.state(at: T.start + .minutes(16)) == .questionable)
        #expect(table.questionableNodes(now: T.start + .minutes(16), limit: 8) == [info])
        table.failed(info.id, now: T.start)
        table.failed(info.id, now: T.start)
        #expect(table.node(info.id)?.state(at: T.start) == .bad)
        // A node that only queried us was never confirmed: questionable from the start.
        let querier = DHTNodeInfo(id: T.id(0x81), endpoint: T.endpoint("11.0.0.2"))
        table.heard(from: querier, responded: false, now: T.start)
        #expect(table.node(querier.id)?.state(at: T.start) == .questionable)
    }

    /// A full bucket keeps newcomers as replacements; when a member goes bad the best replacement takes its
    /// place.
    @Test func badNodesAreReplacedFromTheCache() {
        let config = RoutingTableConfiguration(largerTopBuckets: false)
        var table = RoutingTable(localID: .zero, configuration: config, now: T.start)
        // Ids with the top bit set all fall in bucket 0 (no shared prefix with the zero id).
        let members = (0..<8).map { DHTNodeInfo(id: T.id(0x80 | UInt8($0)), endpoint: T.endpoint("11.0.0.\($0 + 1)")) }
        for m in members { table.heard(from: m, responded: true, now: T.start) }
        let newcomer = DHTNodeInfo(id: T.id(0xf0), endpoint: T.endpoint("11.0.1.1"))
        // Fill the own bucket so bucket 0 no longer splits.
        for n in 0..<8 {
            table.heard(
                from: DHTNodeInfo(id: T.id(0x01, last: UInt8(n)), endpoint: T.endpoint("11.0.2.\(n + 1)")),
                responded: true, now: T.start)
        }
        table.heard(from: newcomer, responded: true, now: T.start)
        #expect(table.node(newcomer.id) == nil)
        #expect(table.replacementCount >= 1)
        table.failed(members[3].id, now: T.start)
        #expect(table.node(members[3].id) != nil)
        table.failed(members[3].id, now: T.start)
        #expect(table.node(members[3].id) == nil)
        #expect(table.node(newcomer.id) != nil)
    }

    /// Nodes only named in someone's answer wait unconfirmed (libtorrent's `heard_about`); each is offered
    /// once for a confirming query, and its answer makes it live.
    @Test func heardAboutNodesWaitUntilConfirmed() {
        var table = RoutingTable(localID: .zero, now: T.start)
        let named = DHTNodeInfo(id: T.id(0x80), endpoint: T.endpoint("11.0.0.9"))
        table.heardAbout(named, now: T.start)
        #expect(table.count == 0 && table.replacementCount == 1)
        #expect(table.nodesToConfirm(limit: 4) == [named])
        #expect(table.nodesToConfirm(limit: 4).isEmpty)
        table.heard(from: named, responded: true, now: T.start)
        #expect(table.count == 1 && table.replacementCount == 0)
        // A named node that never answers is dropped from the cache.
        let ghost = DHTNodeInfo(id: T.id(0x81), endpoint: T.endpoint("11.0.0.10"))
        table.heardAbout(ghost, now: T.start)
        table.failed(ghost.id, now: T.start)
        #expect(table.replacementCount == 0)
    }

    @Test func staleBucketsYieldRefreshTargetsInTheirRange() {
        var table = Self.filled(600, seed: 3, local: .zero)
        var random = DHTRandom(seed: 4)
        #expect(table.refreshTargets(now: T.start + .minutes(1), using: &random).isEmpty)
        let targets = table.refreshTargets(now: T.start + .minutes(16), using: &random)
        #expect(targets.count == table.bucketCount)
        for (b, target) in targets.enumerated() {
            let shared = NodeID.zero.commonPrefixLength(with: target)
            if b == table.bucketCount - 1 { #expect(shared >= b) } else { #expect(shared == b) }
        }
        #expect(table.refreshTargets(now: T.start + .minutes(17), using: &random).isEmpty)
    }

    @Test func stateFileRoundTripsAndRestoresTheNodes() throws {
        let table = Self.filled(300, seed: 11)
        var v6 = DHTState(table)
        v6.nodes.append(DHTNodeInfo(id: T.id(9), endpoint: DHTEndpoint("2001:db8::7", port: 1)!))
        let bytes = v6.encoded()
        let loaded = try DHTState(decoding: bytes)
        #expect(loaded.localID == table.localID)
        #expect(Set(loaded.nodes) == Set(v6.nodes))
        // A node restarted from the state has our id and pings the saved nodes while bootstrapping.
        var node = DHTNode(configuration: DHTConfiguration(randomSeed: 1), state: loaded, now: T.start)
        #expect(node.localID == table.localID)
        let (_, actions) = node.bootstrap(from: [], now: T.start)
        #expect(actions.count == DHTConfiguration().alpha)  // α queries to the closest saved nodes
    }

    @Test(arguments: [
        ("not_bencode", Array("d2:id".utf8)),
        ("short_id", Array("d2:id3:abce".utf8)),
        ("nodes_misaligned", Array("d2:id20:abcdefghij01234567895:nodes3:abce".utf8)),
        ("nodes_not_a_string", Array("d2:id20:abcdefghij01234567895:nodesi1ee".utf8)),
    ])
    func badStateFilesAreRefused(_ vector: (String, [UInt8])) {
        #expect(throws: DHTError.self, "\(vector.0)") { try DHTState(decoding: vector.1) }
    }
}
