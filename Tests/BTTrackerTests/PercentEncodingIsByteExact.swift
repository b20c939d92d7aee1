import BTTracker
import Testing

@Test func everyByteIsPercentEncodedExceptUnreserved() {
    let all = (0...255).map { UInt8($0) }
    let encoded = HTTPTrackerProtocol.percentEncode(all)
    var expected = ""
    for byte in all {
        let scalar = Character(Unicode.Scalar(byte))
        if scalar.isASCII && (scalar.isLetter || scalar.isNumber || "-._~".contains(scalar)) {
            expected.append(scalar)
        } else {
            let hex = String(byte, radix: 16, uppercase: true)
            expected += "%" + (hex.count == 1 ? "0" + hex : hex)
        }
    }
    #expect(encoded == expected)
}

@Test func announceURLCarriesEveryParameter() {
    let infoHash: [UInt8] = [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf1, 0x23, 0x45] + Array("abcdefghij".utf8)
    let peerID = Array("-NB0010-".utf8) + [0x00, 0xff, 0x20, 0x2b, 0x25, 0x26, 0x3d, 0x7e, 0x2e, 0x2d, 0x5f, 0x41]
    let request = AnnounceRequest(
        infoHash: infoHash, peerID: peerID, port: 6881, uploaded: 10, downloaded: 20, left: 30, event: .started,
        numWant: 50, key: 0xABCD, trackerID: Array("x y".utf8))
    let url = HTTPTrackerProtocol.announceURL("http://t.example/announce", request)
    #expect(
        url == "http://t.example/announce?info_hash=%124Vx%9A%BC%DE%F1%23Eabcdefghij"
            + "&peer_id=-NB0010-%00%FF%20%2B%25%26%3D~.-_A&port=6881&uploaded=10&downloaded=20&left=30"
            + "&compact=1&event=started&numwant=50&key=ABCD&trackerid=x%20y")
}

@Test func announceURLAppendsToAnExistingQueryAndOmitsEventNone() {
    let request = AnnounceRequest(
        infoHash: Array(repeating: 0x41, count: 20), peerID: Array(repeating: 0x42, count: 20), port: 1, left: 0,
        compact: false)
    let url = HTTPTrackerProtocol.announceURL("https://t.example/announce.php?passkey=abc", request)
    #expect(url.hasPrefix("https://t.example/announce.php?passkey=abc&info_hash=AAAAAAAAAAAAAAAAAAAA&"))
    #expect(!url.contains("event="))
    #expect(!url.contains("compact="))
    #expect(!url.contains("numwant="))
}

@Test(arguments: AnnounceEvent.allCases) func eachEventHasItsHTTPName(event: AnnounceEvent) {
    let request = AnnounceRequest(
        infoHash: Array(repeating: 1, count: 20), peerID: Array(repeating: 2, count: 20), port: 1, left: 0, event: event
    )
    let url = HTTPTrackerProtocol.announceURL("http://t/announce", request)
    switch event {
    case .none: #expect(!url.contains("event="))
    case .started: #expect(url.contains("&event=started&"))
    case .completed: #expect(url.contains("&event=completed&"))
    case .stopped: #expect(url.contains("&event=stopped&"))
    }
}
