import BTMetainfo
import BTTracker
import NIOCore
import Testing

/// A torrent being checked is not announced on local discovery, but the peers announced for it are taken
/// (`accept`): libtorrent announces three times in its first seconds and then every five minutes, so peers
/// dropped while we check would be lost for minutes. A private torrent is never accepted; `remove` forgets it.
@Suite struct LocalDiscoveryAcceptsPeersOfACheckingTorrent {
    static let now = NIODeadline.uptimeNanoseconds(1_000_000_000)
    static let hash = [UInt8](repeating: 9, count: 20)
    static let peer = IPAddress("192.168.1.30")!
    static let announce = LocalDiscoveryMessage(group: .ipv4, port: 51413, infoHashes: [hash], cookie: "cd")

    @Test func anAcceptedTorrentTakesPeersWithoutBeingAnnounced() {
        var announcer = LocalDiscoveryAnnouncer(cookie: "ab", listenPort: 6881)
        let before = announcer.received(Self.announce.encoded(), from: Self.peer, now: Self.now)
        #expect(before == .failure(.unknownTorrents))
        announcer.accept(infoHash: Self.hash, isPrivate: false)
        #expect(announcer.due(now: Self.now).isEmpty && announcer.infoHashes.isEmpty)
        let taken = announcer.received(Self.announce.encoded(), from: Self.peer, now: Self.now)
        #expect(taken == .success([.init(infoHash: Self.hash, address: Self.peer, port: 51413)]))
        announcer.remove(infoHash: Self.hash)
        #expect(announcer.acceptedInfoHashes.isEmpty)
        let after = announcer.received(Self.announce.encoded(), from: Self.peer, now: Self.now + .seconds(1))
        #expect(after == .failure(.unknownTorrents))
    }

    @Test func aPrivateTorrentIsNeverAccepted() {
        var announcer = LocalDiscoveryAnnouncer(cookie: "ab", listenPort: 6881)
        announcer.accept(infoHash: Self.hash, isPrivate: true)
        #expect(announcer.acceptedInfoHashes.isEmpty)
        #expect(
            announcer.received(Self.announce.encoded(), from: Self.peer, now: Self.now) == .failure(.unknownTorrents))
    }
}
