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
    /// Points torrents at another download directory (`torrent-set-location`): with `move`, their files are
    /// moved there first; without, the data there is checked.
    func setLocation(ids: [Int], location: String, move: Bool) async throws(DaemonError)
    /// Renames a file or folder of a torrent (`torrent-rename-path`): `path` as the torrent names it, `name`
    /// the new last component. Returns the path and the name as they are now.
    func renamePath(id: Int, path: String, name: String) async throws(DaemonError) -> (path: String, name: String)
    /// Reads the session's blocklist again (`blocklist-update`) from its URL or file into the engine's IP
    /// filter; returns the number of ranges.
    func updateBlocklist() async throws(DaemonError) -> Int
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
    /// ``TorrentSnapshot/magnetLink`` (of a torrent whose metadata is known; a magnet's own link is always there).
    public static let magnetLink = SnapshotDetail(rawValue: 16)
}
