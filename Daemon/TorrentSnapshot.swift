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
    /// How much of a magnet's metadata is known, 0...1 (1 for a torrent whose metadata is known).
    public var metadataPercentComplete: Double = 1
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
    /// The labels set with `torrent-set`.
    public var labels: [String] = []
    /// The web seeds.
    public var webseeds: [String] = []
    /// Number of files.
    public var fileCount: Int = 0
    /// Files (with ``SnapshotDetail/files``).
    public var files: [FileSnapshot] = []
    /// Peers (with ``SnapshotDetail/peers``).
    public var peers: [PeerSnapshot] = []
    /// Trackers (with ``SnapshotDetail/trackers``: the live states, or the torrent's list before any).
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
