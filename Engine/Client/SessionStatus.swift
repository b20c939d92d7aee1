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
    /// Connected seeds over all torrents.
    public var seeds: Int
    /// Payload bytes in wanted pieces (files not skipped) over all torrents.
    public var wantedBytes: Int64
    /// Of those, bytes in verified pieces.
    public var verifiedWantedBytes: Int64
    /// Verified over wanted payload bytes (1 when nothing is wanted).
    public var progress: Double
    /// Time until every wanted byte is verified at the current total download rate, when that rate is above
    /// 1 byte/s and something is left.
    public var eta: Duration?
    /// Bytes uploaded per byte downloaded this session (per payload byte when nothing was downloaded).
    public var ratio: Double

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
        seeds = statuses.reduce(0) { $0 + $1.seeds }
        wantedBytes = statuses.reduce(0) { $0 + $1.wantedBytes }
        verifiedWantedBytes = statuses.reduce(0) { $0 + $1.verifiedWantedBytes }
        progress = wantedBytes == 0 ? 1 : Double(verifiedWantedBytes) / Double(wantedBytes)
        let left = wantedBytes - verifiedWantedBytes
        eta = left > 0 && downloadRate > 1 ? .seconds(Double(left) / downloadRate) : nil
        ratio = Double(uploadedBytes) / Double(downloadedBytes > 0 ? downloadedBytes : max(totalBytes, 1))
    }

    /// Number of torrents in `state`.
    public func count(_ state: TorrentState) -> Int { torrentsByState[state] ?? 0 }
}
