import BTMetainfo
import NIOCore
import Testing

@testable import BTWire

@Test func extensionHandshakeEncodesEveryFieldCanonically() throws {
    let handshake = ExtensionHandshake(
        messages: ["ut_metadata": 2, "ut_pex": 1], client: "NetBitTorrent 0.1.0", listenPort: 6881,
        requestQueueLength: 250, yourIP: [127, 0, 0, 1], ipv6: [UInt8](repeating: 0, count: 15) + [1],
        ipv4: [10, 0, 0, 2], metadataSize: 31235, uploadOnly: true)
    let expected: [UInt8] =
        Array("d4:ipv44:".utf8) + [10, 0, 0, 2] + Array("4:ipv616:".utf8) + [UInt8](repeating: 0, count: 15) + [1]
        + Array("1:md11:ut_metadatai2e6:ut_pexi1ee13:metadata_sizei31235e1:pi6881e4:reqqi250e".utf8)
        + Array("11:upload_onlyi1e1:v19:NetBitTorrent 0.1.06:yourip4:".utf8) + [127, 0, 0, 1] + Array("e".utf8)
    let bytes = handshake.encoded()
    #expect(bytes == expected)
    #expect(try ExtensionHandshake(decoding: bytes) == handshake)
}

@Test func extensionHandshakeFromLibtorrentDecodes() throws {
    // The shape libtorrent 2.0 sends (keys sorted, unknown keys present).
    let bytes = Array(
        "d12:complete_agoi-1e1:md11:lt_donthavei7e10:share_modei8e11:upload_onlyi3e12:ut_holepunchi4e11:ut_metadatai2e6:ut_pexi1ee13:metadata_sizei192e4:reqqi500e11:upload_onlyi1e1:v18:libtorrent 2.0.8.06:yourip4:\u{7f}\0\0\u{01}e"
            .utf8)
    let handshake = try ExtensionHandshake(decoding: bytes)
    #expect(handshake.messages["ut_metadata"] == 2 && handshake.messages["ut_pex"] == 1)
    #expect(handshake.messages.count == 6)
    #expect(handshake.requestQueueLength == 500 && handshake.metadataSize == 192 && handshake.uploadOnly == true)
    #expect(handshake.client == "libtorrent 2.0.8.0" && handshake.yourIP == [127, 0, 0, 1])
}

@Test func extensionHandshakeRejectsNonDictionariesAndOversizedInput() {
    for bad in ["le", "i1e", "d1:m3:abce", "d1:md", "", "d13:metadata_sizei-1ee"] {
        #expect(throws: WireError.self, "\(bad)") { try ExtensionHandshake(decoding: Array(bad.utf8)) }
    }
    var many = "d1:md"
    for i in 0..<200 { many += "5:e\(1000 + i)i1e" }
    many += "ee"
    #expect(throws: WireError.self) { try ExtensionHandshake(decoding: Array(many.utf8)) }
    #expect(throws: WireError.self) {
        try ExtensionHandshake(decoding: [UInt8](repeating: 0x20, count: 70_000))
    }
}

@Test func pexMessageEncodesCompactListsAndRoundTrips() throws {
    let message = PEXMessage(
        added: [
            PeerEndpoint(address: IPAddress("127.0.0.2")!, port: 6881),
            PeerEndpoint(address: IPAddress("10.1.2.3")!, port: 80),
        ],
        addedFlags: [0x02, 0x11],
        added6: [PeerEndpoint(address: IPAddress("::1")!, port: 51413)], added6Flags: [0x04],
        dropped: [PeerEndpoint(address: IPAddress("192.168.1.1")!, port: 1)],
        dropped6: [PeerEndpoint(address: IPAddress("2001:db8::")!, port: 2)])
    let bytes = message.encoded()
    let prefix: [UInt8] =
        Array("d5:added12:".utf8) + [127, 0, 0, 2, 0x1a, 0xe1, 10, 1, 2, 3, 0, 80] + Array("7:added.f2:".utf8)
        + [0x02, 0x11] + Array("6:added618:".utf8)
    #expect(bytes.starts(with: prefix))
    #expect(try PEXMessage(decoding: bytes) == message)
    #expect(message.added[0].description == "127.0.0.2:6881")
    #expect(message.dropped6[0].description == "[2001:db8::]:2")
    #expect(PEXMessage().encoded() == Array("d5:added0:7:dropped0:e".utf8))
}

@Test func pexMessageRejectsRaggedListsAndTooManyPeers() {
    #expect(throws: WireError.self) { try PEXMessage(decoding: Array("d5:added5:abcdee".utf8)) }
    #expect(throws: WireError.self) { try PEXMessage(decoding: Array("d5:added6:abcdef7:added.f2:xxe".utf8)) }
    #expect(throws: WireError.self) { try PEXMessage(decoding: Array("d8:dropped617:abcdefghijklmnopqe".utf8)) }
    let many = [UInt8]("d5:added1206:".utf8) + [UInt8](repeating: 1, count: 1206) + [UInt8]("e".utf8)
    #expect(throws: WireError.self) { try PEXMessage(decoding: many) }
    #expect((try? PEXMessage(decoding: many, limits: .init(maxPeersPerList: 201)))?.added.count == 201)
}

@Test func metadataMessagesMatchBEP9Examples() throws {
    #expect(MetadataMessage.request(piece: 0).encoded() == Array("d8:msg_typei0e5:piecei0ee".utf8))
    #expect(MetadataMessage.reject(piece: 0).encoded() == Array("d8:msg_typei2e5:piecei0ee".utf8))
    let data = MetadataMessage.data(piece: 0, totalSize: 3425, data: [UInt8](repeating: 0x61, count: 3425))
    let bytes = data.encoded()
    #expect(bytes.starts(with: Array("d8:msg_typei1e5:piecei0e10:total_sizei3425ee".utf8)))
    #expect(bytes.count == 44 + 3425)
    #expect(try MetadataMessage(decoding: bytes) == data)
    #expect(try MetadataMessage(decoding: Array("d8:msg_typei0e5:piecei3ee".utf8)) == .request(piece: 3))
}

@Test func metadataMessagesRejectWrongSizesAndTypes() {
    let cases = [
        "d8:msg_typei1e5:piecei0e10:total_sizei3425eexyz",  // data shorter than total_size says
        "d8:msg_typei1e5:piecei1e10:total_sizei3425ee",  // piece beyond the dictionary
        "d8:msg_typei0e5:piecei0eexx",  // request followed by bytes
        "d8:msg_typei7e5:piecei0ee",  // unknown type
        "d8:msg_typei0e5:piecei-1ee",  // negative piece
        "d8:msg_typei1e5:piecei0e10:total_sizei999999999999ee",  // absurd total size
        "d5:piecei0ee",  // no type
    ]
    for text in cases {
        #expect(throws: WireError.self, "\(text)") { try MetadataMessage(decoding: Array(text.utf8)) }
    }
}
