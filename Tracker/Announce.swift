/// Why a client announces (BEP 3 `event`; BEP 15 uses the numeric values).
public enum AnnounceEvent: UInt32, Sendable, Hashable, CaseIterable {
    /// A regular, periodic announce (no `event` parameter).
    case none = 0
    /// The download finished; sent once.
    case completed = 1
    /// The first announce of a session.
    case started = 2
    /// The torrent is being removed or the client is shutting down.
    case stopped = 3

    /// The HTTP `event` value, nil for ``none``.
    public var httpValue: String? {
        switch self {
        case .none: nil
        case .completed: "completed"
        case .started: "started"
        case .stopped: "stopped"
        }
    }
}

/// Everything a client tells a tracker in one announce (BEP 3, BEP 15, BEP 23).
public struct AnnounceRequest: Hashable, Sendable {
    /// The 20-byte info-hash (`BTMetainfo.InfoHashes.wire`).
    public var infoHash: [UInt8]
    /// This client's 20-byte peer id.
    public var peerID: [UInt8]
    /// The TCP port this client listens on.
    public var port: Int
    /// Bytes uploaded this session.
    public var uploaded: Int64
    /// Bytes downloaded this session.
    public var downloaded: Int64
    /// Bytes still missing.
    public var left: Int64
    /// Why this announce is sent.
    public var event: AnnounceEvent
    /// How many peers the client wants; nil lets the tracker choose.
    public var numWant: Int?
    /// A random key that lets the tracker recognise this client across address changes.
    public var key: UInt32
    /// The `tracker id` a previous response asked to be echoed (HTTP only).
    public var trackerID: [UInt8]?
    /// Ask for the compact peer list (BEP 23). The parser accepts either form regardless.
    public var compact: Bool
    /// Whether the client speaks (or requires) message stream encryption (HTTP only).
    public var encryption: AnnounceEncryption

    /// Creates an announce request.
    public init(
        infoHash: [UInt8], peerID: [UInt8], port: Int, uploaded: Int64 = 0, downloaded: Int64 = 0, left: Int64,
        event: AnnounceEvent = .none, numWant: Int? = nil, key: UInt32 = 0, trackerID: [UInt8]? = nil,
        compact: Bool = true, encryption: AnnounceEncryption = .unsupported
    ) {
        self.infoHash = infoHash
        self.peerID = peerID
        self.port = port
        self.uploaded = uploaded
        self.downloaded = downloaded
        self.left = left
        self.event = event
        self.numWant = numWant
        self.key = key
        self.trackerID = trackerID
        self.compact = compact
        self.encryption = encryption
    }
}

/// What a tracker answered to an announce.
public struct AnnounceResponse: Hashable, Sendable {
    /// Seconds until the next regular announce.
    public var interval: Int
    /// Seconds the client must wait at least before announcing again, when the tracker set it.
    public var minInterval: Int?
    /// Seeders in the swarm (`complete`; UDP `seeders`).
    public var complete: Int?
    /// Leechers in the swarm (`incomplete`; UDP `leechers`).
    public var incomplete: Int?
    /// Completed downloads (`downloaded`), when the tracker sent it.
    public var downloaded: Int?
    /// Peers from `peers` (compact or dictionary list) and `peers6`.
    public var peers: [TrackerPeer]
    /// The tracker's `warning message`.
    public var warning: String?
    /// The `tracker id` to echo in later announces.
    public var trackerID: [UInt8]?

    /// Creates a response.
    public init(
        interval: Int, minInterval: Int? = nil, complete: Int? = nil, incomplete: Int? = nil,
        downloaded: Int? = nil, peers: [TrackerPeer] = [], warning: String? = nil, trackerID: [UInt8]? = nil
    ) {
        self.interval = interval
        self.minInterval = minInterval
        self.complete = complete
        self.incomplete = incomplete
        self.downloaded = downloaded
        self.peers = peers
        self.warning = warning
        self.trackerID = trackerID
    }
}

/// Swarm counts for one info-hash from a scrape.
public struct ScrapeResult: Hashable, Sendable {
    /// The 20-byte info-hash.
    public var infoHash: [UInt8]
    /// Seeders (`complete`).
    public var complete: Int
    /// Leechers (`incomplete`).
    public var incomplete: Int
    /// Completed downloads ever (`downloaded`).
    public var downloaded: Int

    /// Creates a result.
    public init(infoHash: [UInt8], complete: Int, incomplete: Int, downloaded: Int) {
        self.infoHash = infoHash
        self.complete = complete
        self.incomplete = incomplete
        self.downloaded = downloaded
    }
}
