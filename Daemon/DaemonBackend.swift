/// What the RPC dispatcher needs from the client it drives. ``EngineBackend`` conforms with the real
/// engine; tests conform with a model, so every method of the protocol is testable without sockets.
///
/// Torrents are named by the daemon's numeric ids (Transmission's `id`, stable for the daemon's life and
/// kept across restarts); the dispatcher resolves `ids` arguments (numbers, hash strings,
/// `recently_active`) to them first.
public protocol DaemonBackend: Sendable {
    /// Every torrent's id and hex info-hash, by id.
    func torrentIDs() async -> [(id: Int, hashString: String)]
    /// Snapshots of the torrents with these ids (unknown ids skipped), by id, with the parts `detail` asks for.
    func snapshots(ids: [Int], detail: SnapshotDetail) async -> [TorrentSnapshot]
    /// Adds a torrent.
    func add(_ request: AddTorrentRequest) async throws(DaemonError) -> AddTorrentOutcome
    /// Starts (resumes) torrents; `now` skips any queue.
    func start(ids: [Int], now: Bool) async throws(DaemonError)
    /// Stops (pauses) torrents.
    func stop(ids: [Int]) async throws(DaemonError)
    /// Checks torrents' data again.
    func verify(ids: [Int]) async throws(DaemonError)
    /// Asks torrents' trackers for an early announce.
    func reannounce(ids: [Int]) async throws(DaemonError)
    /// Removes torrents, with their data when `deleteData`.
    func remove(ids: [Int], deleteData: Bool) async throws(DaemonError)
    /// Changes torrents' settings.
    func set(ids: [Int], _ changes: TorrentChanges) async throws(DaemonError)
    /// The session's settings.
    func session() async -> SessionSettings
    /// Changes the session's settings.
    func setSession(_ changes: SessionChanges) async throws(DaemonError)
    /// Totals of the session.
    func sessionStatistics() async -> SessionStatistics
    /// Free and total bytes of the file system holding `path`.
    func freeSpace(at path: String) async throws(DaemonError) -> (free: Int64, total: Int64)
    /// Whether the peer port is reachable from outside (`port-test`); a daemon that cannot ask an outside
    /// prober answers false rather than guess.
    func portTest() async -> Bool
    /// Asks the daemon to shut down (after answering).
    func close() async
}

/// Which costly parts of a ``TorrentSnapshot`` to fill.
public struct SnapshotDetail: OptionSet, Sendable, Hashable {
    /// The raw value.
    public let rawValue: Int
    /// An option set.
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// ``TorrentSnapshot/files`` with bytes completed (needs the verified pieces).
    public static let files = SnapshotDetail(rawValue: 1)
    /// ``TorrentSnapshot/peers``.
    public static let peers = SnapshotDetail(rawValue: 2)
    /// ``TorrentSnapshot/trackers``.
    public static let trackers = SnapshotDetail(rawValue: 4)
    /// ``TorrentSnapshot/pieces``.
    public static let pieces = SnapshotDetail(rawValue: 8)
}

/// Transmission's torrent status numbers (`tr_torrent_activity`).
public enum TorrentActivity: Int, Sendable, Hashable {
    /// Stopped (paused, or stopped by an error).
    case stopped = 0
    /// Queued for a check.
    case checkWait = 1
    /// Checking its data.
    case checking = 2
    /// Queued to download.
    case downloadWait = 3
    /// Downloading.
    case downloading = 4
    /// Queued to seed.
    case seedWait = 5
    /// Seeding.
    case seeding = 6
}

/// One file of a torrent as the RPC shows it.
public struct FileSnapshot: Sendable, Hashable {
    /// The path inside the download directory, `/`-separated (the torrent's name first for multi-file ones).
    public var name: String
    /// Bytes.
    public var length: Int64
    /// Bytes in verified pieces.
    public var bytesCompleted: Int64
    /// Whether the file is wanted.
    public var wanted: Bool
    /// Transmission's priority: -1 low, 0 normal, 1 high.
    public var priority: Int
    /// First piece holding a byte of it.
    public var beginPiece: Int
    /// One past the last piece holding a byte of it.
    public var endPiece: Int

    /// A file.
    public init(
        name: String, length: Int64, bytesCompleted: Int64, wanted: Bool, priority: Int, beginPiece: Int, endPiece: Int
    ) {
        self.name = name
        self.length = length
        self.bytesCompleted = bytesCompleted
        self.wanted = wanted
        self.priority = priority
        self.beginPiece = beginPiece
        self.endPiece = endPiece
    }
}

/// One connected peer as the RPC shows it.
public struct PeerSnapshot: Sendable, Hashable {
    /// Its IP address.
    public var address: String
    /// Its port.
    public var port: Int
    /// Its client, from its peer id or extension handshake.
    public var clientName: String
    /// Transmission's flag letters (`D`, `U`, `d`, `u`, `E`, `I`, `T`, ...).
    public var flagString: String
    /// Fraction of the pieces it has.
    public var progress: Double
    /// Bytes per second it sends us.
    public var rateToClient: Double
    /// Bytes per second we send it.
    public var rateToPeer: Double
    /// It chokes us.
    public var clientIsChoked: Bool
    /// We are interested in it.
    public var clientIsInterested: Bool
    /// We choke it.
    public var peerIsChoked: Bool
    /// It is interested in us.
    public var peerIsInterested: Bool
    /// It connected to us.
    public var isIncoming: Bool
    /// The connection is encrypted (MSE).
    public var isEncrypted: Bool
    /// The connection is uTP.
    public var isUTP: Bool

    /// A peer.
    public init(
        address: String, port: Int, clientName: String, flagString: String, progress: Double, rateToClient: Double,
        rateToPeer: Double, clientIsChoked: Bool, clientIsInterested: Bool, peerIsChoked: Bool, peerIsInterested: Bool,
        isIncoming: Bool, isEncrypted: Bool, isUTP: Bool
    ) {
        self.address = address
        self.port = port
        self.clientName = clientName
        self.flagString = flagString
        self.progress = progress
        self.rateToClient = rateToClient
        self.rateToPeer = rateToPeer
        self.clientIsChoked = clientIsChoked
        self.clientIsInterested = clientIsInterested
        self.peerIsChoked = peerIsChoked
        self.peerIsInterested = peerIsInterested
        self.isIncoming = isIncoming
        self.isEncrypted = isEncrypted
        self.isUTP = isUTP
    }
}

/// One tracker of a torrent as the RPC shows it.
public struct TrackerSnapshot: Sendable, Hashable {
    /// Its announce URL.
    public var announce: String
    /// Its tier.
    public var tier: Int
    /// Its id within the torrent.
    public var id: Int
    /// Whether an announce was answered.
    public var hasAnnounced: Bool
    /// Whether the last announce succeeded.
    public var lastAnnounceSucceeded: Bool
    /// The last announce's result for people.
    public var lastAnnounceResult: String
    /// Peers in the last answer.
    public var lastAnnouncePeerCount: Int
    /// Seeders it reported (-1 unknown).
    public var seederCount: Int
    /// Leechers it reported (-1 unknown).
    public var leecherCount: Int

    /// A tracker.
    public init(
        announce: String, tier: Int, id: Int, hasAnnounced: Bool, lastAnnounceSucceeded: Bool,
        lastAnnounceResult: String, lastAnnouncePeerCount: Int, seederCount: Int, leecherCount: Int
    ) {
        self.announce = announce
        self.tier = tier
        self.id = id
        self.hasAnnounced = hasAnnounced
        self.lastAnnounceSucceeded = lastAnnounceSucceeded
        self.lastAnnounceResult = lastAnnounceResult
        self.lastAnnouncePeerCount = lastAnnouncePeerCount
        self.seederCount = seederCount
        self.leecherCount = leecherCount
    }
}

/// Everything the RPC reports about one torrent.
public struct TorrentSnapshot: Sendable, Hashable {
    /// The daemon's id.
    public var id: Int
    /// The hex info-hash (v1, or the truncated v2 hash).
    public var hashString: String
    /// The name.
    public var name: String
    /// What it is doing.
    public var activity: TorrentActivity
    /// Transmission's error kind: 0 none, 1 tracker warning, 2 tracker error, 3 local error.
    public var error: Int = 0
    /// The error for people ("" without one).
    public var errorString: String = ""
    /// Payload bytes.
    public var totalSize: Int64
    /// Bytes of wanted files.
    public var sizeWhenDone: Int64
    /// Wanted bytes not verified yet.
    public var leftUntilDone: Int64
    /// Verified bytes.
    public var haveValid: Int64
    /// Verified over all bytes.
    public var percentComplete: Double
    /// Verified wanted over wanted bytes.
    public var percentDone: Double
    /// Hash check progress, 0...1.
    public var recheckProgress: Double = 0
    /// Download rate, bytes per second.
    public var rateDownload: Double = 0
    /// Upload rate, bytes per second.
    public var rateUpload: Double = 0
    /// Connected peers.
    public var peersConnected: Int = 0
    /// Peers we download from.
    public var peersSendingToUs: Int = 0
    /// Peers we upload to.
    public var peersGettingFromUs: Int = 0
    /// Seconds left; -1 not available, -2 unknown.
    public var eta: Int = -1
    /// Uploaded over downloaded.
    public var uploadRatio: Double = 0
    /// Bytes uploaded.
    public var uploadedEver: Int64 = 0
    /// Bytes downloaded.
    public var downloadedEver: Int64 = 0
    /// Where its data lives.
    public var downloadDir: String
    /// Pieces.
    public var pieceCount: Int
    /// Bytes per piece.
    public var pieceSize: Int
    /// When it was added (Unix seconds).
    public var addedDate: Int64
    /// When it finished (Unix seconds, 0 not yet).
    public var doneDate: Int64 = 0
    /// When it last moved data (Unix seconds).
    public var activityDate: Int64 = 0
    /// When it was last started (Unix seconds).
    public var startDate: Int64 = 0
    /// Every wanted piece verified.
    public var isFinished: Bool = false
    /// Private torrent (BEP 27).
    public var isPrivate: Bool = false
    /// Position in the queue.
    public var queuePosition: Int = 0
    /// The torrent's comment.
    public var comment: String = ""
    /// The torrent's creator.
    public var creator: String = ""
    /// Creation date (Unix seconds, 0 unknown).
    public var dateCreated: Int64 = 0
    /// A magnet link for it.
    public var magnetLink: String = ""
    /// Download limit in kB/s (1000 bytes).
    public var downloadLimit: Int = 100
    /// Whether the download limit holds.
    public var downloadLimited: Bool = false
    /// Upload limit in kB/s.
    public var uploadLimit: Int = 100
    /// Whether the upload limit holds.
    public var uploadLimited: Bool = false
    /// Most peers.
    public var peerLimit: Int = 50
    /// The .torrent file kept in the config directory.
    public var torrentFile: String = ""
    /// The web seeds.
    public var webseeds: [String] = []
    /// Number of files.
    public var fileCount: Int = 0
    /// Files (with ``SnapshotDetail/files``).
    public var files: [FileSnapshot] = []
    /// Peers (with ``SnapshotDetail/peers``).
    public var peers: [PeerSnapshot] = []
    /// Trackers (always the URLs; states with ``SnapshotDetail/trackers``).
    public var trackers: [TrackerSnapshot] = []
    /// The verified-pieces bitfield's bytes (with ``SnapshotDetail/pieces``).
    public var pieces: [UInt8] = []

    /// A snapshot with the values every torrent has; the others start at their defaults.
    public init(
        id: Int, hashString: String, name: String, activity: TorrentActivity, totalSize: Int64, sizeWhenDone: Int64,
        leftUntilDone: Int64, haveValid: Int64, percentComplete: Double, percentDone: Double, downloadDir: String,
        pieceCount: Int, pieceSize: Int, addedDate: Int64
    ) {
        self.id = id
        self.hashString = hashString
        self.name = name
        self.activity = activity
        self.totalSize = totalSize
        self.sizeWhenDone = sizeWhenDone
        self.leftUntilDone = leftUntilDone
        self.haveValid = haveValid
        self.percentComplete = percentComplete
        self.percentDone = percentDone
        self.downloadDir = downloadDir
        self.pieceCount = pieceCount
        self.pieceSize = pieceSize
        self.addedDate = addedDate
    }
}

/// Where a torrent to add comes from.
public enum TorrentSource: Sendable, Hashable {
    /// A .torrent file on the daemon's machine.
    case file(String)
    /// The bytes of a .torrent file.
    case metainfo([UInt8])
    /// A magnet URI.
    case magnet(String)
}

/// `torrent-add`'s arguments.
public struct AddTorrentRequest: Sendable, Hashable {
    /// The torrent.
    public var source: TorrentSource
    /// Where its data goes (nil: the session's download directory).
    public var downloadDir: String?
    /// Whether it is added stopped.
    public var paused: Bool = false
    /// Files not to download.
    public var filesUnwanted: [Int] = []
    /// A request.
    public init(source: TorrentSource, downloadDir: String? = nil, paused: Bool = false) {
        self.source = source
        self.downloadDir = downloadDir
        self.paused = paused
    }
}

/// What `torrent-add` did.
public enum AddTorrentOutcome: Sendable, Hashable {
    /// Added (`torrent-added`): id, name, hex hash.
    case added(id: Int, name: String, hashString: String)
    /// Already there (`torrent-duplicate`).
    case duplicate(id: Int, name: String, hashString: String)
}

/// `torrent-set`'s arguments the daemon applies; nil leaves a setting alone.
public struct TorrentChanges: Sendable, Hashable {
    /// Download limit in kB/s.
    public var downloadLimit: Int?
    /// Whether the download limit holds.
    public var downloadLimited: Bool?
    /// Upload limit in kB/s.
    public var uploadLimit: Int?
    /// Whether the upload limit holds.
    public var uploadLimited: Bool?
    /// Most peers.
    public var peerLimit: Int?
    /// File indexes to download (empty array: every file).
    public var filesWanted: [Int]?
    /// File indexes not to download (empty array: every file).
    public var filesUnwanted: [Int]?
    /// File indexes of high priority.
    public var priorityHigh: [Int]?
    /// File indexes of normal priority.
    public var priorityNormal: [Int]?
    /// File indexes of low priority.
    public var priorityLow: [Int]?
    /// No changes.
    public init() {}
}

/// The session's settings as `session-get` reports them.
public struct SessionSettings: Sendable, Hashable {
    /// Default download directory.
    public var downloadDir: String
    /// The peer port.
    public var peerPort: Int
    /// The config directory.
    public var configDir: String
    /// Most peers per torrent.
    public var peerLimitPerTorrent: Int
    /// Most peers overall.
    public var peerLimitGlobal: Int
    /// Global download limit in kB/s, when one holds.
    public var speedLimitDown: Int?
    /// Global upload limit in kB/s, when one holds.
    public var speedLimitUp: Int?
    /// `required`, `preferred` or `tolerated`.
    public var encryption: String
    /// DHT on.
    public var dhtEnabled: Bool
    /// PEX on.
    public var pexEnabled: Bool
    /// uTP on.
    public var utpEnabled: Bool
    /// The watch directory, when one is set.
    public var watchDir: String?
    /// Whether new torrents are added stopped.
    public var startAddedTorrents: Bool

    /// Settings.
    public init(
        downloadDir: String, peerPort: Int, configDir: String, peerLimitPerTorrent: Int, peerLimitGlobal: Int,
        speedLimitDown: Int?, speedLimitUp: Int?, encryption: String, dhtEnabled: Bool, pexEnabled: Bool,
        utpEnabled: Bool, watchDir: String?, startAddedTorrents: Bool
    ) {
        self.downloadDir = downloadDir
        self.peerPort = peerPort
        self.configDir = configDir
        self.peerLimitPerTorrent = peerLimitPerTorrent
        self.peerLimitGlobal = peerLimitGlobal
        self.speedLimitDown = speedLimitDown
        self.speedLimitUp = speedLimitUp
        self.encryption = encryption
        self.dhtEnabled = dhtEnabled
        self.pexEnabled = pexEnabled
        self.utpEnabled = utpEnabled
        self.watchDir = watchDir
        self.startAddedTorrents = startAddedTorrents
    }
}

/// `session-set`'s arguments the daemon applies; nil leaves a setting alone.
public struct SessionChanges: Sendable, Hashable {
    /// Default download directory.
    public var downloadDir: String?
    /// Whether new torrents are added stopped.
    public var startAddedTorrents: Bool?
    /// No changes.
    public init() {}
}

/// Totals for `session-stats`.
public struct SessionStatistics: Sendable, Hashable {
    /// Torrents.
    public var torrentCount: Int
    /// Torrents not stopped.
    public var activeTorrentCount: Int
    /// Stopped torrents.
    public var pausedTorrentCount: Int
    /// Download rate, bytes per second.
    public var downloadSpeed: Double
    /// Upload rate, bytes per second.
    public var uploadSpeed: Double
    /// Bytes downloaded this session.
    public var downloadedBytes: Int64
    /// Bytes uploaded this session.
    public var uploadedBytes: Int64
    /// Torrents added this session.
    public var filesAdded: Int
    /// Seconds since the daemon started.
    public var secondsActive: Int64

    /// Totals.
    public init(
        torrentCount: Int, activeTorrentCount: Int, pausedTorrentCount: Int, downloadSpeed: Double,
        uploadSpeed: Double, downloadedBytes: Int64, uploadedBytes: Int64, filesAdded: Int, secondsActive: Int64
    ) {
        self.torrentCount = torrentCount
        self.activeTorrentCount = activeTorrentCount
        self.pausedTorrentCount = pausedTorrentCount
        self.downloadSpeed = downloadSpeed
        self.uploadSpeed = uploadSpeed
        self.downloadedBytes = downloadedBytes
        self.uploadedBytes = uploadedBytes
        self.filesAdded = filesAdded
        self.secondsActive = secondsActive
    }
}
