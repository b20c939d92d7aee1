/// Bandwidth and connection limits of one torrent in a ``Client``, on top of the client-wide ones
/// (``ClientConfiguration/uploadLimit``, ``ClientConfiguration/downloadLimit``,
/// ``ClientConfiguration/maximumPeersPerTorrent``): both the torrent's and the global limit hold at once.
public struct TorrentLimits: Hashable, Sendable {
    /// Upload limit of the torrent (block payload sent).
    public var uploadLimit: RateLimit
    /// Download limit of the torrent (block payload requested).
    public var downloadLimit: RateLimit
    /// Most connections of the torrent; nil uses ``ClientConfiguration/maximumPeersPerTorrent``. Lowering it
    /// below the current count closes the newest connections (reason `tooMany`).
    public var maximumPeers: Int?

    /// Limits; unlimited rates and the client's peer maximum unless given.
    public init(uploadLimit: RateLimit = .unlimited, downloadLimit: RateLimit = .unlimited, maximumPeers: Int? = nil) {
        self.uploadLimit = uploadLimit
        self.downloadLimit = downloadLimit
        self.maximumPeers = maximumPeers.map { max(0, $0) }
    }
}
