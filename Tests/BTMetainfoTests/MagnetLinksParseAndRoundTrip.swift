import BTMetainfo
import Testing

/// Magnet links (BEP 9, BEP 52 btmh, BEP 53 so) parse into their parts, format back to a link that parses to
/// the same value, and malformed links are rejected with `.invalidMagnet`.
struct MagnetLinksParseAndRoundTrip {
    static let v1Hex = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
    static let v2Hex = "d8dd32ac93357c368556af3ac1d95c9d76bd0dff6fa9833ecdac3d53134efabb"

    @Test func hexV1WithEveryParameter() throws {
        let magnet = try MagnetLink(
            parsing: "magnet:?xt=urn:btih:\(Self.v1Hex.uppercased())&dn=Big+Buck%20Bunny&tr=udp%3A%2F%2Ft1%3A80"
                + "&tr=http://t2/a&tr.1=http://t3/a&ws=http%3A%2F%2Fseed%2F&x.pe=10.0.0.1:6881"
                + "&x.pe=%5B2001:db8::1%5D:51413&x.pe=host.example:1&so=0,2,4-6&unknown=ignored")
        #expect(magnet.infoHashes.v1.map(InfoHashes.hex) == Self.v1Hex)
        #expect(magnet.infoHashes.v2 == nil)
        #expect(magnet.displayName == "Big Buck Bunny")
        #expect(magnet.trackers == ["udp://t1:80", "http://t2/a", "http://t3/a"])
        #expect(magnet.webSeeds == ["http://seed/"])
        #expect(
            magnet.peers == [
                .init(host: "10.0.0.1", port: 6881), .init(host: "2001:db8::1", port: 51413),
                .init(host: "host.example", port: 1),
            ])
        #expect(magnet.selectOnly == [0...0, 2...2, 4...6])
        #expect(try MagnetLink(parsing: magnet.uri) == magnet)
    }

    @Test func base32V1() throws {
        // Base32 of the same 20 bytes.
        let magnet = try MagnetLink(parsing: "magnet:?xt=urn:btih:YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK")
        #expect(magnet.infoHashes.v1.map(InfoHashes.hex) == Self.v1Hex)
        #expect(magnet.uri == "magnet:?xt=urn:btih:\(Self.v1Hex)")
    }

    @Test func v2AndHybrid() throws {
        let v2 = try MagnetLink(parsing: "magnet:?xt=urn:btmh:1220\(Self.v2Hex)&dn=x")
        #expect(v2.infoHashes.v1 == nil)
        #expect(v2.infoHashes.v2.map(InfoHashes.hex) == Self.v2Hex)
        #expect(v2.infoHashes.wire.count == 20)
        let hybrid = try MagnetLink(
            parsing: "MAGNET:?xt=urn:btmh:1220\(Self.v2Hex)&xt=urn:btih:\(Self.v1Hex)&xt=urn:ed2k:abc")
        #expect(hybrid.infoHashes.v1.map(InfoHashes.hex) == Self.v1Hex)
        #expect(hybrid.infoHashes.v2.map(InfoHashes.hex) == Self.v2Hex)
        #expect(try MagnetLink(parsing: hybrid.uri) == hybrid)
    }

    @Test func fromTorrentKeepsTrackersInOrder() throws {
        let magnet = MagnetLink(
            infoHashes: InfoHashes(v1: [UInt8](repeating: 1, count: 20), v2: nil), displayName: "ü & = + %",
            trackers: ["http://a/?x=1&y=2"], selectOnly: [1...3])
        let parsed = try MagnetLink(parsing: magnet.uri)
        #expect(parsed == magnet)
    }

    @Test(arguments: [
        "", "http://x", "magnet:", "magnet:?dn=noxt", "magnet:?xt=urn:btih:123",
        "magnet:?xt=urn:btih:zz2fe1c06bba254a9dc9f519b335aa7c1367a88a",
        "magnet:?xt=urn:btih:11111111111111111111111111111111",  // '1' is not base32
        "magnet:?xt=urn:btmh:1114\(String(repeating: "a", count: 40))",
        "magnet:?xt=urn:btmh:1220abcd",
        "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&xt=urn:btih:0000000000000000000000000000000000000000",
        "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&dn=%zz",
        "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&dn=%4",
        "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&dn=%ff",
        "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&x.pe=1.2.3.4",
        "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&x.pe=1.2.3.4:0",
        "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&x.pe=1.2.3.4:70000",
        "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&x.pe=[::1:80",
        "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&x.pe=::1:80",
        "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&so=3-1",
        "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&so=1,,2",
        "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&so=-1",
        "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&so=1-2-3",
        "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&noequals",
    ])
    func malformedLinksAreRejected(link: String) {
        do {
            let magnet = try MagnetLink(parsing: link)
            Issue.record("accepted \(link) as \(magnet)")
        } catch {
            #expect(error.code == .invalidMagnet)
        }
    }
}
