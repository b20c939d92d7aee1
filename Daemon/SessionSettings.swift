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
    /// Global download limit in kB/s (1000 bytes).
    public var speedLimitDown: Int
    /// Whether the global download limit holds.
    public var speedLimitDownEnabled: Bool
    /// Global upload limit in kB/s.
    public var speedLimitUp: Int
    /// Whether the global upload limit holds.
    public var speedLimitUpEnabled: Bool
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
    /// Where `blocklist-update` reads the blocklist: an http(s) URL or an absolute file path ("" none).
    public var blocklistURL: String = ""
    /// Whether the blocklist is applied to the engine's IP filter.
    public var blocklistEnabled: Bool = false
    /// Ranges in the blocklist last read.
    public var blocklistSize: Int = 0
    /// The alternative ("turtle") download limit in kB/s.
    public var altSpeedDown: Int = 50
    /// The alternative upload limit in kB/s.
    public var altSpeedUp: Int = 50
    /// Whether the alternative limits hold instead of the usual ones.
    public var altSpeedEnabled: Bool = false

    /// Settings.
    public init(
        downloadDir: String, peerPort: Int, configDir: String, peerLimitPerTorrent: Int, peerLimitGlobal: Int,
        speedLimitDown: Int, speedLimitDownEnabled: Bool, speedLimitUp: Int, speedLimitUpEnabled: Bool,
        encryption: String, dhtEnabled: Bool, pexEnabled: Bool,
        utpEnabled: Bool, watchDir: String?, startAddedTorrents: Bool
    ) {
        self.downloadDir = downloadDir
        self.peerPort = peerPort
        self.configDir = configDir
        self.peerLimitPerTorrent = peerLimitPerTorrent
        self.peerLimitGlobal = peerLimitGlobal
        self.speedLimitDown = speedLimitDown
        self.speedLimitDownEnabled = speedLimitDownEnabled
        self.speedLimitUp = speedLimitUp
        self.speedLimitUpEnabled = speedLimitUpEnabled
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
    /// Global download limit in kB/s.
    public var speedLimitDown: Int?
    /// Whether the global download limit holds.
    public var speedLimitDownEnabled: Bool?
    /// Global upload limit in kB/s.
    public var speedLimitUp: Int?
    /// Whether the global upload limit holds.
    public var speedLimitUpEnabled: Bool?
    /// Where `blocklist-update` reads the blocklist (an http(s) URL or an absolute file path).
    public var blocklistURL: String?
    /// Whether the blocklist is applied.
    public var blocklistEnabled: Bool?
    /// The alternative download limit in kB/s.
    public var altSpeedDown: Int?
    /// Most connections in total.
    public var peerLimitGlobal: Int?
    /// Most connections of each torrent added from now on.
    public var peerLimitPerTorrent: Int?
    /// The alternative upload limit in kB/s.
    public var altSpeedUp: Int?
    /// Whether the alternative limits hold.
    public var altSpeedEnabled: Bool?
    /// The encryption policy in Transmission's words: `required`, `preferred` or `tolerated` (plaintext).
    public var encryption: String?
    /// No changes.
    public init() {}
}
