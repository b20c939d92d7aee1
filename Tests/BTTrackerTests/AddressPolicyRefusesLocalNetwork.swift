import BTMetainfo
import BTTracker
import Testing

@Test(arguments: [
    ("127.0.0.1", TrackerAddressPolicy.AddressClass.loopback), ("127.8.9.10", .loopback), ("::1", .loopback),
    ("10.0.0.1", .privateNetwork), ("172.16.0.1", .privateNetwork), ("172.31.255.255", .privateNetwork),
    ("192.168.1.1", .privateNetwork), ("100.64.0.1", .privateNetwork), ("fd00::1", .privateNetwork),
    ("169.254.169.254", .linkLocal), ("fe80::1", .linkLocal), ("0.0.0.0", .unspecified), ("::", .unspecified),
    ("224.0.0.1", .reserved), ("255.255.255.255", .reserved), ("ff02::1", .reserved),
    ("8.8.8.8", .publicNetwork), ("172.32.0.1", .publicNetwork), ("2001:db8::1", .publicNetwork),
    ("::ffff:192.168.0.1", .privateNetwork), ("::ffff:127.0.0.1", .loopback),
    // IPv6 forms that embed an IPv4 address are judged by it (issue 12).
    ("::10.0.0.1", .privateNetwork), ("::127.0.0.1", .loopback), ("64:ff9b::10.0.0.1", .privateNetwork),
    ("64:ff9b::a9fe:a9fe", .linkLocal), ("2002:c0a8:1::1", .privateNetwork), ("2002:7f00:1::", .loopback),
    ("2002:808:808::1", .publicNetwork), ("64:ff9b::8.8.8.8", .publicNetwork), ("64:ff9b:1::1", .privateNetwork),
    // Numeric hosts are read as the resolver reads them: octal, hexadecimal, short and integer forms.
    ("012.0.0.1", .privateNetwork), ("0xa.0.0.1", .privateNetwork), ("10.1", .privateNetwork),
    ("167772161", .privateNetwork), ("0251.0376.0251.0376", .linkLocal), ("0", .unspecified),
])
func addressesAreClassified(text: String, expected: TrackerAddressPolicy.AddressClass) throws {
    let address = try #require(IPAddress(text))
    #expect(TrackerAddressPolicy.classify(address) == expected)
}

@Test func defaultPolicyRefusesLocalNetworksAndAllowsLoopbackAndPublic() {
    let policy = TrackerAddressPolicy.default
    #expect(policy.permits(host: "127.0.0.1", address: .v4(0x7F00_0001)))
    #expect(policy.permits(host: "tracker.example", address: IPAddress("93.184.216.34")!))
    #expect(!policy.permits(host: "router.lan", address: IPAddress("192.168.0.1")!))
    #expect(!policy.permits(host: "169.254.169.254", address: IPAddress("169.254.169.254")!))
    #expect(!policy.permits(host: "0.0.0.0", address: .v4(0)))
    let noLoopback = TrackerAddressPolicy(allowLoopback: false)
    #expect(!noLoopback.permits(host: "localhost", address: .v4(0x7F00_0001)))
    let listed = TrackerAddressPolicy(allowedHosts: ["Tracker.LAN"])
    #expect(listed.permits(host: "tracker.lan", address: IPAddress("192.168.0.9")!))
    #expect(TrackerAddressPolicy.allowAll.permits(host: "x", address: IPAddress("10.0.0.1")!))
}

private let request = AnnounceRequest(
    infoHash: Array(repeating: 1, count: 20), peerID: Array(repeating: 2, count: 20), port: 1, left: 0)

@Test(arguments: [
    "http://192.168.1.1/announce", "udp://10.0.0.1:6969/announce", "http://169.254.169.254/latest/meta-data/announce",
    "http://[fe80::1]:80/announce", "https://[fd12::1]/announce", "http://0.0.0.0:80/announce",
    // The bypasses of issue 12: numeric forms the resolver reads as private addresses, and IPv6 embedding them.
    "http://012.0.0.1/announce", "udp://012.0.0.1:6969/announce", "http://0xa.1/announce", "http://167772161/announce",
    "https://0300.0250.1.1/announce", "http://[::ffff:10.0.0.1]/announce", "http://[::10.0.0.1]/announce",
    "http://[64:ff9b::a00:1]/announce", "http://[2002:a00:1::1]/announce", "udp://[64:ff9b::a9fe:a9fe]:6969/x",
])
func clientRefusesLocalNetworkTrackersWithoutContactingThem(url: String) async throws {
    let (error, events) = try await withEvents { client -> TrackerError? in
        do throws(TrackerError) {
            _ = try await client.announce(request, to: url)
            return nil
        } catch {
            return error
        }
    }
    #expect(error?.code == .addressRefused)
    #expect(!events.contains { if case .write = $0 { true } else { false } })
}

@Test func localhostNameResolvesToLoopbackAndIsCheckedByAddress() async throws {
    let port = try Opentracker.freePort()
    let strict = TrackerClient.Configuration(addressPolicy: TrackerAddressPolicy(allowLoopback: false))
    let (error, _) = try await withEvents(strict) { client -> TrackerError? in
        do throws(TrackerError) {
            _ = try await client.announce(request, to: "http://localhost:\(port)/announce")
            return nil
        } catch {
            return error
        }
    }
    #expect(error?.code == .addressRefused)
    // With the default policy the same name is allowed: the attempt reaches the socket (nobody listens).
    let (allowed, _) = try await withEvents(.init(httpTimeout: .seconds(2))) { client -> TrackerError? in
        do throws(TrackerError) {
            _ = try await client.announce(request, to: "http://localhost:\(port)/announce")
            return nil
        } catch {
            return error
        }
    }
    #expect(allowed?.code == .connectionFailed)
}

@Test(arguments: [
    "ftp://t/announce", "http://user@t/announce", "udp://t/announce", "http://t:99999/", "http://[::1/", "nonsense",
    "http://bad host/",
])
func badTrackerURLsAreRefused(url: String) async throws {
    let (error, _) = try await withEvents { client -> TrackerError? in
        do throws(TrackerError) {
            _ = try await client.announce(request, to: url)
            return nil
        } catch {
            return error
        }
    }
    #expect(error?.code == .invalidURL)
}
