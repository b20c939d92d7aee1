/// Where a torrent to add comes from.
public enum TorrentSource: Sendable, Hashable {
    /// A .torrent file on the daemon's machine.
    case file(String)
    /// The bytes of a .torrent file.
    case metainfo([UInt8])
    /// A magnet URI.
    case magnet(String)
    /// An http(s) URL of a .torrent file, fetched by the daemon (``TorrentURLFetcher``).
    case url(String)
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
