import BTTracker
import Testing

private let request = AnnounceRequest(
    infoHash: Array(0..<20), peerID: Array(100..<120), port: 51413, uploaded: 1 << 40, downloaded: 7, left: 99,
    event: .completed, numWant: 30, key: 0xdead_beef)

@Test func announceRequestHasTheBEP15Layout() throws {
    let bytes = UDPTrackerPacket.announceRequest(
        connectionID: 0x0102_0304_0506_0708, transactionID: 0x0a0b_0c0d, request, urlData: []
    ).encoded()
    #expect(bytes.count == 98)
    #expect(Array(bytes[0..<8]) == [1, 2, 3, 4, 5, 6, 7, 8])
    #expect(Array(bytes[8..<16]) == [0, 0, 0, 1, 0x0a, 0x0b, 0x0c, 0x0d])
    #expect(Array(bytes[16..<36]) == Array(0..<20))
    #expect(Array(bytes[36..<56]) == Array(100..<120))
    #expect(Array(bytes[56..<64]) == [0, 0, 0, 0, 0, 0, 0, 7])  // downloaded
    #expect(Array(bytes[64..<72]) == [0, 0, 0, 0, 0, 0, 0, 99])  // left
    #expect(Array(bytes[72..<80]) == [0, 0, 1, 0, 0, 0, 0, 0])  // uploaded
    #expect(Array(bytes[80..<84]) == [0, 0, 0, 1])  // completed
    #expect(Array(bytes[88..<92]) == [0xde, 0xad, 0xbe, 0xef])
    #expect(Array(bytes[92..<96]) == [0, 0, 0, 30])
    #expect(Array(bytes[96..<98]) == [0xc8, 0xd5])
}

@Test func connectRequestCarriesTheMagic() {
    #expect(
        UDPTrackerPacket.connectRequest(transactionID: 0x1234_5678).encoded()
            == [0, 0, 4, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78])
}

@Test func urlDataIsSplitIntoBEP41Options() throws {
    let path = Array(("/announce?" + String(repeating: "k", count: 300)).utf8)
    let packet = UDPTrackerPacket.announceRequest(connectionID: 1, transactionID: 2, request, urlData: path)
    let bytes = packet.encoded()
    #expect(bytes[98] == 2 && bytes[99] == 255)
    #expect(bytes[98 + 2 + 255] == 2 && Int(bytes[98 + 2 + 255 + 1]) == path.count - 255)
    #expect(try UDPTrackerPacket.decodeRequest(bytes) == packet)
}

@Test func requestsRoundTrip() throws {
    let packets: [UDPTrackerPacket] = [
        .connectRequest(transactionID: 9),
        .announceRequest(connectionID: 5, transactionID: 6, request, urlData: Array("/ann?x=1".utf8)),
        .scrapeRequest(connectionID: 5, transactionID: 7, infoHashes: [Array(0..<20), Array(20..<40)]),
    ]
    for packet in packets { #expect(try UDPTrackerPacket.decodeRequest(packet.encoded()) == packet) }
}

@Test func responsesRoundTripOverIPv4AndIPv6() throws {
    let v4: UDPTrackerPacket = .announceResponse(
        transactionID: 1, interval: 1800, leechers: 2, seeders: 3,
        peers: [TrackerPeer(host: "127.0.0.1", port: 6881), TrackerPeer(host: "10.0.0.2", port: 1)])
    let v6: UDPTrackerPacket = .announceResponse(
        transactionID: 1, interval: 1800, leechers: 2, seeders: 3, peers: [TrackerPeer(host: "2001:db8::5", port: 80)])
    #expect(try UDPTrackerPacket.decodeResponse(v4.encoded(), ipv6: false) == v4)
    #expect(try UDPTrackerPacket.decodeResponse(v6.encoded(), ipv6: true) == v6)
    let others: [UDPTrackerPacket] = [
        .connectResponse(transactionID: 4, connectionID: 0xffee_ddcc_bbaa_9988),
        .scrapeResponse(transactionID: 5, entries: [.init(seeders: 1, completed: 2, leechers: 3)]),
        .error(transactionID: 6, message: "go away"),
    ]
    for packet in others { #expect(try UDPTrackerPacket.decodeResponse(packet.encoded(), ipv6: false) == packet) }
}

@Test(arguments: [
    [UInt8](), [0, 0, 0, 0, 1, 2, 3], [0, 0, 0, 0, 1, 2, 3, 4, 9], [0, 0, 0, 1, 0, 0, 0, 1, 0, 0],
    [0, 0, 0, 9, 0, 0, 0, 1],
])
func truncatedOrUnknownResponsesAreTypedErrors(bytes: [UInt8]) {
    #expect {
        try UDPTrackerPacket.decodeResponse(bytes, ipv6: false)
    } throws: { ($0 as? TrackerError)?.code == .malformedPacket }
}

/// Found by FuzzTrackerUDP: an error message of invalid UTF-8 grows when its bytes are replaced by U+FFFD
/// (three bytes each), so a message cut before the replacement re-encoded past the cut and decoded shorter.
@Test func errorMessagesOfInvalidUTF8RoundTripWithinTheirBound() throws {
    for filler: [UInt8] in [Array(repeating: 0xff, count: 1500), Array(repeating: 0xe2, count: 1023) + [0x82]] {
        let bytes: [UInt8] = [0, 0, 0, 3, 0, 0, 0, 7] + filler
        let decoded = try UDPTrackerPacket.decodeResponse(bytes, ipv6: false)
        guard case .error(_, let message) = decoded else {
            Issue.record("not an error packet: \(decoded)")
            continue
        }
        #expect(message.utf8.count <= 1024)
        #expect(try UDPTrackerPacket.decodeResponse(decoded.encoded(), ipv6: false) == decoded)
    }
}
