import BTMetainfo
import BTTracker
import NIOCore
import Testing

/// ``LocalDiscoveryAnnouncer`` on a virtual clock: a torrent is announced at once, 2 s and 4 s later, then every
/// interval; due torrents share one message and messages keep their spacing; private torrents are never
/// announced; our own cookie, unknown torrents and senders over their limit name no peer.
@Suite struct LocalDiscoveryAnnouncerRateLimitsBothWays {
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
    static func hash(_ n: UInt8) -> [UInt8] { [UInt8](repeating: n, count: 20) }
    static let peer = IPAddress("192.168.1.20")!

    /// Times (seconds from start) at which `announcer` sends, stepping the clock by 100 ms up to `seconds`.
    static func sendTimes(_ announcer: inout LocalDiscoveryAnnouncer, until seconds: Int) -> [(Double, Int)] {
        var sent: [(Double, Int)] = []
        for step in 0...(seconds * 10) {
            let now = start + .milliseconds(Int64(step) * 100)
            for message in announcer.due(now: now) { sent.append((Double(step) / 10, message.infoHashes.count)) }
        }
        return sent
    }

    @Test func torrentIsAnnouncedThreeTimesThenEveryInterval() {
        var announcer = LocalDiscoveryAnnouncer(cookie: "ab", listenPort: 6881)
        announcer.add(infoHash: Self.hash(1), isPrivate: false, now: Self.start)
        let times = Self.sendTimes(&announcer, until: 700).map(\.0)
        #expect(times == [0, 2, 6, 306, 606])
    }

    @Test func dueTorrentsShareOneMessageAndMessagesKeepTheirSpacing() {
        var announcer = LocalDiscoveryAnnouncer(cookie: "ab", listenPort: 6881)
        for n in UInt8(1)...25 { announcer.add(infoHash: Self.hash(n), isPrivate: false, now: Self.start) }
        let sent = Self.sendTimes(&announcer, until: 1)
        // 25 due at once: 20 in the first message, 5 in the next, half a second later.
        #expect(sent.map(\.1) == [20, 5])
        #expect(sent.map(\.0) == [0, 0.5])
        let message = announcer.due(now: Self.start + .seconds(10)).first
        #expect(message?.port == 6881 && message?.cookie == "ab" && message?.group == .ipv4)
    }

    @Test func privateTorrentIsNeverAnnouncedNorAcceptedFrom() {
        var announcer = LocalDiscoveryAnnouncer(cookie: "ab", listenPort: 6881)
        announcer.add(infoHash: Self.hash(7), isPrivate: true, now: Self.start)
        #expect(Self.sendTimes(&announcer, until: 10).isEmpty)
        let bytes = LocalDiscoveryMessage(group: .ipv4, port: 1, infoHashes: [Self.hash(7)], cookie: "cd").encoded()
        #expect(announcer.received(bytes, from: Self.peer, now: Self.start) == .failure(.unknownTorrents))
    }

    @Test func ownCookieAndUnknownTorrentsNameNoPeer() {
        var announcer = LocalDiscoveryAnnouncer(cookie: "ab", listenPort: 6881)
        announcer.add(infoHash: Self.hash(1), isPrivate: false, now: Self.start)
        let own = LocalDiscoveryMessage(group: .ipv4, port: 6881, infoHashes: [Self.hash(1)], cookie: "ab")
        #expect(announcer.received(own.encoded(), from: Self.peer, now: Self.start) == .failure(.ownCookie))
        let other = LocalDiscoveryMessage(
            group: .ipv4, port: 7000, infoHashes: [Self.hash(2), Self.hash(1)], cookie: "cd")
        let expected = LocalDiscoveryAnnouncer.Peer(infoHash: Self.hash(1), address: Self.peer, port: 7000)
        #expect(announcer.received(other.encoded(), from: Self.peer, now: Self.start) == .success([expected]))
        announcer.remove(infoHash: Self.hash(1))
        #expect(announcer.received(other.encoded(), from: Self.peer, now: Self.start) == .failure(.unknownTorrents))
        guard case .failure(.malformed) = announcer.received([1, 2, 3], from: Self.peer, now: Self.start) else {
            Issue.record("garbage was not reported malformed")
            return
        }
    }

    @Test func senderOverItsLimitIsIgnoredUntilTheNextMinute() {
        var configuration = LocalDiscoveryAnnouncer.Configuration()
        configuration.maximumAcceptedPerMinute = 3
        var announcer = LocalDiscoveryAnnouncer(cookie: "ab", listenPort: 6881, configuration: configuration)
        announcer.add(infoHash: Self.hash(1), isPrivate: false, now: Self.start)
        let bytes = LocalDiscoveryMessage(group: .ipv4, port: 7000, infoHashes: [Self.hash(1)], cookie: "cd").encoded()
        var accepted = 0
        for second in 0..<10 {
            let result = announcer.received(bytes, from: Self.peer, now: Self.start + .seconds(Int64(second)))
            if case .success = result { accepted += 1 } else { #expect(result == .failure(.rateLimited)) }
        }
        #expect(accepted == 3)
        // Another address has its own allowance; the first is heard again a minute later.
        #expect((try? announcer.received(bytes, from: IPAddress("192.168.1.21")!, now: Self.start).get()) != nil)
        #expect((try? announcer.received(bytes, from: Self.peer, now: Self.start + .seconds(61)).get()) != nil)
    }

    @Test func sendersRememberedAreBounded() {
        var configuration = LocalDiscoveryAnnouncer.Configuration()
        configuration.maximumAcceptedPerMinute = 1
        configuration.maximumSenders = 4
        var announcer = LocalDiscoveryAnnouncer(cookie: "ab", listenPort: 6881, configuration: configuration)
        announcer.add(infoHash: Self.hash(1), isPrivate: false, now: Self.start)
        let bytes = LocalDiscoveryMessage(group: .ipv4, port: 7000, infoHashes: [Self.hash(1)], cookie: "cd").encoded()
        for n in 0..<100 {
            let address = IPAddress("10.0.0.\(n)")!
            #expect((try? announcer.received(bytes, from: address, now: Self.start).get()) != nil)
        }
        // The first sender's count was forgotten to make room: it is heard again (a bounded table, not a ban).
        #expect((try? announcer.received(bytes, from: IPAddress("10.0.0.0")!, now: Self.start).get()) != nil)
    }
}
