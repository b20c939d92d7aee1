import BTMetainfo
import NIOCore

/// Local service discovery (BEP 14) without I/O: when to multicast which torrents, and which peers a received
/// datagram names. The driver sends what ``due(now:)`` returns to the group and gives every datagram it receives
/// to ``received(_:from:now:)``.
///
/// Timing as libtorrent's (`lsd.cpp`, `session_impl::on_lsd_announce`): a torrent is announced when added and
/// twice more 2 s and 4 s apart (multicast datagrams get lost), then every ``Configuration/interval`` (5 min).
/// Rate limits: no two messages sooner than ``Configuration/minimumSpacing`` apart (due torrents share one
/// message, several `Infohash` lines, up to ``Configuration/maximumInfoHashesPerMessage``), and from any one
/// address at most ``Configuration/maximumAcceptedPerMinute`` messages a minute are accepted. A private torrent
/// (BEP 27) is never announced and peers announced for it are ignored; our own announces (our cookie) are ignored.
public struct LocalDiscoveryAnnouncer: Sendable {
    /// Timing and limits.
    public struct Configuration: Hashable, Sendable {
        /// Between two announces of a torrent once its first three are sent (libtorrent: 5 minutes).
        public var interval: TimeAmount = .minutes(5)
        /// Gaps between the first announce of a torrent and its repeats (libtorrent: 2 s, then 4 s).
        public var repeatGaps: [TimeAmount] = [.seconds(2), .seconds(4)]
        /// Shortest gap between two messages we send.
        public var minimumSpacing: TimeAmount = .milliseconds(500)
        /// Most info-hashes in one message (20 keep it near 1,100 bytes, within one datagram).
        public var maximumInfoHashesPerMessage = 20
        /// Most messages accepted from one address in a minute; more are dropped.
        public var maximumAcceptedPerMinute = 30
        /// Most addresses whose message counts are kept (the oldest count is forgotten beyond it).
        public var maximumSenders = 256

        /// The defaults above.
        public init() {}
    }

    /// A peer a received announce named for one of our torrents.
    public struct Peer: Hashable, Sendable {
        /// The torrent (20-byte info-hash).
        public var infoHash: [UInt8]
        /// The sender's address (the datagram's source).
        public var address: IPAddress
        /// The port the sender takes connections on.
        public var port: UInt16

        /// A peer at `address`:`port` for the torrent `infoHash`.
        public init(infoHash: [UInt8], address: IPAddress, port: UInt16) {
            self.infoHash = infoHash
            self.address = address
            self.port = port
        }
    }

    /// Why a received datagram named no peer (for logs and tests).
    public enum Ignored: Error, Hashable, Sendable {
        /// Not a valid BEP 14 message.
        case malformed(TrackerError)
        /// Our own announce, looped back.
        case ownCookie
        /// The sender sent more than the limit this minute.
        case rateLimited
        /// None of its info-hashes is a torrent we announce.
        case unknownTorrents
    }

    private struct Schedule: Sendable {
        var next: NIODeadline
        var repeatsSent: Int
    }

    private struct SenderWindow: Sendable {
        var start: NIODeadline
        var count: Int
        /// When it was made, among all windows: the tie-break between windows that started together, so the
        /// one forgotten is the oldest, never one picked by the dictionary's (per-process) order.
        var order: UInt64
    }

    /// Timing and limits in use.
    public let configuration: Configuration
    /// Our token in every message, so we can ignore our own (libtorrent: a random 31-bit number in hex).
    public let cookie: String
    /// The group we announce to.
    public let group: LocalDiscoveryMessage.Group
    /// The port we take connections on.
    public var listenPort: UInt16

    private var schedules: [[UInt8]: Schedule] = [:]
    /// Torrents whose peers are taken without being announced (see ``accept(infoHash:isPrivate:)``).
    private var accepted: Set<[UInt8]> = []
    private var windows: [IPAddress: SenderWindow] = [:]
    /// The next window's ``SenderWindow/order``.
    private var nextOrder: UInt64 = 0
    private var lastSent: NIODeadline?

    /// An announcer for `group` with `cookie`, naming `listenPort`.
    public init(
        cookie: String, group: LocalDiscoveryMessage.Group = .ipv4, listenPort: UInt16,
        configuration: Configuration = Configuration()
    ) {
        self.cookie = String(cookie.prefix(LocalDiscoveryMessage.maximumCookieLength))
        self.group = group
        self.listenPort = listenPort
        self.configuration = configuration
    }

    /// The torrents announced.
    public var infoHashes: Set<[UInt8]> { Set(schedules.keys) }

    /// Starts announcing a torrent (a private one never is); the first announce is due at once.
    public mutating func add(infoHash: [UInt8], isPrivate: Bool, now: NIODeadline) {
        guard !isPrivate, infoHash.count == 20, schedules[infoHash] == nil else { return }
        schedules[infoHash] = Schedule(next: now, repeatsSent: -1)
    }

    /// Stops announcing a torrent and accepting peers for it.
    public mutating func remove(infoHash: [UInt8]) {
        schedules[infoHash] = nil
        accepted.remove(infoHash)
    }

    /// Takes peers announced for a torrent without announcing it (a private one never): one still being
    /// checked, which is not announced yet but will want its local peers once it runs (libtorrent keeps a
    /// peer announced while a torrent checks). ``add(infoHash:isPrivate:now:)`` later announces it too.
    public mutating func accept(infoHash: [UInt8], isPrivate: Bool) {
        guard !isPrivate, infoHash.count == 20 else { return }
        accepted.insert(infoHash)
    }

    /// The torrents whose peers are taken though they are not announced.
    public var acceptedInfoHashes: Set<[UInt8]> { accepted }

    /// When ``due(now:)`` next has something to send (nil: nothing announced).
    public var nextDeadline: NIODeadline? {
        guard let earliest = schedules.values.map(\.next).min() else { return nil }
        guard let lastSent else { return earliest }
        return max(earliest, lastSent + configuration.minimumSpacing)
    }

    /// The messages to send now: at most one (the rate limit), naming the torrents due, earliest first.
    public mutating func due(now: NIODeadline) -> [LocalDiscoveryMessage] {
        if let lastSent, now < lastSent + configuration.minimumSpacing { return [] }
        let due = schedules.filter { $0.value.next <= now }.sorted {
            $0.value.next != $1.value.next ? $0.value.next < $1.value.next : $0.key.lexicographicallyPrecedes($1.key)
        }.prefix(configuration.maximumInfoHashesPerMessage)
        guard !due.isEmpty else { return [] }
        for (hash, schedule) in due {
            let repeats = schedule.repeatsSent + 1
            let gap =
                repeats < configuration.repeatGaps.count ? configuration.repeatGaps[repeats] : configuration.interval
            schedules[hash] = Schedule(next: now + gap, repeatsSent: repeats)
        }
        lastSent = now
        return [LocalDiscoveryMessage(group: group, port: listenPort, infoHashes: due.map { $0.key }, cookie: cookie)]
    }

    /// A datagram from `address`: the peers it names for our torrents, or why it names none. Every valid
    /// message that is not ours counts towards the sender's limit, whichever torrents it names.
    public mutating func received(_ bytes: some Collection<UInt8>, from address: IPAddress, now: NIODeadline)
        -> Result<[Peer], Ignored>
    {
        let message: LocalDiscoveryMessage
        do throws(TrackerError) {
            message = try LocalDiscoveryMessage(parsing: bytes)
        } catch {
            return .failure(.malformed(error))
        }
        if let other = message.cookie, other == cookie { return .failure(.ownCookie) }
        guard admit(address, now: now) else { return .failure(.rateLimited) }
        let peers = message.infoHashes.filter { schedules[$0] != nil || accepted.contains($0) }.map {
            Peer(infoHash: $0, address: address, port: message.port)
        }
        return peers.isEmpty ? .failure(.unknownTorrents) : .success(peers)
    }

    /// Counts a message from `address` in its one-minute window; false when over the limit.
    private mutating func admit(_ address: IPAddress, now: NIODeadline) -> Bool {
        if var window = windows[address], now < window.start + .minutes(1) {
            window.count += 1
            windows[address] = window
            return window.count <= configuration.maximumAcceptedPerMinute
        }
        if windows[address] == nil, windows.count >= configuration.maximumSenders {
            windows = windows.filter { now < $0.value.start + .minutes(1) }
            if windows.count >= configuration.maximumSenders,
                let oldest = windows.min(by: { ($0.value.start, $0.value.order) < ($1.value.start, $1.value.order) })?
                    .key
            {
                windows[oldest] = nil
            }
        }
        windows[address] = SenderWindow(start: now, count: 1, order: nextOrder)
        nextOrder += 1
        return true
    }
}
