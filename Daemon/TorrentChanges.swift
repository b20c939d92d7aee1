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
    /// Announce URLs to add, each in a tier of its own (`trackerAdd`).
    public var trackerAdd: [String]?
    /// Ids of trackers to remove, as `trackers` lists them (`trackerRemove`).
    public var trackerRemove: [Int]?
    /// Trackers to replace: id and new announce URL (`trackerReplace`).
    public var trackerReplace: [TrackerReplacement]?
    /// The whole tracker list, tier by tier (`trackerList`).
    public var trackerList: [[String]]?
    /// The torrent's labels (`labels`).
    public var labels: [String]?
    /// No changes.
    public init() {}
}

/// One `trackerReplace` pair: the tracker's id and its new announce URL.
public struct TrackerReplacement: Sendable, Hashable {
    /// The id, as `trackers` lists it.
    public var id: Int
    /// The new announce URL.
    public var announce: String
    /// A replacement.
    public init(id: Int, announce: String) {
        self.id = id
        self.announce = announce
    }
}
