import BTMetainfo
import Testing

/// `HostAndPort.parse`, the one reader of `host:port` texts (magnet `x.pe`, `nbt --peer`, DHT bootstrap nodes).
@Suite struct HostAndPortIsReadStrictly {
    @Test(arguments: [
        ("127.0.0.1:6881", "127.0.0.1", 6881), ("[::1]:1", "::1", 1), ("router.example:65535", "router.example", 65535),
        ("[2001:db8::7]:443", "2001:db8::7", 443),
    ])
    func wellFormedTextsAreRead(_ text: String, _ host: String, _ port: Int) throws {
        let parsed = try HostAndPort.parse(text).get()
        #expect(parsed == HostAndPort(host: host, port: port))
        #expect(parsed.description == text)
    }

    @Test(arguments: [
        ("2001:db8::7:443", HostAndPort.ParseFailure.shape), ("no-port", .shape), ("[::1]6881", .shape),
        ("[::1", .shape), (":6881", .host), ("a/b:1", .host), ("[]:1", .host), ("host:0", .port),
        ("host:65536", .port), ("host:+80", .port), ("host:", .port), ("host:000080", .port),
    ])
    func malformedTextsAreRefusedWithTheirReason(_ text: String, _ reason: HostAndPort.ParseFailure) {
        #expect(throws: reason) { try HostAndPort.parse(text).get() }
    }

    @Test func aNumericHostHasAnEndpointAndANameHasNone() throws {
        #expect(try HostAndPort.parse("10.0.0.1:80").get().endpoint?.description == "10.0.0.1:80")
        #expect(try HostAndPort.parse("example.org:80").get().endpoint == nil)
    }
}
