import BTDHT
import BTMetainfo
import Testing

@testable import BTEngine

/// The client's DHT bootstrap and router texts are read by BTMetainfo's `HostAndPort`, the one `host:port`
/// parser: `[v6]:port` is an IPv6 node, while an unbracketed IPv6 address with a port, a port of 0 and a text
/// without a port are skipped (the engine's own copy of the parser took `::1:6883` as `::1` port 6883 and
/// accepted port 0).
@Suite struct DHTBootstrapTextsAreReadAsHostAndPort {
    @Test func onlyWellFormedHostAndPortTextsBecomeNodes() async {
        let endpoints = await DHTPeerSource.endpoints([
            "127.0.0.2:6881", "[::1]:6882", "::1:6883", "127.0.0.3:0", "127.0.0.4", "[::1]6884", "127.0.0.5:65536",
        ])
        #expect(
            endpoints == [
                DHTEndpoint(ip: .v4(0x7f00_0002), port: 6881), DHTEndpoint(ip: .v6(high: 0, low: 1), port: 6882),
            ])
    }
}
