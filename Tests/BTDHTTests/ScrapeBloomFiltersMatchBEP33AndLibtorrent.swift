import BTDHT
import NIOCore
import Testing

/// BEP 33 scrapes: the bloom filter matches the BEP's (and libtorrent's `test_dht.cpp`) vectors bit for bit
/// and estimate, a node answers `scrape` = 1 with its filters, and a scrape lookup merges them.
@Suite struct ScrapeBloomFiltersMatchBEP33AndLibtorrent {
    /// 192.0.2.0 to 192.0.2.255 inserted (libtorrent's vector when IPv6 is unsupported).
    static let v4Vector =
        "24c0004020043000102012743e00480037110820422110008000c0e302854835a05401a4045021302a306c060001881002d8a0a3"
        + "a8001901b40a800900310008d2108110c2496a0028700010d804188b01415200082004088026411104a804048002002000080680"
        + "828c400080cc40020c042c0494447280928041402104080d4240040414a41f0205654800b0811830d2020042b002c5800004a71d"
        + "0204804a0028120a004c10017801490b834004044106005421000c86900a0020500203510060144e900100924a1018141a028012"
        + "913f0041802250042280481200002004430804210101c08111c10801001080002038008211004266848606b035001048"
    /// The same plus 2001:db8:: to 2001:db8::3e7 (BEP 33's own vector).
    static let fullVector =
        "f6c3f5eaa07ffd91bde89f777f26fb2bff37bdb8fb2bbaa2fd3ddde7bacfff75ee7ccbaefe5eedb1fbfaff67f6abff5e43ddbca3"
        + "fd9b9ffdf4ffd3e9dff12d1bdf59db53dbe9fa5b7ff3b8fdfcde1afb8bedd7be2f3ee71ebbbfe93bcdeefe148246c2bc5dbff7e7"
        + "efdcf24fd8dc7adffd8fffdfddfff7a4bbeedf5cb95ce81fc7fcff1ff4ffffdfe5f7fdcbb7fd79b3fa1fc77bfe07fff905b7b7ff"
        + "c7fefeffe0b8370bb0cd3f5b7f2bd93feb4386cfdd6f7fd5bfaf2e9ebffffeecd67adbf7c67f17efd5d75eba6ffeba7fff47a91e"
        + "b1bfbb53e8abfb5762abe8ff237279bfefbfeef5ffc5febfdfe5adffadfee1fb737ffffbfd9f6aeffeee76b6fd8f72ef"

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    @Test func filterOfTheBEPAddressesMatchesItsVectors() {
        var filter = ScrapeBloomFilter()
        for last in 0..<256 { filter.insert(DHTEndpoint.IP("192.0.2.\(last)")!) }
        #expect(Self.hex(filter.bytes) == Self.v4Vector)
        #expect(abs(filter.estimatedCount - 257.854) < 0.001)
        for suffix in 0..<0x3e8 { filter.insert(DHTEndpoint.IP("2001:db8::" + String(suffix, radix: 16))!) }
        #expect(Self.hex(filter.bytes) == Self.fullVector)
        #expect(abs(filter.estimatedCount - 1224.93) < 0.001)
    }

    @Test func filtersOfWrongLengthAreRejectedByTheCodec() {
        #expect(ScrapeBloomFilter(bytes: [UInt8](repeating: 0, count: 255)) == nil)
        let id = String(repeating: "a", count: 20)
        let bad = Array("d1:rd4:BFsd3:abc2:id20:\(id)e1:t2:aa1:y1:re".utf8)
        #expect(throws: DHTError.self) { try KRPCCodec.decode(bad) }
    }

    @Test func scrapeRequestAndFiltersRoundTripThroughTheCodec() throws {
        let query = KRPCMessage.query(
            KRPCQueryMessage(
                transactionID: [1], senderID: T.id(1),
                query: .getPeers(infoHash: T.id(2), want: [], noSeed: false, scrape: true)))
        #expect(try KRPCCodec.decode(KRPCCodec.encode(query)) == query)
        var response = KRPCResponse(senderID: T.id(3), token: [9])
        var seeds = ScrapeBloomFilter()
        seeds.insert(.v4(0x0a00_0001))
        response.seedsFilter = seeds
        response.downloadersFilter = ScrapeBloomFilter()
        let message = KRPCMessage.response(KRPCResponseMessage(transactionID: [1], response: response))
        let encoded = KRPCCodec.encode(message)
        #expect(encoded.count < 600)
        #expect(try KRPCCodec.decode(encoded) == message)
    }

    /// libtorrent's test: 50 downloaders and 50 seeds announce from random addresses; a scrape estimates
    /// each within 3.
    @Test func nodeAnswersScrapeWithFiltersEstimatingSeedsAndDownloaders() {
        var node = DHTNode(configuration: DHTConfiguration(localID: T.id(0x10), randomSeed: 7), now: T.start)
        let infoHash = T.id(0x33)
        var generator = SystemRandomNumberGenerator()
        for i in 0..<100 {
            let source = DHTEndpoint(
                ip: .v4(UInt32.random(in: 0x0b00_0000...0x7e00_0000, using: &generator)), port: 6000)
            guard
                case .response(let reply)? = T.answer(
                    node.receive(
                        T.query(.getPeers(infoHash: infoHash, want: [], noSeed: false), from: T.id(0x90)),
                        from: source, now: T.start)), let token = reply.response.token
            else {
                Issue.record("no token")
                return
            }
            _ = node.receive(
                T.query(
                    .announcePeer(infoHash: infoHash, port: 8080, token: token, impliedPort: false, seed: i >= 50),
                    from: T.id(0x90)),
                from: source, now: T.start)
        }
        let scrape = T.query(.getPeers(infoHash: infoHash, want: [], noSeed: false, scrape: true), from: T.id(0x91))
        guard case .response(let reply)? = T.answer(node.receive(scrape, from: T.endpoint("11.9.9.9"), now: T.start))
        else {
            Issue.record("no scrape answer")
            return
        }
        #expect(reply.response.values.isEmpty)
        #expect(reply.response.token != nil)
        let seeds = try! #require(reply.response.seedsFilter).estimatedCount
        let downloaders = try! #require(reply.response.downloadersFilter).estimatedCount
        #expect(abs(seeds - 50) <= 3)
        #expect(abs(downloaders - 50) <= 3)
        // An unknown torrent is answered as a plain get_peers: nodes, no filters.
        let other = T.query(.getPeers(infoHash: T.id(0x44), want: [], noSeed: false, scrape: true), from: T.id(0x91))
        guard case .response(let none)? = T.answer(node.receive(other, from: T.endpoint("11.9.9.8"), now: T.start))
        else {
            Issue.record("no answer")
            return
        }
        #expect(none.response.seedsFilter == nil && none.response.downloadersFilter == nil)
    }

    /// A scrape lookup ORs the filters of every node that answered.
    @Test func scrapeLookupMergesTheFiltersOfEveryAnswer() throws {
        var node = DHTNode(configuration: DHTConfiguration(localID: T.id(0x10), randomSeed: 8), now: T.start)
        // Two known nodes, learnt from their queries.
        let a = DHTNodeInfo(id: T.id(0x30), endpoint: T.endpoint("11.0.0.1"))
        let b = DHTNodeInfo(id: T.id(0x31), endpoint: T.endpoint("11.0.0.2"))
        for peer in [a, b] { _ = node.receive(T.query(.ping, from: peer.id), from: peer.endpoint, now: T.start) }
        let (id, actions) = node.scrape(T.id(0x33), now: T.start)
        var completed: DHTLookupResult?
        for action in actions {
            guard let (message, to) = T.message(action), case .query(let query) = message else { continue }
            guard case .getPeers(_, _, _, let scrape) = query.query else {
                Issue.record("not a get_peers")
                continue
            }
            #expect(scrape)
            let sender = to == a.endpoint ? a : b
            var response = KRPCResponse(senderID: sender.id, token: [1])
            var filter = ScrapeBloomFilter()
            filter.insert(to == a.endpoint ? .v4(0x0c00_0001) : .v4(0x0c00_0002))
            response.seedsFilter = filter
            response.downloadersFilter = ScrapeBloomFilter()
            let reply = KRPCCodec.encode(
                .response(KRPCResponseMessage(transactionID: query.transactionID, response: response)))
            for next in node.receive(reply, from: to, now: T.start + .milliseconds(50)) {
                if case .lookupCompleted(let result) = next { completed = result }
            }
        }
        let result = try #require(completed)
        #expect(result.id == id)
        let scrape = try #require(result.scrape)
        #expect(scrape.answers == 2)
        #expect(scrape.estimatedSeeds == 2)
        #expect(scrape.estimatedDownloaders == 0)
    }
}
