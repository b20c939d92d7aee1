import Testing

@testable import BTTracker

@Test(arguments: [
    "::", "::1", "2001:db8::1", "fe80::1:2", "2001:db8:0:0:1::1", "1:2:3:4:5:6:7:8", "::ffff:10.1.2.3",
    "2001:db8::", "1::", "0:1:2:3:4:5:6::",
])
func ipv6TextRoundTrips(text: String) throws {
    let bytes = try #require(IPAddressBytes.parse(text))
    #expect(bytes.count == 16)
    #expect(IPAddressBytes.parse(IPAddressText.ipv6(bytes)) == bytes)
}

@Test func rfc5952CompressesTheLongestZeroRun() throws {
    #expect(
        IPAddressText.ipv6(try #require(IPAddressBytes.parse("2001:0db8:0000:0000:0001:0000:0000:0001")))
            == "2001:db8::1:0:0:1")
    #expect(IPAddressText.ipv6(try #require(IPAddressBytes.parse("1:0:2:3:4:5:6:7"))) == "1:0:2:3:4:5:6:7")
}

@Test(arguments: ["1.2.3", "1.2.3.4.5", "256.1.1.1", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", ":::", "a.b.c.d", ""])
func badAddressesDoNotParse(text: String) {
    #expect(IPAddressBytes.parse(text) == nil)
}

@Test func trackerURLsAreSplit() throws {
    let udp = try TrackerURL("udp://Tracker.Example:6969/announce?passkey=1#frag")
    #expect(udp.scheme == .udp && udp.host == "tracker.example" && udp.port == 6969)
    #expect(udp.pathAndQuery == "/announce?passkey=1")
    let v6 = try TrackerURL("http://[2001:db8::1]/announce")
    #expect(v6.host == "2001:db8::1" && v6.port == 80)
    let bare = try TrackerURL("https://t.example?x=1")
    #expect(bare.port == 443 && bare.pathAndQuery == "/?x=1")
}
