import BTDHT
import Testing

@Suite struct KRPCMessagesRoundTripAndMatchBEP5 {
    static let a = NodeID(bytes: Array("abcdefghij0123456789".utf8))!
    static let b = NodeID(bytes: Array("mnopqrstuvwxyz123456".utf8))!

    /// BEP 5's own example messages decode to what the BEP says and encode back byte for byte.
    @Test(arguments: [
        ("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe", "ping query"),
        ("d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re", "ping response"),
        ("d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe", "find_node"),
        (
            "d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe",
            "get_peers"
        ),
        (
            "d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe",
            "announce_peer"
        ),
        ("d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee", "error"),
        ("d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re", "values"),
    ])
    func bepExamplesRoundTrip(_ example: (String, String)) throws {
        let bytes = Array(example.0.utf8)
        let message = try KRPCCodec.decode(bytes)
        #expect(KRPCCodec.encode(message) == bytes, "\(example.1)")
    }

    @Test func bepExamplesDecodeToTheirMeaning() throws {
        let announce = try KRPCCodec.decode(
            Array(
                "d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe"
                    .utf8))
        guard case .query(let q) = announce else { Issue.record("not a query"); return }
        #expect(q.senderID == Self.a)
        #expect(q.transactionID == Array("aa".utf8))
        #expect(
            q.query
                == .announcePeer(
                    infoHash: Self.b, port: 6881, token: Array("aoeusnth".utf8), impliedPort: true, seed: false))
        let values = try KRPCCodec.decode(
            Array("d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re".utf8))
        guard case .response(let r) = values else { Issue.record("not a response"); return }
        #expect(r.response.values.count == 2)
        #expect(r.response.values[0] == DHTEndpoint(ip: .v4(0x6178_6a65), port: 0x2e75))
        #expect(r.response.token == Array("aoeusnth".utf8))
        let error = try KRPCCodec.decode(Array("d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee".utf8))
        #expect(
            error
                == .error(
                    KRPCErrorMessage(transactionID: Array("aa".utf8), code: 201, message: "A Generic Error Ocurred")))
    }

    /// Every message this module can build decodes back to itself (BEP 32, 42, 43, 51 fields included).
    @Test func everyMessageKindRoundTrips() throws {
        let v4 = DHTEndpoint("1.2.3.4", port: 6881)!
        let v6 = DHTEndpoint("2001:db8::1", port: 51413)!
        let messages: [KRPCMessage] = [
            .query(KRPCQueryMessage(transactionID: [0, 1], senderID: Self.a, query: .ping, readOnly: true)),
            .query(
                KRPCQueryMessage(
                    transactionID: [9], senderID: Self.a, query: .findNode(target: Self.b, want: [.ipv4, .ipv6]))),
            .query(
                KRPCQueryMessage(
                    transactionID: [], senderID: Self.a,
                    query: .getPeers(infoHash: Self.b, want: [.ipv6], noSeed: true), version: Array("LT\u{1}\u{2}".utf8)
                )),
            .query(
                KRPCQueryMessage(
                    transactionID: [1, 2, 3, 4], senderID: Self.a,
                    query: .announcePeer(infoHash: Self.b, port: 1, token: [1, 2, 3], impliedPort: false, seed: true))),
            .query(
                KRPCQueryMessage(
                    transactionID: [7], senderID: Self.b, query: .sampleInfohashes(target: Self.a, want: []))),
            .query(KRPCQueryMessage(transactionID: [7], senderID: Self.b, query: .unknown(method: Array("vote".utf8)))),
            .response(
                KRPCResponseMessage(
                    transactionID: [5, 5],
                    response: KRPCResponse(
                        senderID: Self.b, nodes: [DHTNodeInfo(id: Self.a, endpoint: v4)],
                        nodes6: [DHTNodeInfo(id: Self.b, endpoint: v6)], values: [v4, v6], token: [1],
                        interval: 21600, storedCount: 3, samples: [Self.a, Self.b]),
                    requesterAddress: v6, version: [1, 2, 3, 4])),
            .error(KRPCErrorMessage(transactionID: [1], code: 204, message: "method unknown")),
        ]
        for message in messages {
            #expect(try KRPCCodec.decode(KRPCCodec.encode(message)) == message)
        }
    }

    /// Found by FuzzDHTKRPC (crash-a87f86de): a method name that is not UTF-8 must survive a round trip
    /// byte for byte (it was turned into U+FFFD characters, re-encoded longer than the limit).
    @Test func nonUTF8MethodNamesRoundTripByteForByte() throws {
        let bytes: [UInt8] =
            Array("d1:ad2:id20:abcdefghij0123456789e1:q13:an".utf8) + [0x8b, 0x90, 0x8a, 0x91, 0x9c, 0x9a, 0xa0]
            + Array("o".utf8) + [0x9a, 0x9a, 0x92] + Array("1:t2:aa1:y1:qe".utf8)
        let message = try KRPCCodec.decode(bytes)
        #expect(KRPCCodec.encode(message) == bytes)
        guard case .query(let q) = message, case .unknown(let method) = q.query else {
            Issue.record("not an unknown query")
            return
        }
        #expect(method.count == 13)
    }

    /// libtorrent sends keys in order, but other clients do not; decoding accepts any order and ignores
    /// unknown keys, as libtorrent does.
    @Test func unsortedKeysAndUnknownKeysAreAccepted() throws {
        let bytes = Array("d1:y1:q1:t2:aa1:q4:ping1:ad2:id20:abcdefghij01234567895:extrai1ee1:zi0ee".utf8)
        #expect(
            try KRPCCodec.decode(bytes)
                == .query(KRPCQueryMessage(transactionID: Array("aa".utf8), senderID: Self.a, query: .ping)))
    }
}
