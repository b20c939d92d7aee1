import BTEngine
import BTMetainfo
import BTStorage
import Foundation
import Logging

/// The ``DaemonBackend`` of a real ``BTEngine/Client``: torrents added to the engine with their resume data
/// in the config directory, their settings kept in a ``DaemonState`` written after every change, so a
/// restart (also after `kill -9`) brings every torrent back in its state without downloading again.
public actor EngineBackend: DaemonBackend {
    /// Where the daemon keeps its state.
    public let configDir: String
    /// The engine.
    public let client: Client
    private let logger: Logger
    private let watchDir: String?
    private var state: DaemonState
    /// The engine's name of each torrent and its metainfo, by id.
    private var torrents: [Int: (handle: TorrentHandle, torrent: Torrent)] = [:]
    /// Torrents on their way into the engine (their data being checked), by id; actions on them wait.
    private var pending: [Int: Task<Void, Never>] = [:]
    /// Why a torrent could not be added to the engine, by id (shown as its error; it can be removed).
    private var failures: [Int: String] = [:]
    private var lastActivity: [Int: Int64] = [:]
    private var startDates: [Int: Int64] = [:]
    private var filesAdded = 0
    private let startedAt = Date()
    private var closeHandlers: [@Sendable () -> Void] = []

    /// A backend over `client`, keeping its state in `configDir` (created when missing); torrents are
    /// downloaded to `downloadDir` unless `torrent-add` says otherwise (a saved state's own directory wins).
    /// - Throws: ``DaemonError`` (`stateFailed`) when the config directory cannot be made or its state read.
    public init(client: Client, configDir: String, downloadDir: String, watchDir: String? = nil, logger: Logger)
        throws(DaemonError)
    {
        self.client = client
        self.configDir = configDir
        self.logger = logger
        self.watchDir = watchDir
        for folder in [configDir, configDir + "/torrents", configDir + "/resume", downloadDir] {
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                throw DaemonError(.stateFailed, "cannot create \(folder): \(error)")
            }
        }
        state = try DaemonState.load(from: configDir) ?? DaemonState(downloadDir: downloadDir)
        // Limits given on the command line win over the saved ones.
        if let rate = client.configuration.downloadLimit.bytesPerSecond {
            state.speedLimitDown = max(1, rate / 1000)
            state.speedLimitDownEnabled = true
        }
        if let rate = client.configuration.uploadLimit.bytesPerSecond {
            state.speedLimitUp = max(1, rate / 1000)
            state.speedLimitUpEnabled = true
        }
    }

    /// The engine's global limits from the session's settings.
    private func applySessionLimits() async throws(DaemonError) {
        do {
            try await client.setGlobalLimit(
                state.speedLimitDownEnabled ? .bytesPerSecond(max(1, state.speedLimitDown * 1000)) : .unlimited,
                direction: .download)
            try await client.setGlobalLimit(
                state.speedLimitUpEnabled ? .bytesPerSecond(max(1, state.speedLimitUp * 1000)) : .unlimited,
                direction: .upload)
        } catch {
            throw DaemonError(.engineFailed, "\(error)")
        }
    }

    /// Adds back every torrent of the saved state, stopped ones stopped, one after the other in the
    /// background (each checked from its resume data, so only what cannot be trusted is hashed again); the
    /// torrents are listed at once, as waiting for their check. A torrent whose .torrent file is gone is logged
    /// and kept in the state, so it is tried again at the next start.
    public func restore() async {
        do { try await applySessionLimits() } catch { logger.error("\(error)") }
        var previous: Task<Void, Never>?
        for entry in state.torrents {
            let path = torrentPath(entry.hashString)
            do {
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw DaemonError(.stateFailed, "\(path) is missing")
                }
                previous = launch(try Self.parse(Array(data)), entry, after: previous)
            } catch {
                logger.error("cannot restore torrent \(entry.id) \(entry.hashString): \(error)")
            }
        }
    }

    /// Returns once every torrent being added or restored is in the engine (or failed).
    public func settled() async {
        while let task = pending.values.first { await task.value }
    }

    /// Lists a torrent at once and adds it to the engine in the background, after `previous`.
    private func launch(_ torrent: Torrent, _ entry: DaemonState.Entry, after previous: Task<Void, Never>?)
        -> Task<Void, Never>
    {
        torrents[entry.id] = (TorrentHandle(infoHashes: torrent.infoHashes, name: torrent.name), torrent)
        let task = Task {
            await previous?.value
            await self.complete(torrent, entry)
        }
        pending[entry.id] = task
        return task
    }

    private func complete(_ torrent: Torrent, _ entry: DaemonState.Entry) async {
        do {
            try await addToEngine(torrent, entry: entry)
            logger.info("\(torrent.name) (id \(entry.id)) is in the engine")
        } catch {
            failures[entry.id] = error.reason
            logger.error("cannot add \(torrent.name) (id \(entry.id)) to the engine: \(error)")
        }
        pending[entry.id] = nil
    }

    /// Waits for the torrents of `ids` that are still on their way into the engine.
    private func settle(_ ids: [Int]) async {
        for id in ids { await pending[id]?.value }
    }

    /// Registers a closure run when a client sends `session-close`.
    public func onClose(_ handler: @escaping @Sendable () -> Void) {
        closeHandlers.append(handler)
    }

    /// Writes the state (the engine writes resume data on its own shutdown).
    public func saveState() {
        do { try state.save(to: configDir) } catch { logger.error("\(error)") }
    }

    // MARK: Paths and parsing

    private func torrentPath(_ hash: String) -> String { configDir + "/torrents/" + hash + ".torrent" }
    private func resumePath(_ hash: String) -> String { configDir + "/resume/" + hash + ".resume" }

    private static func parse(_ bytes: [UInt8]) throws(DaemonError) -> Torrent {
        do {
            return try Torrent(bytes: bytes)
        } catch {
            throw DaemonError(.invalidArgument, "invalid or corrupt torrent file")
        }
    }

    private static func enginePriorities(_ entry: DaemonState.Entry) -> [FilePriority] {
        zip(entry.wanted, entry.priorities).map { wanted, priority in
            wanted ? (priority > 0 ? .high : .normal) : .skip
        }
    }

    private static func limits(_ entry: DaemonState.Entry) -> TorrentLimits {
        TorrentLimits(
            uploadLimit: entry.uploadLimited ? .bytesPerSecond(max(1, entry.uploadLimit * 1000)) : .unlimited,
            downloadLimit: entry.downloadLimited ? .bytesPerSecond(max(1, entry.downloadLimit * 1000)) : .unlimited,
            maximumPeers: entry.peerLimit)
    }

    private func addToEngine(_ torrent: Torrent, entry: DaemonState.Entry) async throws(DaemonError) {
        let handle: TorrentHandle
        do {
            handle = try await client.addTorrent(
                torrent, downloadDirectory: entry.downloadDir, resume: resumePath(entry.hashString),
                limits: Self.limits(entry), filePriorities: Self.enginePriorities(entry))
            if entry.paused { try await client.pause(handle) }
        } catch {
            throw DaemonError(.engineFailed, "\(error)")
        }
        torrents[entry.id] = (handle, torrent)
        if !entry.paused { startDates[entry.id] = Self.now() }
    }

    private static func now() -> Int64 { Int64(Date().timeIntervalSince1970) }

    private func index(of id: Int) -> Int? { state.torrents.firstIndex { $0.id == id } }

    private func save() throws(DaemonError) { try state.save(to: configDir) }

    // MARK: DaemonBackend

    /// Every torrent's id and hex info-hash, by id.
    public func torrentIDs() async -> [(id: Int, hashString: String)] {
        state.torrents.filter { torrents[$0.id] != nil }.map { ($0.id, $0.hashString) }
    }

    /// Adds a torrent: its .torrent file is kept in the config directory, its data goes to the request's
    /// directory or the session's.
    public func add(_ request: AddTorrentRequest) async throws(DaemonError) -> AddTorrentOutcome {
        let bytes: [UInt8]
        switch request.source {
        case .metainfo(let data): bytes = data
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw DaemonError(.invalidArgument, "cannot read \(path)")
            }
            bytes = Array(data)
        case .magnet:
            throw DaemonError(.invalidArgument, "magnet links are not supported by this engine yet")
        }
        let torrent = try Self.parse(bytes)
        let hash = InfoHashes.hex(torrent.infoHashes.wire)
        if let existing = state.torrents.first(where: { $0.hashString == hash }) {
            return .duplicate(id: existing.id, name: torrent.name, hashString: hash)
        }
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: torrentPath(hash)), options: .atomic)
        } catch {
            throw DaemonError(.stateFailed, "cannot keep the .torrent file: \(error)")
        }
        let count = torrent.files.count
        var wanted = Array(repeating: true, count: count)
        for index in request.filesUnwanted where index < count { wanted[index] = false }
        // No suspension point from the duplicate check to the state's new entry: two adds at once (the watch
        // dir and an RPC client) give distinct ids, or a duplicate.
        let id = state.nextID
        state.nextID = id + 1
        let entry = DaemonState.Entry(
            id: id, hashString: hash, downloadDir: request.downloadDir ?? state.downloadDir,
            paused: request.paused || !state.startAddedTorrents, addedDate: Self.now(), wanted: wanted,
            priorities: Array(repeating: 0, count: count))
        do {
            try FileManager.default.createDirectory(atPath: entry.downloadDir, withIntermediateDirectories: true)
        } catch {
            throw DaemonError(.invalidArgument, "cannot create \(entry.downloadDir): \(error)")
        }
        state.torrents.append(entry)
        filesAdded += 1
        try save()
        _ = launch(torrent, entry, after: nil)
        logger.info("added \(torrent.name) as id \(id)")
        return .added(id: id, name: torrent.name, hashString: hash)
    }

    /// The engine's handles of the torrents of `ids` that are in it, once those being added got there.
    private func handles(_ ids: [Int]) async -> [(Int, TorrentHandle)] {
        await settle(ids)
        return ids.compactMap { id in failures[id] == nil ? torrents[id].map { (id, $0.handle) } : nil }
    }

    /// Starts torrents.
    public func start(ids: [Int], now: Bool) async throws(DaemonError) {
        for (id, handle) in await handles(ids) {
            do { try await client.resume(handle) } catch { throw DaemonError(.engineFailed, "\(error)") }
            if let index = index(of: id) { state.torrents[index].paused = false }
            startDates[id] = Self.now()
        }
        try save()
    }

    /// Stops torrents (their resume data is written).
    public func stop(ids: [Int]) async throws(DaemonError) {
        for (id, handle) in await handles(ids) {
            do { try await client.pause(handle) } catch { throw DaemonError(.engineFailed, "\(error)") }
            if let index = index(of: id) { state.torrents[index].paused = true }
        }
        try save()
    }

    /// Checks torrents' data again, in the background (the answer does not wait for the check).
    public func verify(ids: [Int]) async throws(DaemonError) {
        let client = self.client
        let logger = self.logger
        for (_, handle) in await handles(ids) {
            Task {
                do { try await client.recheck(handle) } catch { logger.warning("verify \(handle): \(error)") }
            }
        }
    }

    /// Asks torrents' trackers for an early announce.
    public func reannounce(ids: [Int]) async throws(DaemonError) {
        for (_, handle) in await handles(ids) {
            do { try await client.reannounce(handle) } catch { throw DaemonError(.engineFailed, "\(error)") }
        }
    }

    /// Removes torrents from the engine and the state, with their data when `deleteData` (a torrent that never
    /// got into the engine only leaves the state).
    public func remove(ids: [Int], deleteData: Bool) async throws(DaemonError) {
        for id in ids where failures[id] != nil {
            failures[id] = nil
            torrents[id] = nil
            if let index = index(of: id) { state.torrents.remove(at: index) }
        }
        for (id, handle) in await handles(ids) {
            do {
                try await client.removeTorrent(handle, deleteData: deleteData)
            } catch {
                throw DaemonError(.engineFailed, "\(error)")
            }
            torrents[id] = nil
            if let index = index(of: id) {
                let hash = state.torrents[index].hashString
                state.torrents.remove(at: index)
                try? FileManager.default.removeItem(atPath: torrentPath(hash))
                try? FileManager.default.removeItem(atPath: resumePath(hash))
            }
            logger.info("removed torrent \(id)\(deleteData ? " and its data" : "")")
        }
        try save()
    }

    /// Changes torrents' limits and file selection.
    public func set(ids: [Int], _ changes: TorrentChanges) async throws(DaemonError) {
        for (id, handle) in await handles(ids) {
            guard let index = index(of: id) else { continue }
            var entry = state.torrents[index]
            let before = entry
            if let value = changes.downloadLimit { entry.downloadLimit = value }
            if let value = changes.downloadLimited { entry.downloadLimited = value }
            if let value = changes.uploadLimit { entry.uploadLimit = value }
            if let value = changes.uploadLimited { entry.uploadLimited = value }
            if let value = changes.peerLimit { entry.peerLimit = value }
            let count = entry.wanted.count
            func apply(_ indexes: [Int]?, _ body: (inout DaemonState.Entry, Int) -> Void) throws(DaemonError) {
                guard let indexes else { return }
                if let bad = indexes.first(where: { $0 >= count }) {
                    throw DaemonError(.invalidArgument, "file index \(bad) out of range (\(count) files)")
                }
                for file in indexes.isEmpty ? Array(0..<count) : indexes { body(&entry, file) }
            }
            try apply(changes.filesWanted) { $0.wanted[$1] = true }
            try apply(changes.filesUnwanted) { $0.wanted[$1] = false }
            try apply(changes.priorityHigh) { $0.priorities[$1] = 1 }
            try apply(changes.priorityNormal) { $0.priorities[$1] = 0 }
            try apply(changes.priorityLow) { $0.priorities[$1] = -1 }
            do {
                if Self.limits(entry) != Self.limits(before) {
                    try await client.setLimits(Self.limits(entry), for: handle)
                }
                if Self.enginePriorities(entry) != Self.enginePriorities(before) {
                    try await client.setFilePriorities(handle, Self.enginePriorities(entry))
                }
            } catch {
                throw DaemonError(.engineFailed, "\(error)")
            }
            state.torrents[index] = entry
        }
        try save()
    }

    /// The session's settings.
    public func session() async -> SessionSettings {
        let configuration = client.configuration
        return SessionSettings(
            downloadDir: state.downloadDir, peerPort: client.port, configDir: configDir,
            peerLimitPerTorrent: configuration.maximumPeersPerTorrent,
            peerLimitGlobal: configuration.maximumConnections,
            speedLimitDown: state.speedLimitDown, speedLimitDownEnabled: state.speedLimitDownEnabled,
            speedLimitUp: state.speedLimitUp, speedLimitUpEnabled: state.speedLimitUpEnabled,
            encryption: configuration.encryption == .required
                ? "required" : configuration.encryption == .preferred ? "preferred" : "tolerated",
            dhtEnabled: configuration.dht != nil, pexEnabled: true,
            utpEnabled: !(configuration.transport is TCPTransport), watchDir: watchDir,
            startAddedTorrents: state.startAddedTorrents)
    }

    /// Changes the session's download directory and whether added torrents start.
    public func setSession(_ changes: SessionChanges) async throws(DaemonError) {
        if let directory = changes.downloadDir { state.downloadDir = directory }
        if let start = changes.startAddedTorrents { state.startAddedTorrents = start }
        let limits = [changes.speedLimitDown, changes.speedLimitUp].compactMap { $0 }
        let switches = [changes.speedLimitDownEnabled, changes.speedLimitUpEnabled].compactMap { $0 }
        if let value = changes.speedLimitDown { state.speedLimitDown = value }
        if let value = changes.speedLimitDownEnabled { state.speedLimitDownEnabled = value }
        if let value = changes.speedLimitUp { state.speedLimitUp = value }
        if let value = changes.speedLimitUpEnabled { state.speedLimitUpEnabled = value }
        if !limits.isEmpty || !switches.isEmpty { try await applySessionLimits() }
        try save()
    }

    /// Totals of the session.
    public func sessionStatistics() async -> SessionStatistics {
        let statuses = await client.statuses()
        let total = SessionStatus(summing: statuses)
        let paused = statuses.filter { $0.state == .paused || $0.state == .failed }.count
        return SessionStatistics(
            torrentCount: statuses.count, activeTorrentCount: statuses.count - paused, pausedTorrentCount: paused,
            downloadSpeed: total.downloadRate, uploadSpeed: total.uploadRate, downloadedBytes: total.downloadedBytes,
            uploadedBytes: total.uploadedBytes, filesAdded: filesAdded,
            secondsActive: Int64(Date().timeIntervalSince(startedAt)))
    }

    /// Free and total bytes of the file system holding `path`.
    public func freeSpace(at path: String) async throws(DaemonError) -> (free: Int64, total: Int64) {
        do {
            let attributes = try FileManager.default.attributesOfFileSystem(forPath: path)
            return (Self.int64(attributes[.systemFreeSize]), Self.int64(attributes[.systemSize]))
        } catch {
            throw DaemonError(.invalidArgument, "\(path): No such file or directory")
        }
    }

    private static func int64(_ value: Any?) -> Int64 {
        switch value {
        case let number as NSNumber: return number.int64Value
        case let number as Int64: return number
        case let number as UInt64: return Int64(clamping: number)
        case let number as Int: return Int64(number)
        default: return 0
        }
    }

    /// False: the daemon has no outside prober to ask, and a loopback-only run is not reachable from outside.
    public func portTest() async -> Bool { false }

    /// Runs the `session-close` handlers.
    public func close() async {
        logger.info("session-close received")
        for handler in closeHandlers { handler() }
    }

    // MARK: Snapshots

    /// Snapshots of torrents, from one engine status call plus the details asked for.
    public func snapshots(ids: [Int], detail: SnapshotDetail) async -> [TorrentSnapshot] {
        let wanted = Set(ids)
        var statuses: [TorrentHandle: TorrentStatus] = [:]
        if ids.count == 1, let handle = torrents[ids[0]]?.handle {
            statuses[handle] = await client.status(of: handle)
        } else {
            for status in await client.statuses() { statuses[status.handle] = status }
        }
        var result: [TorrentSnapshot] = []
        var changed = false
        for index in state.torrents.indices where wanted.contains(state.torrents[index].id) {
            let entry = state.torrents[index]
            guard let known = torrents[entry.id] else { continue }
            let (handle, torrent) = known
            guard let status = statuses[handle] else {
                result.append(placeholder(entry, torrent))
                continue
            }
            var snapshot = Self.snapshot(entry, torrent, status)
            let now = Self.now()
            if status.isFinished && entry.doneDate == 0 {
                state.torrents[index].doneDate = now
                snapshot.doneDate = now
                changed = true
            }
            if status.downloadRate > 0 || status.uploadRate > 0 { lastActivity[entry.id] = now }
            snapshot.activityDate = lastActivity[entry.id] ?? 0
            snapshot.startDate = startDates[entry.id] ?? 0
            snapshot.torrentFile = torrentPath(entry.hashString)
            if detail.contains(.files) || detail.contains(.pieces) {
                let verified = await client.verifiedPieces(of: handle) ?? Bitfield(count: torrent.pieceCount)
                if detail.contains(.files) { snapshot.files = Self.files(torrent, entry, verified) }
                if detail.contains(.pieces) { snapshot.pieces = verified.bytes }
            }
            if detail.contains(.peers) {
                snapshot.peers = await client.peers(of: handle).filter { $0.phase == .connected }.map(Self.peer)
                snapshot.peersSendingToUs = snapshot.peers.filter { !$0.clientIsChoked && $0.clientIsInterested }.count
                snapshot.peersGettingFromUs = snapshot.peers.filter { !$0.peerIsChoked && $0.peerIsInterested }.count
            }
            if detail.contains(.trackers) {
                let live = await client.trackerStatuses(of: handle)
                if !live.isEmpty {
                    snapshot.trackers = live.enumerated().map { index, tracker in
                        TrackerSnapshot(
                            announce: tracker.url, tier: tracker.tier, id: index,
                            hasAnnounced: tracker.isStarted || tracker.lastPeerCount != nil,
                            lastAnnounceSucceeded: tracker.lastError == nil && tracker.lastPeerCount != nil,
                            lastAnnounceResult: tracker.lastError ?? (tracker.lastPeerCount != nil ? "Success" : ""),
                            lastAnnouncePeerCount: tracker.lastPeerCount ?? 0, seederCount: tracker.seeders ?? -1,
                            leecherCount: tracker.leechers ?? -1)
                    }
                }
            }
            result.append(snapshot)
        }
        if changed { saveState() }
        return result
    }

    /// A torrent not (yet) in the engine: waiting for its check, or stopped with the error that kept it out.
    private func placeholder(_ entry: DaemonState.Entry, _ torrent: Torrent) -> TorrentSnapshot {
        let failure = failures[entry.id]
        var snapshot = TorrentSnapshot(
            id: entry.id, hashString: entry.hashString, name: torrent.name,
            activity: failure == nil ? .checkWait : .stopped, totalSize: torrent.totalSize,
            sizeWhenDone: torrent.totalSize, leftUntilDone: torrent.totalSize, haveValid: 0, percentComplete: 0,
            percentDone: 0, downloadDir: entry.downloadDir, pieceCount: torrent.pieceCount,
            pieceSize: torrent.pieceLength, addedDate: entry.addedDate)
        if let failure {
            snapshot.error = 3
            snapshot.errorString = failure
        }
        snapshot.fileCount = torrent.files.count
        snapshot.torrentFile = torrentPath(entry.hashString)
        return snapshot
    }

    private static func snapshot(_ entry: DaemonState.Entry, _ torrent: Torrent, _ status: TorrentStatus)
        -> TorrentSnapshot
    {
        let activity: TorrentActivity
        switch status.state {
        case .paused, .failed: activity = .stopped
        case .checking: activity = .checking
        case .seeding: activity = .seeding
        // Downloading, and the states the engine may add (fetching a magnet's metadata is on its way).
        default: activity = .downloading
        }
        var snapshot = TorrentSnapshot(
            id: entry.id, hashString: entry.hashString, name: torrent.name, activity: activity,
            totalSize: status.totalBytes, sizeWhenDone: status.wantedBytes,
            leftUntilDone: max(0, status.wantedBytes - status.verifiedWantedBytes), haveValid: status.verifiedBytes,
            percentComplete: status.progress,
            percentDone: status.wantedBytes == 0 ? 1 : Double(status.verifiedWantedBytes) / Double(status.wantedBytes),
            downloadDir: entry.downloadDir, pieceCount: torrent.pieceCount, pieceSize: torrent.pieceLength,
            addedDate: entry.addedDate)
        if status.state == .failed {
            snapshot.error = 3
            snapshot.errorString = status.error ?? "storage error"
        }
        snapshot.doneDate = entry.doneDate
        snapshot.recheckProgress = status.checkProgress ?? 0
        snapshot.rateDownload = status.downloadRate
        snapshot.rateUpload = status.uploadRate
        snapshot.peersConnected = status.peers
        snapshot.eta = status.eta.map { Int($0.components.seconds) } ?? -1
        snapshot.uploadRatio = status.downloadedBytes > 0 ? status.ratio : (status.uploadedBytes > 0 ? status.ratio : 0)
        snapshot.uploadedEver = status.uploadedBytes
        snapshot.downloadedEver = status.downloadedBytes
        snapshot.isFinished = status.isFinished
        snapshot.isPrivate = torrent.isPrivate
        snapshot.queuePosition = entry.id - 1
        snapshot.comment = torrent.comment ?? ""
        snapshot.creator = torrent.createdBy ?? ""
        snapshot.dateCreated = torrent.creationDate ?? 0
        snapshot.downloadLimit = entry.downloadLimit
        snapshot.downloadLimited = entry.downloadLimited
        snapshot.uploadLimit = entry.uploadLimit
        snapshot.uploadLimited = entry.uploadLimited
        snapshot.peerLimit = status.limits.maximumPeers ?? entry.peerLimit ?? 50
        snapshot.webseeds = torrent.webSeeds
        snapshot.fileCount = torrent.files.count
        var magnet = "magnet:?xt=urn:btih:\(entry.hashString)"
        if let name = torrent.name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) {
            magnet += "&dn=" + name
        }
        for url in torrent.announceTiers.joined() {
            if let encoded = url.addingPercentEncoding(withAllowedCharacters: .alphanumerics) {
                magnet += "&tr=" + encoded
            }
        }
        snapshot.magnetLink = magnet
        var trackerID = 0
        for (tier, urls) in torrent.announceTiers.enumerated() {
            for url in urls {
                snapshot.trackers.append(
                    TrackerSnapshot(
                        announce: url, tier: tier, id: trackerID, hasAnnounced: false, lastAnnounceSucceeded: false,
                        lastAnnounceResult: "", lastAnnouncePeerCount: 0, seederCount: -1, leecherCount: -1))
                trackerID += 1
            }
        }
        return snapshot
    }

    /// Each file with the bytes of it in verified pieces.
    static func files(_ torrent: Torrent, _ entry: DaemonState.Entry, _ verified: Bitfield) -> [FileSnapshot] {
        let pieceLength = Int64(max(1, torrent.pieceLength))
        let total = torrent.files.last.map { $0.offset + $0.length } ?? 0
        return torrent.files.enumerated().map { index, file in
            let first = Int(file.offset / pieceLength)
            let endByte = file.offset + file.length
            let end = file.length == 0 ? first : Int((endByte - 1) / pieceLength) + 1
            var completed: Int64 = 0
            if file.length > 0 {
                for piece in first..<min(end, verified.count) where verified[piece] {
                    let start = max(file.offset, Int64(piece) * pieceLength)
                    let stop = min(endByte, min(total, Int64(piece + 1) * pieceLength))
                    completed += max(0, stop - start)
                }
            }
            let name = ([torrent.isSingleFile ? [] : [torrent.name]] + [file.path]).joined().joined(separator: "/")
            return FileSnapshot(
                name: name, length: file.length, bytesCompleted: completed,
                wanted: index < entry.wanted.count ? entry.wanted[index] : true,
                priority: index < entry.priorities.count ? entry.priorities[index] : 0, beginPiece: first,
                endPiece: end)
        }
    }

    private static func peer(_ peer: PeerStatus) -> PeerSnapshot {
        var flags = ""
        if !peer.peerChoking && peer.amInterested { flags += "D" } else if peer.amInterested { flags += "d" }
        if !peer.amChoking && peer.peerInterested { flags += "U" } else if peer.peerInterested { flags += "u" }
        if !peer.peerChoking && !peer.amInterested { flags += "K" }
        if !peer.amChoking && !peer.peerInterested { flags += "?" }
        if peer.isOptimisticUnchoke { flags += "O" }
        if peer.isEncrypted { flags += "E" }
        if peer.isIncoming { flags += "I" }
        if peer.transport == .utp { flags += "T" }
        switch peer.source {
        case .pex: flags += "X"
        case .dht: flags += "H"
        default: break
        }
        return PeerSnapshot(
            address: peer.endpoint.address.description, port: Int(peer.endpoint.port),
            clientName: peer.client ?? "", flagString: flags,
            progress: peer.pieces.count > 0 ? Double(peer.peerPieceCount) / Double(peer.pieces.count) : 0,
            rateToClient: peer.downloadRate, rateToPeer: peer.uploadRate, clientIsChoked: peer.peerChoking,
            clientIsInterested: peer.amInterested, peerIsChoked: peer.amChoking, peerIsInterested: peer.peerInterested,
            isIncoming: peer.isIncoming, isEncrypted: peer.isEncrypted, isUTP: peer.transport == .utp)
    }
}
