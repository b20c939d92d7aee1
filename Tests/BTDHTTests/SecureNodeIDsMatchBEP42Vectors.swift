import BTDHT
import NIOCore
import Testing

@Suite struct SecureNodeIDsMatchBEP42Vectors {
    /// BEP 42's table (also libtorrent's test_dht.cpp): IP, r and the id prefix (first 21 bits count).
    static let vectors: [(String, UInt8, [UInt8])] = [
        ("124.31.75.21", 1, [0x5f, 0xbf, 0xbf]),
        ("21.75.31.124", 86, [0x5a, 0x3c, 0xe9]),
        ("65.23.51.170", 22, [0xa5, 0xd4, 0x32]),
        ("84.124.73.14", 65, [0x1b, 0x03, 0x21]),
        ("43.213.53.83", 90, [0xe5, 0x6f, 0x6c]),
    ]

    @Test(arguments: vectors.indices)
    func generatedIDsHaveTheBEPPrefix(_ i: Int) {
        let (ip, r, prefix) = Self.vectors[i]
        let id = SecureNodeID.generate(for: DHTEndpoint.IP(ip)!, random: r, rest: .zero)
        #expect(id[byte: 0] == prefix[0])
        #expect(id[byte: 1] == prefix[1])
        #expect(id[byte: 2] & 0xf8 == prefix[2] & 0xf8)
        #expect(id[byte: 19] == r)
        #expect(SecureNodeID.isValid(id, for: DHTEndpoint.IP(ip)!))
    }

    /// The BEP's full example id for 124.31.75.21 is valid from that address and not from another.
    @Test func exampleIDIsValidOnlyFromItsAddress() {
        let id = NodeID(hex: "5fbfbff10c5d6a4ec8a88e4c6ab4c28b95eee401")!
        #expect(SecureNodeID.isValid(id, for: DHTEndpoint.IP("124.31.75.21")!))
        #expect(!SecureNodeID.isValid(id, for: DHTEndpoint.IP("124.31.75.22")!))
        #expect(!SecureNodeID.isValid(id, for: DHTEndpoint.IP("21.75.31.124")!))
        #expect(!SecureNodeID.isValid(id.flippingBit(3), for: DHTEndpoint.IP("124.31.75.21")!))
        // Loopback and private addresses are exempt (libtorrent's verify_id).
        #expect(SecureNodeID.isValid(id, for: DHTEndpoint.IP("127.0.0.1")!))
        #expect(SecureNodeID.isValid(id, for: DHTEndpoint.IP("192.168.1.1")!))
    }

    @Test func ipv6IDsVerify() {
        var random = DHTRandom(seed: 5)
        let ip = DHTEndpoint.IP("2001:db8:85a3::8a2e:370:7334")!
        for _ in 0..<50 {
            let id = SecureNodeID.generate(for: ip, using: &random)
            #expect(SecureNodeID.isValid(id, for: ip))
        }
    }

    /// Enforcement is a switch: with it on, the table refuses an id that does not match its address.
    @Test(arguments: [true, false])
    func enforcementIsASwitch(_ enforce: Bool) {
        var table = RoutingTable(
            localID: T.id(0), configuration: RoutingTableConfiguration(enforceSecureIDs: enforce), now: T.start)
        let forged = DHTNodeInfo(id: T.id(0x80), endpoint: T.endpoint("124.31.75.21"))
        let honest = DHTNodeInfo(
            id: SecureNodeID.generate(for: DHTEndpoint.IP("21.75.31.124")!, random: 86, rest: T.id(0x40)),
            endpoint: T.endpoint("21.75.31.124"))
        let forgedAccepted = table.heard(from: forged, responded: true, now: T.start)
        let honestAccepted = table.heard(from: honest, responded: true, now: T.start)
        #expect(forgedAccepted == !enforce)
        #expect(honestAccepted)
        #expect(table.count == (enforce ? 1 : 2))
    }
}
