import BTEngine
import BTMetainfo
import Testing

/// Static ranges (IPv4 and IPv6, CIDR and first-last), eMule and P2P list formats, typed errors, the hook.
@Suite struct IPFilterParsesListsAndBlocksRanges {
    func address(_ text: String) -> IPAddress { IPAddress(text)! }

    @Test func addressesParseAndPrintCanonically() {
        #expect(IPAddress("001.009.096.105", form: .zeroPaddedDecimal) == .v4(0x0109_6069))
        #expect(IPAddress("1.2.3.4")?.description == "1.2.3.4")
        #expect(IPAddress("2001:DB8:0:0:1:0:0:1")?.description == "2001:db8::1:0:0:1")
        #expect(IPAddress("::")?.description == "::")
        #expect(IPAddress("::ffff:10.0.0.1")?.unmapped == .v4(0x0A00_0001))
        for bad in [
            "1.2.3.256", "1.2.3.4.5", "1::2::3", "12345::", "fe80::1%eth0", "", "a.b.c.d", "1:2:3:4:5:6:7:8:9",
        ] {
            #expect(IPAddress(bad) == nil, "\(bad)")
        }
    }

    /// Issue 12: a peer's numeric host is judged as the address the resolver connects to, and IPv6 forms
    /// that embed an IPv4 address as that address.
    @Test func peersAreJudgedByTheAddressTheyReachNotByHowItIsWritten() throws {
        let filter = try IPFilter(parsing: "10.0.0.0/8\n127.0.0.0 - 127.255.255.255")
        for hostile in [
            "012.0.0.1", "0xa.0.0.1", "10.1", "167772161", "::ffff:10.0.0.1", "::10.0.0.1", "64:ff9b::10.0.0.1",
            "2002:a00:1::1", "0177.1", "::ffff:127.0.0.1",
        ] {
            let parsed = try #require(IPAddress(hostile), "\(hostile)")
            #expect(filter.isBlocked(parsed), "\(hostile) reads as \(parsed)")
            #expect(!filter.allows(PeerEndpoint(address: parsed, port: 6881)), "\(hostile)")
        }
        #expect(IPAddress("012.0.0.1") == IPAddress("10.0.0.1"))
        for fine in ["12.0.0.1", "11.0.0.1", "2002:b00:1::1", "64:ff9b::b00:1", "2001:db8::a00:1"] {
            #expect(!filter.isBlocked(try #require(IPAddress(fine))), "\(fine)")
        }
    }

    @Test func everyFormatOfTheListIsUnderstood() throws {
        let list = """
            # comment
            // another comment

            Bad Org: Inc:10.0.0.0-10.0.0.255
            001.002.003.000 - 001.002.003.255 , 000 , eMule blocked
            005.005.005.000 - 005.005.005.255 , 200 , eMule allowed (level above 127)
            192.168.0.0/16
            2001:db8::/32
            2001:db9::1 - 2001:db9::ff
            8.8.8.8
            """
        let filter = try IPFilter(parsing: list)
        for blocked in ["10.0.0.7", "1.2.3.255", "192.168.44.1", "2001:db8:ffff::1", "2001:db9::80", "8.8.8.8"] {
            #expect(filter.isBlocked(address(blocked)), "\(blocked)")
        }
        for allowed in ["10.0.1.0", "5.5.5.5", "192.169.0.0", "2001:dba::", "2001:db9::100", "8.8.8.9", "::1"] {
            #expect(!filter.isBlocked(address(allowed)), "\(allowed)")
        }
        #expect(filter.isBlocked(address("::ffff:10.0.0.1")), "IPv4-mapped IPv6 is checked as IPv4")
    }

    @Test(arguments: [
        ("1.2.3.4 - 1.2.3", 2, EngineError.Code.invalidFilterLine),
        ("garbage", 2, .invalidFilterLine),
        ("1.2.3.0/33", 2, .invalidFilterLine),
        ("1.2.3.9 - 1.2.3.1 , 0 , backwards", 2, .invalidRange),
        ("1.2.3.4 - ::1 , 0 , mixed families", 2, .invalidRange),
        ("1.2.3.4 - 1.2.3.5 , high , no level", 2, .invalidFilterLine),
        ("1.2.3.x - 1.2.3.5 , 0 , bad address", 2, .invalidAddress),
    ])
    func malformedLinesAreReportedWithTheirLineNumber(line: String, number: Int, code: EngineError.Code) {
        let text = "1.1.1.1\n" + line + "\n2.2.2.2\n"
        #expect {
            _ = try IPFilter.parse(text)
        } throws: { error in
            guard let error = error as? EngineError else { return false }
            return error.line == number && error.code == code
        }
    }

    @Test func rangesAreMergedAndLookedUpByBinarySearch() throws {
        var filter = IPFilter()
        filter.block([
            try IPRange(parsing: "1.0.0.0-1.0.0.9"), try IPRange(parsing: "1.0.0.10-1.0.0.20"),
            try IPRange(parsing: "1.0.0.5-1.0.0.6"), try IPRange(parsing: "3.0.0.0/8"),
            try IPRange(parsing: "::/0"),
        ])
        #expect(
            filter.blockedRanges.map(\.description) == [
                "1.0.0.0-1.0.0.20", "3.0.0.0-3.255.255.255",
                "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            ])
        #expect(filter.isBlocked(address("1.0.0.20")) && !filter.isBlocked(address("1.0.0.21")))
        #expect(!filter.isBlocked(address("2.255.255.255")) && filter.isBlocked(address("fe80::1")))
    }

    @Test func theHookCanRefuseAnAddressTheListAllows() throws {
        let seen = Recorder<PeerEndpoint>()
        var filter = try IPFilter(parsing: "10.0.0.0/8")
        filter.hook = { endpoint in
            seen.append(endpoint)
            return endpoint.port != 6666
        }
        let listed = PeerEndpoint(address: address("10.1.1.1"), port: 6881)
        let refused = PeerEndpoint(address: address("2001:db8::1"), port: 6666)
        let fine = PeerEndpoint(address: address("11.1.1.1"), port: 6881)
        #expect(!filter.allows(listed) && !filter.allows(refused) && filter.allows(fine))
        #expect(seen.values == [refused, fine], "the hook is not consulted for listed addresses")
        #expect(refused.description == "[2001:db8::1]:6666" && fine.description == "11.1.1.1:6881")
    }
}
