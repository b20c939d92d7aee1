import BTMSE
import BTMetainfo
import BTStorage
import BTTracker
import BTWire
import CoreMetrics
import Foundation
import Logging

/// Settings of a ``Client``: where it listens (the seed's `LocalHost` and `LocalPort`), how many
/// connections it keeps, rate limits, and the policy hooks.
public struct ClientConfiguration: Sendable {
    /// Local address to bind the listener to (the seed's `LocalHost`); `0.0.0.0` listens on every IPv4
    /// address.
    public var host: String
    /// Ports tried in order until one binds (the seed's `LocalPort` list); 0 lets the system choose.
    public var ports: [Int]
    /// The session's peer id; generated (`-NB0100-` and random bytes) when nil.
    public var peerID: PeerID?
    /// Most connections over all torrents.
    public var maximumConnections: Int
    /// Most connections per torrent.
    public var maximumPeersPerTorrent: Int
    /// Most outgoing connections being made at once; more wait in a queue (the seed's `queued` state).
    public var maximumHalfOpen: Int
    /// Most outgoing connections waiting for a ``maximumHalfOpen`` slot; more are dropped (`queueFull`).
    public var maximumQueuedConnections: Int
    /// Most incoming connections that have not sent their handshake yet; more are refused (`tooMany`).
    public var maximumIncomingHandshakes: Int
    /// How long an incoming connection may take to send its handshake (then `handshakeTimeout`).
    public var incomingHandshakeTimeout: Duration
    /// Global upload limit.
    public var uploadLimit: RateLimit
    /// Global download limit.
    public var downloadLimit: RateLimit
    /// Addresses refused before anything is sent (static ranges plus the seed's `ip_filter` hook).
    public var ipFilter: IPFilter
    /// Whether torrents announce to their trackers.
    public var usesTrackers: Bool
    /// Which tracker hosts may be contacted (the default allows loopback and public addresses and refuses
    /// private and link-local ones).
    public var trackerAddressPolicy: TrackerAddressPolicy
    /// Whether pieces are requested in index order instead of rarest first (for streaming).
    public var sequentialDownload: Bool
    /// Whether every wire packet is reported as a `packet_incoming_*` / `packet_outgoing_*` event.
    public var reportsPacketEvents: Bool
    /// Most upload bytes queued in this process per peer (blocks being read plus `piece` messages not yet
    /// written to the socket). Requests beyond it wait until the peer reads; a peer that never reads costs
    /// at most this much memory.
    public var maximumQueuedUploadBytesPerPeer: Int
    /// Most requests queued per peer (our `reqq`, BEP 10); a peer that floods beyond it is disconnected
    /// with reason `requestFlood` (or, with the fast extension, rejected until it exceeds it twice over).
    public var maximumQueuedRequestsPerPeer: Int
    /// Most bytes of any kind (blocks, rejects, haves, extension messages) handed to one peer's socket and not
    /// yet taken by it; a peer past it does not read what it asks for and is disconnected with reason
    /// `sendBufferFull` (a request+cancel flood from a peer that never reads would otherwise queue a
    /// `reject` per pair without end). At least ``maximumQueuedUploadBytesPerPeer`` plus room for messages.
    public var maximumQueuedOutputBytesPerPeer: Int
    /// Most connections with one IP address (established, dialling, and incoming ones from before their
    /// handshake) at which a further incoming connection from it is refused (`tooMany`), so one host cannot
    /// take every slot. libtorrent allows 1 unless `allow_multiple_connections_per_ip`; 4
    /// leaves room for several clients behind one NAT address.
    public var maximumConnectionsPerAddress: Int
    /// How fast one IP address may open connections to us (accepts per second averaged over a window, then
    /// refused for a while with reason `tooMany`; see ``IncomingConnectionRate``), so an address that opens
    /// and closes connections in a loop cannot keep the engine busy. nil: no limit.
    public var incomingConnectionRate: IncomingConnectionRate<IPAddress>.Configuration?
    /// When full torrents drop idle connections to make room (see ``PeerTurnover``; libtorrent's
    /// `peer_turnover` settings).
    public var peerTurnover: PeerTurnover<UInt64>.Configuration
    /// The DHT (BEP 5): peers for torrents that are not private, found and announced without a tracker.
    /// Nil (the default): no DHT node runs; `nbt` turns it on with the public routers unless told otherwise.
    public var dht: DHTSettings?
    /// Message stream encryption (MSE/PE, the seed's `encryption`): `EncryptionPolicy/none` (the default:
    /// plaintext, as every interop peer accepts), `EncryptionPolicy/preferred` (dial with MSE offering RC4
    /// and plaintext, redial a peer that refuses it in plaintext, accept both), `EncryptionPolicy/required`
    /// (RC4 only, both ways).
    public var encryption: EncryptionPolicy
    /// How the peer driver spaces out its reads from a peer that trickles its messages (BTWire's
    /// `TrickledReads`); nil: never. On by default; `NBT_TRICKLED_READS=0` in the environment turns the
    /// default off (for A/B measurements).
    public var trickledReads: TrickledReads?
    /// Most block bytes per torrent received and not yet written to storage; at the cap no new requests are
    /// sent until writes complete, so a slow disk slows the download instead of filling memory.
    public var maximumPendingWriteBytesPerTorrent: Int
    /// Web seeds (BEP 19 `url-list`): on by default; a switch, and further web seeds per torrent.
    public var webSeeds = WebSeedSettings()
    /// Local service discovery (BEP 14) on the local network's multicast group; nil (the default): off.
    public var localDiscovery: LocalDiscoverySettings? = nil
    /// Where a torrent's bytes live, given the torrent, the download directory and the storage event
    /// handler (default: `BTStorage/FileStorage` in the directory).
    public var makeStorage: @Sendable (Torrent, String, StorageEventHandler?) -> any Storage
    /// The threads that do the torrents' disk I/O and hashing (default: the process-wide pool).
    public var workerPool: WorkerPool
    /// Limits of torrents added without their own (see ``TorrentLimits``).
    public var defaultTorrentLimits: TorrentLimits
    /// Where counters and gauges go (nil: the process-wide `MetricsSystem.factory`).
    public var metricsFactory: (any MetricsFactory)?
    /// How peers are reached and accept us (TCP unless replaced: see ``PeerTransport``).
    public var transport: any PeerTransport
    /// Seed of the engine's own random choices (piece and choke tie-breaks, optimistic unchokes); nil draws
    /// one from the system. A simulation sets it so that a run repeats exactly.
    public var randomSeed: UInt64? = nil
    /// The engine's logger: debug level for per-peer messages, info for the torrent lifecycle. The default
    /// (label `nbt.engine`) discards everything, so a program that has not chosen a log destination prints
    /// nothing; pass `Logger(label: "nbt.engine")` to log through the process's `LoggingSystem`.
    public var logger: Logger

    /// A configuration listening on every address on a system-chosen port, with libtorrent-like limits.
    public init(host: String = "0.0.0.0", ports: [Int] = [0]) {
        self.host = host
        self.ports = ports.isEmpty ? [0] : ports
        self.peerID = nil
        self.maximumConnections = 200
        self.maximumPeersPerTorrent = 50
        self.maximumHalfOpen = 16
        self.maximumIncomingHandshakes = 64
        self.maximumQueuedConnections = 1_000
        self.incomingHandshakeTimeout = .seconds(30)
        self.uploadLimit = .unlimited
        self.downloadLimit = .unlimited
        self.ipFilter = IPFilter()
        self.usesTrackers = true
        self.trackerAddressPolicy = .default
        self.sequentialDownload = false
        self.reportsPacketEvents = true
        self.maximumQueuedUploadBytesPerPeer = 256 * 1024
        self.maximumQueuedRequestsPerPeer = 250
        self.maximumQueuedOutputBytesPerPeer = 1 << 20
        self.maximumConnectionsPerAddress = 4
        self.incomingConnectionRate = .init()
        self.peerTurnover = .init()
        self.dht = nil
        self.encryption = .none
        self.maximumPendingWriteBytesPerTorrent = 32 * 1024 * 1024
        self.trickledReads =
            ProcessInfo.processInfo.environment["NBT_TRICKLED_READS"] == "0" ? nil : TrickledReads()
        self.workerPool = .shared
        self.makeStorage = { torrent, folder, events in FileStorage(torrent: torrent, folder: folder, events: events) }
        self.defaultTorrentLimits = TorrentLimits()
        self.metricsFactory = nil
        self.transport = TCPTransport()
        self.logger = Logger(label: "nbt.engine", factory: { _ in SwiftLogNoOpLogHandler() })
    }
}
