import NIOCore

/// Limits of a ``PeerStore`` (defaults from libtorrent: `dht_max_peers`, `dht_max_torrents`).
public struct PeerStoreLimits: Hashable, Sendable {
    /// Most torrents tracked.
    public var maximumTorrents: Int
    /// Most peers kept per torrent.
    public var maximumPeersPerTorrent: Int
    /// Most peers kept in all.
    public var maximumPeers: Int
    /// How long an announce stays valid (libtorrent: 1.5 times the 30-minute announce interval).
    public var peerLifetime: TimeAmount
    /// Most peers returned by one `get_peers` (libtorrent: 100; with 6 bytes each this keeps a reply
    /// under one MTU).
    public var maximumPeersPerReply: Int

    /// Creates limits.
    public init(
        maximumTorrents: Int = 2000, maximumPeersPerTorrent: Int = 500, maximumPeers: Int = 100_000,
        peerLifetime: TimeAmount = .minutes(45), maximumPeersPerReply: Int = 100
    ) {
        self.maximumTorrents = maximumTorrents
        self.maximumPeersPerTorrent = maximumPeersPerTorrent
        self.maximumPeers = maximumPeers
        self.peerLifetime = peerLifetime
        self.maximumPeersPerReply = max(1, min(maximumPeersPerReply, KRPCCodec.maximumValues))
    }
}

/// The peers other nodes announced to us (BEP 5 `announce_peer`), with expiry and bounded in torrents,
/// peers per torrent and peers in all.
public struct PeerStore: Sendable {
    struct Entry: Sendable {
        var expiry: NIODeadline
        var seed: Bool
    }

    /// The limits.
    public let limits: PeerStoreLimits
    var torrents: [NodeID: [DHTEndpoint: Entry]] = [:]
    /// Number of peers stored.
    public private(set) var peerCount = 0

    /// Creates an empty store.
    public init(limits: PeerStoreLimits = .init()) { self.limits = limits }

    /// Number of torrents with peers.
    public var torrentCount: Int { torrents.count }

    /// Every info-hash stored.
    public var infoHashes: [NodeID] { torrents.keys.sorted() }

    /// Stores (or refreshes) `peer` for `infoHash`. When the torrent is full a random peer gives way, as in
    /// libtorrent; when the store is full of torrents, the torrent with the fewest peers gives way.
    public mutating func announce(
        _ infoHash: NodeID, peer: DHTEndpoint, seed: Bool, now: NIODeadline,
        using generator: inout some RandomNumberGenerator
    ) {
        let entry = Entry(expiry: now + limits.peerLifetime, seed: seed)
        if torrents[infoHash]?[peer] != nil {
            torrents[infoHash]![peer] = entry
            return
        }
        if torrents[infoHash] == nil {
            if torrents.count >= limits.maximumTorrents {
                guard let smallest = torrents.min(by: { ($0.value.count, $0.key) < ($1.value.count, $1.key) }) else {
                    return
                }
                peerCount -= smallest.value.count
                torrents[smallest.key] = nil
            }
            torrents[infoHash] = [:]
        }
        if torrents[infoHash]!.count >= limits.maximumPeersPerTorrent || peerCount >= limits.maximumPeers {
            guard let victim = torrents[infoHash]!.keys.sorted().randomElement(using: &generator) else { return }
            torrents[infoHash]![victim] = nil
            peerCount -= 1
        }
        torrents[infoHash]![peer] = entry
        peerCount += 1
    }

    /// Up to `maximumPeersPerReply` peers for `infoHash` (a random sample when there are more), leaving out
    /// seeds when `noSeed` is set (BEP 33's `noseed`).
    public func peers(
        for infoHash: NodeID, noSeed: Bool, now: NIODeadline, using generator: inout some RandomNumberGenerator
    ) -> [DHTEndpoint] {
        guard let peers = torrents[infoHash] else { return [] }
        var found = peers.filter { $0.value.expiry > now && !(noSeed && $0.value.seed) }.map(\.key).sorted()
        if found.count > limits.maximumPeersPerReply {
            found.shuffle(using: &generator)
            found.removeLast(found.count - limits.maximumPeersPerReply)
        }
        return found
    }

    /// Drops expired peers and empty torrents.
    public mutating func expire(now: NIODeadline) {
        for infoHash in Array(torrents.keys) {
            let before = torrents[infoHash]!.count
            torrents[infoHash] = torrents[infoHash]!.filter { $0.value.expiry > now }
            peerCount -= before - torrents[infoHash]!.count
            if torrents[infoHash]!.isEmpty { torrents[infoHash] = nil }
        }
    }

    /// BEP 33: bloom filters of the addresses of the seeds and of the downloaders of `infoHash`; nil if no
    /// live peer of it is stored.
    public func scrapeFilters(
        for infoHash: NodeID, now: NIODeadline
    ) -> (seeds: ScrapeBloomFilter, downloaders: ScrapeBloomFilter)? {
        guard let peers = torrents[infoHash] else { return nil }
        var seeds = ScrapeBloomFilter()
        var downloaders = ScrapeBloomFilter()
        var any = false
        for (endpoint, entry) in peers where entry.expiry > now {
            any = true
            if entry.seed { seeds.insert(endpoint.ip) } else { downloaders.insert(endpoint.ip) }
        }
        return any ? (seeds, downloaders) : nil
    }
}
