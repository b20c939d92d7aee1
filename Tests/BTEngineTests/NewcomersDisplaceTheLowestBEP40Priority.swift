import BTMetainfo
import Testing

@testable import BTEngine

/// BEP 40 canonical peer priority (the BEP's and libtorrent's vectors), and peer turnover's use of it: a full
/// peer lets a newcomer in by dropping its lowest-priority connection when the newcomer ranks higher, and
/// only a connection past its priority grace.
@Suite struct NewcomersDisplaceTheLowestBEP40Priority {
    static func endpoint(_ text: String, _ port: UInt16 = 0) -> PeerEndpoint {
        PeerEndpoint(address: IPAddress(text)!, port: port)
    }

    @Test func priorityMatchesTheBEPsVectors() {
        #expect(PeerPriority.of(Self.endpoint("123.213.32.10"), Self.endpoint("98.76.54.32")) == 0xec2d_7224)
        #expect(PeerPriority.of(Self.endpoint("123.213.32.10"), Self.endpoint("123.213.32.234")) == 0x9956_8189)
        // Symmetric.
        #expect(PeerPriority.of(Self.endpoint("98.76.54.32"), Self.endpoint("123.213.32.10")) == 0xec2d_7224)
    }

    @Test func masksFollowTheSharedPrefix() {
        func crc(_ hex: String) -> UInt32 {
            var bytes: [UInt8] = []
            var text = Substring(hex)
            while !text.isEmpty {
                bytes.append(UInt8(text.prefix(2), radix: 16)!)
                text = text.dropFirst(2)
            }
            return PeerPriority.crc32c(bytes)
        }
        // libtorrent's test_peer_priority: same /24 whole, same /16 FF.FF.FF.55, else FF.FF.55.55.
        #expect(
            PeerPriority.of(Self.endpoint("230.12.123.1"), Self.endpoint("230.12.123.3")) == crc("e60c7b01e60c7b03"))
        #expect(PeerPriority.of(Self.endpoint("230.12.23.1"), Self.endpoint("230.12.123.3")) == crc("e60c1701e60c7b01"))
        #expect(
            PeerPriority.of(Self.endpoint("230.120.23.1"), Self.endpoint("230.12.123.3")) == crc("e60c5101e6781501"))
        // Identical addresses: the sorted ports.
        let same = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
        #expect(PeerPriority.of(Self.endpoint(same, 0x4d2), Self.endpoint(same, 0x12c)) == crc("012c04d2"))
        #expect(PeerPriority.of(Self.endpoint(same, 0x12c), Self.endpoint(same, 0x4d2)) == crc("012c04d2"))
        // IPv6: six whole bytes, one more per further shared byte.
        #expect(
            PeerPriority.of(Self.endpoint(same), Self.endpoint("ffff:0fff:ffff:ffff:ffff:ffff:ffff:ffff"))
                == crc("ffff0fffffff55555555555555555555ffffffffffff55555555555555555555"))
        #expect(
            PeerPriority.of(Self.endpoint(same), Self.endpoint("ffff:ffff:ff0f:ffff:ffff:ffff:ffff:ffff"))
                == crc("ffffffffff0fff555555555555555555ffffffffffffff555555555555555555"))
    }

    @Test func aHigherRankedNewcomerDisplacesTheLowestSettledConnection() {
        let turnover = PeerTurnover<Int>()  // priority grace 2 s
        let now = EngineInstant.seconds(100)
        func trading(_ peer: Int, connected: Int64, priority: UInt32) -> PeerTurnover<Int>.PeerSnapshot {
            .init(
                peer: peer, connectedAt: .seconds(connected), lastPayloadAt: now, weAreInterested: true,
                peerInterested: true, priority: priority)
        }
        let peers = [
            trading(1, connected: 10, priority: 500), trading(2, connected: 10, priority: 300),
            trading(3, connected: 99, priority: 100),  // lowest, but connected a second ago
        ]
        #expect(turnover.victimForNewcomer(among: peers, now: now) == nil, "no priority: only idle ones go")
        #expect(turnover.victimForNewcomer(among: peers, newcomerPriority: 400, now: now) == 2)
        #expect(turnover.victimForNewcomer(among: peers, newcomerPriority: 300, now: now) == nil, "not higher")
        #expect(turnover.victimForNewcomer(among: peers, newcomerPriority: 200, now: now) == nil)
        // An idle connection still goes first, whatever its priority.
        let idle = PeerTurnover<Int>.PeerSnapshot(
            peer: 4, connectedAt: .seconds(0), lastPayloadAt: nil, weAreInterested: false, peerInterested: false,
            priority: .max)
        #expect(turnover.victimForNewcomer(among: peers + [idle], newcomerPriority: 400, now: now) == 4)
    }
}
