import Testing

@testable import BTMetainfo

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What the system resolver makes of `text` as a numeric host (`getaddrinfo` with `AI_NUMERICHOST`: no
/// lookup, so no network): the address it would connect to, or nil when it is not a numeric host.
func resolverReading(_ text: String) -> IPAddress? {
    var hints = addrinfo()
    hints.ai_family = AF_UNSPEC
    hints.ai_flags = AI_NUMERICHOST
    var list: UnsafeMutablePointer<addrinfo>?
    guard getaddrinfo(text, nil, &hints, &list) == 0, let first = list else { return nil }
    defer { freeaddrinfo(first) }
    guard let address = first.pointee.ai_addr else { return nil }
    if first.pointee.ai_family == AF_INET {
        let v4 = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
        return IPAddress(bytes: withUnsafeBytes(of: v4) { Array($0) })
    }
    if first.pointee.ai_family == AF_INET6 {
        let v6 = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
        return IPAddress(bytes: withUnsafeBytes(of: v6) { Array($0) })
    }
    return nil
}

/// Numeric hosts in every form `inet_aton` and `inet_pton` know, and near misses: the SSRF bypasses of
/// issue 12 (`012.0.0.1` is octal 10.0.0.1 to the resolver) and their relatives.
let numericHostForms = [
    "127.0.0.1", "012.0.0.1", "0127.0.0.1", "0x7f.0.0.1", "0X7F.0.0.1", "0x7f.1", "127.1", "10.1", "2130706433",
    "0x7f000001", "017700000001", "127.0.1", "192.168.257", "10.0x10000", "1.2.3", "1.2.3.4.5", "256.1.1.1",
    "1.2.3.256", "0x100.1.1.1", "08.1.1.1", "09", "0x", "0x.1.1.1", "0xg", "1..2.3", "1.2.3.4.", ".1.2.3",
    "4294967295", "4294967296", "0xffffffff", "0x100000000", "00000000000000000000127.1", "0x0000000000007f.1",
    "1.2.65535", "1.2.65536", "1.16777215", "1.16777216", "1e2", "-1.2.3.4", "+1.2.3.4", " 1.2.3.4", "1.2.3.4 ",
    "0", "00", "0.0", "255.255.255.255", "a.b.c.d", "", "1.2.3.4x", "0x7f.0x0.0x0.0x1", "0177.00.000.01",
    "::", "::1", "2001:db8::1", "fe80::1:2", "2001:db8:0:0:1::1", "1:2:3:4:5:6:7:8", "::ffff:10.1.2.3",
    "::ffff:012.1.2.3", "::ffff:1.2.3", "::10.1.2.3", "64:ff9b::10.0.0.1", "2002:a00:1::", "1::", "1:2:3:4:5:6:7::",
    "::2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8::", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", ":::", ":1::", "1::2:",
    "::+1", "::-1", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4", "::1.2.3.4:5", "1.2.3.4::", "FFFF::",
    "[::1]", "::00001", "::0001", "0:0:0:0:0:ffff:127.0.0.1",
    // Longer than 256 bytes, found by FuzzAddress: glibc reads any number of leading zeros.
    "00." + String(repeating: "0", count: 251) + "1000021", String(repeating: "0", count: 300) + "12.0.0.1",
    "10.0.0." + String(repeating: "0", count: 400) + "1", String(repeating: "9", count: 300),
]

@Test(arguments: numericHostForms)
func numericHostsAreReadExactlyAsTheResolverReadsThem(text: String) {
    #expect(IPAddress(text) == resolverReading(text), "\(text)")
}

@Test func octalHexShortAndIntegerFormsNameTheAddressTheResolverConnectsTo() {
    #expect(IPAddress("012.0.0.1") == IPAddress("10.0.0.1"))
    #expect(IPAddress("0x7f.1") == .v4(0x7F00_0001))
    #expect(IPAddress("127.1") == .v4(0x7F00_0001))
    #expect(IPAddress("2130706433") == .v4(0x7F00_0001))
    #expect(IPAddress("192.168.257") == IPAddress("192.168.1.1"))
    #expect(IPAddress("012.0.0.1")?.description == "10.0.0.1")
}

@Test func blockListsKeepTheirZeroPaddedDecimal() {
    #expect(IPAddress("001.009.096.105", form: .zeroPaddedDecimal) == .v4(0x0109_6069))
    #expect(IPAddress("012.000.000.001", form: .zeroPaddedDecimal) == IPAddress("12.0.0.1"))
    for bad in ["1.2.3", "0x7f.0.0.1", "2130706433", "256.1.1.1", "1.2.3.4.5", "1234.1.1.1"] {
        #expect(IPAddress(bad, form: .zeroPaddedDecimal) == nil, "\(bad)")
    }
    #expect(IPAddress("2001:db8::1", form: .zeroPaddedDecimal) == IPAddress("2001:db8::1"))
}

@Test(arguments: [
    "::", "::1", "2001:db8::1", "fe80::1:2", "2001:db8:0:0:1::1", "1:2:3:4:5:6:7:8", "::ffff:10.1.2.3",
    "2001:db8::", "1::", "0:1:2:3:4:5:6::", "1.2.3.4", "0.0.0.0", "255.255.255.255",
])
func textRoundTripsThroughTheCanonicalForm(text: String) throws {
    let address = try #require(IPAddress(text))
    #expect(IPAddress(address.description) == address)
    #expect(IPAddress(bytes: address.bytes) == address)
}

@Test func canonicalTextFollowsRFC5952() throws {
    #expect(try #require(IPAddress("2001:0db8:0000:0000:0001:0000:0000:0001")).description == "2001:db8::1:0:0:1")
    #expect(try #require(IPAddress("1:0:2:3:4:5:6:7")).description == "1:0:2:3:4:5:6:7")
    #expect(try #require(IPAddress("0:0:0:0:0:FFFF:7F00:1")).description == "::ffff:127.0.0.1")
}

@Test(arguments: [
    ("::ffff:10.0.0.1", "10.0.0.1"), ("::10.0.0.1", "10.0.0.1"), ("::ffff:127.0.0.1", "127.0.0.1"),
    ("64:ff9b::192.168.0.1", "192.168.0.1"), ("64:ff9b::7f00:1", "127.0.0.1"), ("2002:a9fe:a9fe::1", "169.254.169.254"),
    ("2002:7f00:1::", "127.0.0.1"),
])
func ipv6FormsEmbeddingIPv4YieldTheIPv4Inside(text: String, inner: String) {
    #expect(IPAddress(text)?.embeddedIPv4 == IPAddress(inner))
}

@Test(arguments: ["::", "::1", "2001:db8::1", "fe80::1", "64:ff9b:1::1", "1.2.3.4"])
func otherAddressesEmbedNoIPv4(text: String) {
    #expect(IPAddress(text)?.embeddedIPv4 == nil)
}

@Test func bytesAreNetworkOrder() {
    #expect(IPAddress("1.2.3.4")?.bytes == [1, 2, 3, 4])
    #expect(IPAddress("2001:db8::1")?.bytes == [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1])
    #expect(IPAddress(bytes: [1, 2, 3]) == nil)
}
