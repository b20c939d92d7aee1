import BTMetainfo
import BTWire
import Testing

/// BEP 55 `ut_holepunch`: libtorrent's byte layout both ways, strict decoding of bad lengths and types, and the
/// relay's and the connecting peer's decisions with every error code.
@Suite struct HolepunchMessagesRoundTripAndRolesFollowBEP55 {
    static let a = PeerEndpoint(address: IPAddress("203.0.113.5")!, port: 6881)
    static let b = PeerEndpoint(address: IPAddress("198.51.100.7")!, port: 51413)
    static let v6 = PeerEndpoint(address: IPAddress("2001:db8::1")!, port: 0x1234)

    @Test func messagesEncodeAsLibtorrentWritesThem() throws {
        #expect(HolepunchMessage.rendezvous(Self.a).encoded() == [0, 0, 203, 0, 113, 5, 0x1a, 0xe1])
        #expect(
            HolepunchMessage.connect(Self.v6).encoded() == [1, 1, 0x20, 0x01, 0x0d, 0xb8]
                + [UInt8](repeating: 0, count: 11) + [1, 0x12, 0x34])
        #expect(
            HolepunchMessage.error(.noSupport, about: Self.b).encoded() == [
                2, 0, 198, 51, 100, 7, 0xc8, 0xd5, 0, 0, 0, 3,
            ])
        for message in [
            HolepunchMessage.rendezvous(Self.a), .connect(Self.v6), .error(.noSuchPeer, about: Self.b),
            .error(.notConnected, about: Self.v6), .error(.noSelf, about: Self.a),
        ] {
            #expect(try HolepunchMessage(decoding: message.encoded()) == message)
        }
    }

    @Test(arguments: [
        ("empty", [UInt8]()),
        ("type only", [0]),
        ("unknown type", [3, 0, 1, 2, 3, 4, 0, 1]),
        ("unknown address type", [0, 2, 1, 2, 3, 4, 0, 1]),
        ("short IPv4", [0, 0, 1, 2, 3, 4, 0]),
        ("trailing byte", [1, 0, 1, 2, 3, 4, 0, 1, 9]),
        ("IPv6 type with an IPv4 address", [0, 1, 1, 2, 3, 4, 0, 1]),
        ("error without a code", [2, 0, 1, 2, 3, 4, 0, 1]),
        ("error code zero", [2, 0, 1, 2, 3, 4, 0, 1, 0, 0, 0, 0]),
        ("error code five", [2, 0, 1, 2, 3, 4, 0, 1, 0, 0, 0, 5]),
    ])
    func malformedPayloadIsATypedError(_ name: String, _ bytes: [UInt8]) {
        #expect(throws: WireError.self, "\(name)") { try HolepunchMessage(decoding: bytes) }
    }

    @Test func relayIntroducesBothEndsOrSaysWhyNot() {
        #expect(
            HolepunchRoles.relay(rendezvous: Self.b, from: Self.a, target: .connected(supportsHolepunch: true))
                == .introduce(toRequester: .connect(Self.b), toTarget: .connect(Self.a)))
        #expect(
            HolepunchRoles.relay(rendezvous: Self.b, from: Self.a, target: .unknown)
                == .refuse(.error(.noSuchPeer, about: Self.b)))
        #expect(
            HolepunchRoles.relay(rendezvous: Self.b, from: Self.a, target: .notConnected)
                == .refuse(.error(.notConnected, about: Self.b)))
        #expect(
            HolepunchRoles.relay(rendezvous: Self.b, from: Self.a, target: .connected(supportsHolepunch: false))
                == .refuse(.error(.noSupport, about: Self.b)))
        #expect(
            HolepunchRoles.relay(rendezvous: Self.a, from: Self.a, target: .connected(supportsHolepunch: true))
                == .refuse(.error(.noSelf, about: Self.a)))
        // A local peer is never bridged to a remote one.
        let local = PeerEndpoint(address: IPAddress("192.168.1.9")!, port: 1)
        #expect(
            HolepunchRoles.relay(rendezvous: local, from: Self.a, target: .connected(supportsHolepunch: true))
                == .ignore)
    }

    @Test func peerDialsAConnectButNeverALocalAddressFromARemoteRelay() {
        let relay = IPAddress("203.0.113.200")!
        #expect(HolepunchRoles.endpointToDial(for: .connect(Self.b), from: relay) == Self.b)
        #expect(HolepunchRoles.endpointToDial(for: .rendezvous(Self.b), from: relay) == nil)
        #expect(HolepunchRoles.endpointToDial(for: .error(.noSelf, about: Self.b), from: relay) == nil)
        let local = PeerEndpoint(address: IPAddress("10.1.2.3")!, port: 6881)
        #expect(HolepunchRoles.endpointToDial(for: .connect(local), from: relay) == nil)
        #expect(HolepunchRoles.endpointToDial(for: .connect(local), from: IPAddress("10.0.0.1")!) == local)
        #expect(
            HolepunchRoles.endpointToDial(for: .connect(PeerEndpoint(address: Self.b.address, port: 0)), from: relay)
                == nil)
    }
}
