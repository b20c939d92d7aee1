import BTTracker
import Testing

/// BEP 14's `BT-SEARCH` message: libtorrent's exact bytes parse, ours encode the same way and parse back, and
/// every malformed or oversized datagram is a typed error.
@Suite struct LocalDiscoveryMessageParsesStrictlyAndRoundTrips {
    static let hash: [UInt8] = (0..<20).map { UInt8($0 * 13 & 0xff) }
    static let hex = "000d1a2734414e5b6875828f9ca9b6c3d0ddeaf7"

    @Test func libtorrentsAnnounceParses() throws {
        // render_lsd_packet in libtorrent's lsd.cpp, byte for byte.
        let text =
            "BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\nInfohash: \(Self.hex)\r\n"
            + "cookie: 3f2a91\r\n\r\n\r\n"
        let message = try LocalDiscoveryMessage(parsing: Array(text.utf8))
        #expect(message.group == .ipv4)
        #expect(message.port == 6881)
        #expect(message.infoHashes == [Self.hash])
        #expect(message.cookie == "3f2a91")
        #expect(message.encoded() == Array(text.utf8))
    }

    @Test func severalInfoHashesAnIPv6HostAndAnyHeaderCaseParse() throws {
        let upper = Self.hex.uppercased()
        let text =
            "bt-search * HTTP/1.0\nHOST: [ff15::efc0:988f]:6771\nport:51413\ninfohash: \(upper)\n"
            + "InfoHash: \(String(repeating: "ab", count: 20))\nX-Other: ignored\n\n"
        let message = try LocalDiscoveryMessage(parsing: Array(text.utf8))
        #expect(message.group == .ipv6)
        #expect(message.port == 51413)
        #expect(message.infoHashes == [Self.hash, [UInt8](repeating: 0xab, count: 20)])
        #expect(message.cookie == nil)
        #expect(try LocalDiscoveryMessage(parsing: message.encoded()) == message)
    }

    @Test func infoHashOfAnotherLengthIsSkippedAsLibtorrentDoes() throws {
        let text = "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: abc\r\nInfohash: \(Self.hex)\r\n\r\n"
        #expect(try LocalDiscoveryMessage(parsing: Array(text.utf8)).infoHashes == [Self.hash])
    }

    @Test(arguments: [
        ("not BT-SEARCH", "M-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: \(hex)\r\n\r\n"),
        ("no port", "BT-SEARCH * HTTP/1.1\r\nInfohash: \(hex)\r\n\r\n"),
        ("port zero", "BT-SEARCH * HTTP/1.1\r\nPort: 0\r\nInfohash: \(hex)\r\n\r\n"),
        ("port too large", "BT-SEARCH * HTTP/1.1\r\nPort: 65536\r\nInfohash: \(hex)\r\n\r\n"),
        ("port not a number", "BT-SEARCH * HTTP/1.1\r\nPort: +80\r\nInfohash: \(hex)\r\n\r\n"),
        ("two ports", "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nPort: 2\r\nInfohash: \(hex)\r\n\r\n"),
        ("no info-hash", "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n\r\n"),
        (
            "info-hash not hex",
            "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: \(String(repeating: "zz", count: 20))\r\n\r\n"
        ),
        ("header unfinished", "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: \(hex)\r\n"),
        ("line without colon", "BT-SEARCH * HTTP/1.1\r\nPort 1\r\nInfohash: \(hex)\r\n\r\n"),
        ("empty", ""),
    ])
    func malformedMessageIsATypedError(_ name: String, _ text: String) {
        #expect(throws: TrackerError.self, "\(name)") { try LocalDiscoveryMessage(parsing: Array(text.utf8)) }
    }

    @Test func oversizedDatagramsLinesAndHeaderCountsAreRefused() {
        let long =
            "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: \(Self.hex)\r\nX: \(String(repeating: "a", count: 300))\r\n\r\n"
        #expect(throws: TrackerError.self) { try LocalDiscoveryMessage(parsing: Array(long.utf8)) }
        let many =
            "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: \(Self.hex)\r\n" + String(repeating: "X: 1\r\n", count: 40)
            + "\r\n"
        #expect(many.utf8.count <= LocalDiscoveryMessage.maximumLength)
        #expect(throws: TrackerError.self) { try LocalDiscoveryMessage(parsing: Array(many.utf8)) }
        let huge = [UInt8](repeating: 0x41, count: LocalDiscoveryMessage.maximumLength + 1)
        #expect(throws: TrackerError.self) { try LocalDiscoveryMessage(parsing: huge) }
    }

    @Test func messageFedOneByteShortNeverParses() throws {
        let bytes = LocalDiscoveryMessage(group: .ipv4, port: 6881, infoHashes: [Self.hash], cookie: "1").encoded()
        // The last CRLF pair is libtorrent's extra one: dropping it still leaves a complete header.
        let headerEnd = bytes.count - 2
        for length in 0..<headerEnd {
            #expect(throws: TrackerError.self) { try LocalDiscoveryMessage(parsing: bytes[0..<length]) }
        }
        #expect(try LocalDiscoveryMessage(parsing: bytes[0..<headerEnd]).port == 6881)
    }

    /// Found by fuzzing: a cookie of invalid UTF-8 and a stray CR decoded to replacement characters, which
    /// re-encoded longer than the cookie limit, so the message did not survive a round trip. Such a cookie is
    /// dropped (it cannot be ours); the message is kept, as libtorrent keeps it.
    @Test func aCookieThatIsNotVisibleASCIIIsDroppedAndTheMessageRoundTrips() throws {
        var bytes = Array("BT-SEARCH * HTTP/1.1\r\nPort: 51413\r\nInfohash: \(Self.hex)\r\ncookie: 2\r".utf8)
        bytes += [UInt8](repeating: 0xEC, count: 29) + Array("9ABCDEF\r\n\r\n".utf8)
        let message = try LocalDiscoveryMessage(parsing: bytes)
        #expect(message.cookie == nil)
        #expect(try LocalDiscoveryMessage(parsing: message.encoded()) == message)
        let twice = Array(
            "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: \(Self.hex)\r\ncookie: \u{7}\r\ncookie: 1\r\n\r\n".utf8)
        #expect(throws: TrackerError.self) { try LocalDiscoveryMessage(parsing: twice) }
    }
}
