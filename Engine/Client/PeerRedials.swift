import BTWire
import NIOCore

/// Addresses whose connection failed or dropped, waiting to be dialled again with back-off, as libtorrent
/// keeps a peer's fail count and a reconnect delay in its peer list.
///
/// A dial that fails (nobody listening yet: a seed started a few seconds before its leecher) is retried
/// after 2 s, then 4, 8, ... up to 60 s between tries; a connection that got through its handshake and was
/// then dropped by the remote end waits ``reconnectDelay`` (libtorrent's `min_reconnect_time`) first.
/// Addresses the user gave (`--peer`, ``Client/connect(host:port:for:)``) are retried until the torrent
/// stops; addresses from trackers and other sources are forgotten after ``maximumFailures`` failures in a
/// row (libtorrent's `max_failcount` is 3; a tracker announces them again anyway). A connection that ends
/// for a reason that another try would not change (a filtered or blacklisted address, ourselves, a
/// duplicate, a protocol violation) is not retried.
///
/// Pure: time is passed in. Confined to the client's event loop with the ``TorrentSession`` that owns it.
struct PeerRedials {
    /// One address waiting for its next try.
    struct Entry: Equatable {
        var host: String
        var port: Int
        var source: PeerSource
        /// Failures in a row so far (at least 1).
        var failures: Int
        /// Not dialled before this instant.
        var notBefore: NIODeadline
    }

    /// The first delay; doubled after each further failure.
    static let initialDelay = TimeAmount.seconds(2)
    /// The wait before redialling a peer that was connected (it may have closed on purpose).
    static let reconnectDelay = TimeAmount.seconds(60)
    /// The longest delay between two tries.
    static let maximumDelay = TimeAmount.seconds(60)
    /// Failures in a row after which an address that the user did not give is forgotten.
    static let maximumFailures = 5
    /// Most addresses waiting (as ``PeerCandidates/capacity``); user addresses are always kept.
    static let capacity = 3000

    private(set) var entries: [String: Entry] = [:]

    /// Number of addresses waiting.
    var count: Int { entries.count }

    /// Whether a connection that ended with `reason` is worth another try.
    static func retries(after reason: DisconnectReason) -> Bool {
        switch reason {
        case .byRemote, .ioError, .handshakeTimeout, .tooMany, .hashChecking, .queueFull, .noSuchTorrent:
            // noSuchTorrent: a remote that has not added the torrent yet (its seed starts later).
            return true
        case .loopback, .handshakeInfoHashMismatch, .malformedHandshake, .malformedPacket, .preexisting,
            .bothSeeds, .uselessPeer, .mseSyncFailure, .protocolViolation, .reputation, .blacklisted, .requestFlood,
            .local, .ipFiltered, .sendBufferFull, .inactive:
            return false
        }
    }

    /// Records a failure of `host`:`port` at `now` (`wasConnected`: the handshake had completed): schedules
    /// the next try, or forgets the address once it failed ``maximumFailures`` times in a row (never one the
    /// user gave). Returns the scheduled entry.
    ///
    /// `quickly`: the peer closed the connection right after it fetched the metadata from us. Transmission
    /// and aria2 drop every connection once they have the metadata and would dial back, which Transmission
    /// never does to a loopback address; the first such drop of an address is redialled after
    /// ``initialDelay`` instead of ``reconnectDelay`` (measured: 60 s of nothing otherwise).
    @discardableResult
    mutating func failed(
        host: String, port: Int, source: PeerSource, wasConnected: Bool = false, quickly: Bool = false,
        now: NIODeadline
    ) -> Entry? {
        let key = "\(host):\(port)"
        let failures = (entries[key]?.failures ?? 0) + 1
        guard source == .user || failures < Self.maximumFailures else {
            entries[key] = nil
            return nil
        }
        guard entries[key] != nil || entries.count < Self.capacity || source == .user else { return nil }
        let exponent = min(failures - 1, 10)
        var delay = wasConnected ? Self.reconnectDelay : min(Self.initialDelay * (1 << exponent), Self.maximumDelay)
        if quickly { delay = Self.initialDelay }
        let entry = Entry(host: host, port: port, source: source, failures: failures, notBefore: now + delay)
        entries[key] = entry
        return entry
    }

    /// A connection to `host`:`port` completed its handshake: its failure count starts again.
    mutating func succeeded(host: String, port: Int) {
        entries["\(host):\(port)"] = nil
    }

    /// Takes the addresses whose delay has passed at `now` (they stay known through their failure count
    /// until ``succeeded(host:port:)`` or the next ``failed(host:port:source:now:)``), oldest due first.
    mutating func due(now: NIODeadline) -> [Entry] {
        let ready = entries.values.filter { $0.notBefore <= now && $0.notBefore != .distantFuture }
        for entry in ready { entries["\(entry.host):\(entry.port)"]?.notBefore = .distantFuture }
        return ready.sorted { $0.notBefore < $1.notBefore }
    }

    /// Forgets every address (the torrent stopped).
    mutating func removeAll() { entries.removeAll() }
}
