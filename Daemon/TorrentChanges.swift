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
