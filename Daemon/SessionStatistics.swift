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
