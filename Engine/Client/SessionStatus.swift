/// Totals over every torrent of a ``Client`` (see ``Client/sessionStatus()``).
public struct SessionStatus: Hashable, Sendable {
    /// Number of torrents.
    public var torrentCount: Int
    /// Number of torrents in each state (states without torrents are absent).
    public var torrentsByState: [TorrentState: Int]
    /// Sum of the torrents' download rates, bytes per second.
    public var downloadRate: Double
    /// Sum of the torrents' upload rates, bytes per second.
    public var uploadRate: Double
    /// Block payload received this session over all torrents.
    public var downloadedBytes: Int64
    /// Block payload sent this session over all torrents.
    public var uploadedBytes: Int64
    /// Connected peers over all torrents.
    public var peers: Int
    /// Upload bytes queued in this process over all peers.
    public var queuedUploadBytes: Int
    /// Payload bytes over all torrents.
    public var totalBytes: Int64
    /// Payload bytes in verified pieces over all torrents.
    public var verifiedBytes: Int64

    /// Totals of `statuses`.
    public init(summing statuses: [TorrentStatus]) {
        torrentCount = statuses.count
        torrentsByState = Dictionary(grouping: statuses, by: \.state).mapValues(\.count)
        downloadRate = statuses.reduce(0) { $0 + $1.downloadRate }
        uploadRate = statuses.reduce(0) { $0 + $1.uploadRate }
        downloadedBytes = statuses.reduce(0) { $0 + $1.downloadedBytes }
        uploadedBytes = statuses.reduce(0) { $0 + $1.uploadedBytes }
        peers = statuses.reduce(0) { $0 + $1.peers }
        queuedUploadBytes = statuses.reduce(0) { $0 + $1.queuedUploadBytes }
        totalBytes = statuses.reduce(0) { $0 + $1.totalBytes }
        verifiedBytes = statuses.reduce(0) { $0 + $1.verifiedBytes }
    }

    /// Number of torrents in `state`.
    public func count(_ state: TorrentState) -> Int { torrentsByState[state] ?? 0 }
}
