import BTDaemon

/// A ``DaemonBackend`` over plain values, recording what it was asked, so the dispatcher is tested without
/// an engine or a socket.
actor ModelBackend: DaemonBackend {
    var torrents: [TorrentSnapshot]
    var calls: [String] = []
    var lastChanges: TorrentChanges?
    var lastAdd: AddTorrentRequest?
    var downloadDir = "/srv/downloads"
    var closed = false
    var lastSessionChanges: SessionChanges?

    init(torrents: [TorrentSnapshot] = [ModelBackend.sample(id: 1), ModelBackend.sample(id: 2)]) {
        self.torrents = torrents
    }

    static func sample(id: Int) -> TorrentSnapshot {
        var snapshot = TorrentSnapshot(
            id: id, hashString: String(repeating: String(id), count: 40), name: "torrent \(id)", activity: .downloading,
            totalSize: 1000, sizeWhenDone: 1000, leftUntilDone: 250, haveValid: 750, percentComplete: 0.75,
            percentDone: 0.75, downloadDir: "/srv/downloads", pieceCount: 4, pieceSize: 256, addedDate: 1_700_000_000)
        snapshot.files = [
            FileSnapshot(
                name: "torrent \(id)/a", length: 600, bytesCompleted: 600, wanted: true, priority: 0, beginPiece: 0,
                endPiece: 3),
            FileSnapshot(
                name: "torrent \(id)/b", length: 400, bytesCompleted: 150, wanted: false, priority: 1, beginPiece: 2,
                endPiece: 4),
        ]
        snapshot.fileCount = 2
        snapshot.trackers = [
            TrackerSnapshot(
                announce: "http://127.0.0.1:6969/announce", tier: 0, id: 0, hasAnnounced: true,
                lastAnnounceSucceeded: true, lastAnnounceResult: "Success", lastAnnouncePeerCount: 3, seederCount: 1,
                leecherCount: 2)
        ]
        return snapshot
    }

    func torrentIDs() async -> [(id: Int, hashString: String)] { torrents.map { ($0.id, $0.hashString) } }

    func snapshots(ids: [Int], detail: SnapshotDetail) async -> [TorrentSnapshot] {
        calls.append("snapshots \(ids) \(detail.rawValue)")
        return torrents.filter { ids.contains($0.id) }
    }

    func add(_ request: AddTorrentRequest) async throws(DaemonError) -> AddTorrentOutcome {
        lastAdd = request
        if case .metainfo(let bytes) = request.source, bytes == Array("dup".utf8) {
            return .duplicate(id: 1, name: "torrent 1", hashString: torrents[0].hashString)
        }
        if case .metainfo(let bytes) = request.source, bytes == Array("bad".utf8) {
            throw DaemonError(.invalidArgument, "invalid or corrupt torrent file")
        }
        return .added(id: 3, name: "new", hashString: String(repeating: "c", count: 40))
    }

    func start(ids: [Int], now: Bool) async throws(DaemonError) { calls.append("start \(ids) \(now)") }
    func stop(ids: [Int]) async throws(DaemonError) { calls.append("stop \(ids)") }
    func verify(ids: [Int]) async throws(DaemonError) { calls.append("verify \(ids)") }
    func reannounce(ids: [Int]) async throws(DaemonError) { calls.append("reannounce \(ids)") }
    func remove(ids: [Int], deleteData: Bool) async throws(DaemonError) { calls.append("remove \(ids) \(deleteData)") }
    func set(ids: [Int], _ changes: TorrentChanges) async throws(DaemonError) {
        calls.append("set \(ids)")
        lastChanges = changes
    }

    func setLocation(ids: [Int], location: String, move: Bool) async throws(DaemonError) {
        calls.append("setLocation \(ids) \(location) \(move)")
    }

    func renamePath(id: Int, path: String, name: String) async throws(DaemonError) -> (path: String, name: String) {
        calls.append("renamePath \(id) \(path) \(name)")
        return (path, name)
    }

    func updateBlocklist() async throws(DaemonError) -> Int {
        calls.append("updateBlocklist")
        return 42
    }

    func session() async -> SessionSettings {
        SessionSettings(
            downloadDir: downloadDir, peerPort: 51413, configDir: "/var/lib/nbt", peerLimitPerTorrent: 50,
            peerLimitGlobal: 200, speedLimitDown: 100, speedLimitDownEnabled: false, speedLimitUp: 100,
            speedLimitUpEnabled: true, encryption: "tolerated", dhtEnabled: false,
            pexEnabled: true, utpEnabled: false, watchDir: nil, startAddedTorrents: true)
    }

    func setSession(_ changes: SessionChanges) async throws(DaemonError) {
        lastSessionChanges = changes
        if let directory = changes.downloadDir { downloadDir = directory }
    }

    func sessionStatistics() async -> SessionStatistics {
        SessionStatistics(
            torrentCount: torrents.count, activeTorrentCount: torrents.count, pausedTorrentCount: 0,
            downloadSpeed: 1500, uploadSpeed: 20, downloadedBytes: 10, uploadedBytes: 5, filesAdded: 0,
            secondsActive: 7)
    }

    func freeSpace(at path: String) async throws(DaemonError) -> (free: Int64, total: Int64) {
        guard path == "/srv" else { throw DaemonError(.invalidArgument, "\(path): No such file or directory") }
        return (123, 456)
    }

    func portTest() async -> Bool { false }
    func close() async { closed = true }
}
