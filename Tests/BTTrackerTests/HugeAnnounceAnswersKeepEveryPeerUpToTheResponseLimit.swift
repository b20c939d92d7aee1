import BTTracker
import Testing

/// A lying tracker lists its junk first and the honest peer last (issue 12, attack 7): every peer of an
/// answer that fits the response limit (1 MiB by default, libtorrent's `tracker_maximum_response_length`) is
/// kept, in both the compact and the dictionary form, so the engine, not the parser, chooses whom to dial;
/// past ``HTTPTrackerProtocol/maxPeers`` the list is cut.
@Suite struct HugeAnnounceAnswersKeepEveryPeerUpToTheResponseLimit {
    static func compact(_ count: Int) -> [UInt8] {
        var peers: [UInt8] = []
        peers.reserveCapacity(count * 6)
        for index in 0..<count { peers += [127, 15, UInt8(index >> 8 & 255), UInt8(index & 255), 0, 1] }
        return peers
    }

    @Test func theLastOf40000CompactPeersIsKept() throws {
        let peers = Self.compact(40_000) + [127, 0, 0, 1, 0x1A, 0xE1]
        let body = Array("d8:intervali1800e5:peers\(peers.count):".utf8) + peers + Array("e".utf8)
        let response = try HTTPTrackerProtocol.parseAnnounceResponse(body)
        #expect(response.peers.count == 40_001)
        #expect(response.peers.last?.description == "127.0.0.1:6881")
    }

    @Test func aWhole1MiBCompactAnswerIsKept() throws {
        let count = (1 << 20) / 6 - 10
        let peers = Self.compact(count)
        let body = Array("d8:intervali1800e5:peers\(peers.count):".utf8) + peers + Array("e".utf8)
        #expect(body.count <= 1 << 20)
        let response = try HTTPTrackerProtocol.parseAnnounceResponse(body)
        #expect(response.peers.count == count)
        #expect(HTTPTrackerProtocol.maxPeers >= (1 << 20) / 6)
    }

    @Test func theLastOf20000PeerDictionariesIsKept() throws {
        var body = Array("d8:intervali1800e5:peersl".utf8)
        for index in 0..<20_000 {
            let ip = "127.15.\(index >> 8 & 255).\(index & 255)"
            body += Array("d2:ip\(ip.utf8.count):\(ip)4:porti1ee".utf8)
        }
        body += Array("d2:ip9:127.0.0.14:porti6881eeee".utf8)
        let response = try HTTPTrackerProtocol.parseAnnounceResponse(body)
        #expect(response.peers.count == 20_001)
        #expect(response.peers.last?.description == "127.0.0.1:6881")
    }

    @Test func pastMaxPeersTheListIsCut() throws {
        let peers = Self.compact(HTTPTrackerProtocol.maxPeers + 5)
        let body = Array("d5:peers\(peers.count):".utf8) + peers + Array("e".utf8)
        let response = try HTTPTrackerProtocol.parseAnnounceResponse(body)
        #expect(response.peers.count == HTTPTrackerProtocol.maxPeers)
    }
}
