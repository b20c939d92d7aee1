import BTMetainfo
import Testing

@testable import BTTracker

@Test func trackerURLsAreSplit() throws {
    let udp = try TrackerURL("udp://Tracker.Example:6969/announce?passkey=1#frag")
    #expect(udp.scheme == .udp && udp.host == "tracker.example" && udp.port == 6969)
    #expect(udp.pathAndQuery == "/announce?passkey=1")
    #expect(udp.path == "/announce" && udp.hasQuery)
    let v6 = try TrackerURL("http://[2001:db8::1]/announce")
    #expect(v6.host == "2001:db8::1" && v6.port == 80 && !v6.hasQuery)
    let bare = try TrackerURL("https://t.example?x=1")
    #expect(bare.port == 443 && bare.pathAndQuery == "/?x=1")
}

@Test(arguments: [
    ("http://012.0.0.1/announce", "10.0.0.1"), ("http://0x7f.1:80/announce", "127.0.0.1"),
    ("udp://2130706433:6969/announce", "127.0.0.1"), ("http://127.1/announce", "127.0.0.1"),
    ("http://[0:0:0:0:0:0:0:1]/announce", "::1"), ("http://[::FFFF:7F00:1]/announce", "::ffff:127.0.0.1"),
])
func numericHostsBecomeTheAddressTheResolverReads(url: String, host: String) throws {
    #expect(try TrackerURL(url).host == host)
}

@Test(arguments: ["http://[1.2.3.4]/announce", "http://[::1%25lo]/announce", "http://[12345::]/announce"])
func bracketsHoldOnlyIPv6(url: String) {
    #expect(throws: TrackerError.self) { try TrackerURL(url) }
}
