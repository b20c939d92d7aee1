import BTEngine
import BTMetainfo
import BTStorage
import Foundation
import Logging

/// The ``DaemonBackend`` of a real `BTEngine.Client`: torrents added to the engine with their resume data
/// in the config directory, their settings kept in a `DaemonState` whose every change is journaled by a
/// `StateStore`, so a restart (also after `kill -9`) brings every torrent back in its state without
/// downloading again.
public actor EngineBackend: DaemonBackend {
    /// Where the daemon keeps its state.
    public let configDir: String
    /// The engine.
    public let client: Client
    let logger: Logger
    let watchDir: String?
    var state: DaemonState
    /// The state on disk: each change is one journal record.
    private let store: StateStore
    /// The engine's name of each torrent and its metainfo, by id.
    var torrents: [Int: (handle: TorrentHandle, torrent: Torrent)] = [:]
    /// Torrents on their way into the engine (their data being checked), by id; actions on them wait.
    private var pending: [Int: Task<Void, Never>] = [:]
    /// Magnets whose metadata the daemon has not seen yet, by id (their `torrents` entry is a placeholder).
    var fetching: [Int: MagnetLink] = [:]
    /// Why a torrent could not be added to the engine, by id (shown as its error; it can be removed).
    var failures: [Int: String] = [:]
    var lastActivity: [Int: Int64] = [:]
    var startDates: [Int: Int64] = [:]
    var filesAdded = 0
    /// The ranges of the blocklist last read (`blocklist.txt` in the config directory).
    var blocklistRanges: [IPRange] = []
    let startedAt = Date()
    var closeHandlers: [@Sendable () -> Void] = []

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
        var state = try StateStore.load(from: configDir) ?? DaemonState(downloadDir: downloadDir)
        // Limits given on the command line win over the saved ones.
        if let rate = client.configuration.downloadLimit.bytesPerSecond {
            state.speedLimitDown = max(1, rate / 1000)
            state.speedLimitDownEnabled = true
        }
        if let rate = client.configuration.uploadLimit.bytesPerSecond {
            state.speedLimitUp = max(1, rate / 1000)
            state.speedLimitUpEnabled = true
        }
        self.state = state
        store = try StateStore(configDir: configDir, state: state)
    }

    /// The engine's global limits from the session's settings.
    func applySessionLimits() async throws(DaemonError) {
        do {
            try await client.setGlobalLimit(
                state.effectiveDownloadLimit.map { .bytesPerSecond(max(1, $0 * 1000)) } ?? .unlimited,
                direction: .download)
            try await client.setGlobalLimit(
                state.effectiveUploadLimit.map { .bytesPerSecond(max(1, $0 * 1000)) } ?? .unlimited,
                direction: .upload)
        } catch {
            throw DaemonError(.engineFailed, "\(error)")
        }
    }

    /// Adds back every torrent of the saved state, stopped ones stopped, in `restoreLanes` background lanes
    /// (each checked from its resume data, so only what cannot be trusted is hashed again); the
    /// torrents are listed at once, as waiting for their check. A torrent whose .torrent file is gone is logged
    /// and kept in the state, so it is tried again at the next start.
    public func restore() async {
        do {
            try await applySessionLimits()
            if let maximum = state.peerLimitGlobal { try await client.setMaximumConnections(maximum) }
            if let encryption = state.encryption { try await applyEncryption(encryption) }
        } catch {
            logger.error("\(error)")
        }
        if let data = FileManager.default.contents(atPath: blocklistPath) {
            do {
                blocklistRanges = try IPFilter.parse(String(decoding: data, as: UTF8.self))
                await applyBlocklist()
            } catch {
                logger.error("cannot read the blocklist \(blocklistPath): \(error)")
            }
        }
        // Each lane adds its torrents one after the other: a torrent's add is mostly waiting (its resume data
        // and files read on the thread pool), so lanes overlap those waits; hashing stays bounded by the pool.
        var lanes: [Task<Void, Never>?] = Array(repeating: nil, count: Self.restoreLanes)
        for (position, entry) in state.torrents.enumerated() {
            let lane = position % Self.restoreLanes
            let previous = lanes[lane]
            let path = torrentPath(entry.hashString)
            do {
                if let uri = entry.magnet, let link = try restoredMagnet(uri, entry) {
                    lanes[lane] = launch(Self.placeholder(link), entry, after: previous, magnet: link)
                    continue
                }
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw DaemonError(.stateFailed, "\(path) is missing")
                }
                lanes[lane] = launch(try Self.parse(Array(data)), entry, after: previous)
            } catch {
                logger.error("cannot restore torrent \(entry.id) \(entry.hashString): \(error)")
            }
        }
    }

    /// How many torrents ``restore()`` adds to the engine at once.
    static let restoreLanes = 8

    /// Returns once every torrent being added or restored is in the engine (or failed).
    public func settled() async {
        while let task = pending.values.first { await task.value }
    }

    /// The magnet to add back for a saved magnet entry, or nil when its metadata is known: the daemon's
    /// `torrents/HASH.torrent`, or the .torrent the engine keeps beside the resume data (copied to the former).
    private func restoredMagnet(_ uri: String, _ entry: DaemonState.Entry) throws(DaemonError) -> MagnetLink? {
        let path = torrentPath(entry.hashString)
        if FileManager.default.fileExists(atPath: path) { return nil }
        if let data = FileManager.default.contents(atPath: resumePath(entry.hashString) + ".torrent"),
            (try? Self.parse(Array(data)))?.infoHashes.wire.elementsEqual(Self.hashBytes(entry.hashString)) == true
        {
            try? data.write(to: URL(fileURLWithPath: path), options: .atomic)
            if FileManager.default.fileExists(atPath: path) { return nil }
        }
        return try Self.magnet(uri)
    }

    private static func hashBytes(_ hex: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex, let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex) {
            bytes.append(UInt8(hex[index..<next], radix: 16) ?? 0)
            index = next
        }
        return bytes
    }

    /// Lists a torrent at once and adds it to the engine in the background, after `previous`; with `magnet`,
    /// `torrent` is the magnet's placeholder and the engine fetches its metadata.
    private func launch(
        _ torrent: Torrent, _ entry: DaemonState.Entry, after previous: Task<Void, Never>?, magnet: MagnetLink? = nil
    ) -> Task<Void, Never> {
        torrents[entry.id] = (TorrentHandle(infoHashes: torrent.infoHashes, name: torrent.name), torrent)
        if let magnet { fetching[entry.id] = magnet }
        let task = Task {
            await previous?.value
            await self.complete(torrent, entry, magnet: magnet)
        }
        pending[entry.id] = task
        return task
    }

    private func complete(_ torrent: Torrent, _ entry: DaemonState.Entry, magnet: MagnetLink?) async {
        do {
            try await addToEngine(torrent, entry: entry, magnet: magnet)
            logger.info("\(torrent.name) (id \(entry.id)) is in the engine")
            if magnet != nil { watchMetadata(entry.id) }
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

    /// Writes the state as one snapshot, its journal emptied (the engine writes resume data on its own
    /// shutdown).
    public func saveState() {
        do { try store.compact(state) } catch { logger.error("\(error)") }
    }

    // MARK: Paths and parsing

    func torrentPath(_ hash: String) -> String { configDir + "/torrents/" + hash + ".torrent" }
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

    private func addToEngine(_ torrent: Torrent, entry: DaemonState.Entry, magnet: MagnetLink?)
        async throws(DaemonError)
    {
        let handle: TorrentHandle
        do {
            if let magnet {
                handle = try await client.addTorrent(
                    magnet: magnet, downloadDirectory: entry.downloadDir, resume: resumePath(entry.hashString),
                    limits: Self.limits(entry))
            } else {
                handle = try await client.addTorrent(
                    torrent, downloadDirectory: entry.downloadDir, resume: resumePath(entry.hashString),
                    limits: Self.limits(entry), filePriorities: Self.enginePriorities(entry))
            }
            if entry.paused { try await client.pause(handle) }
        } catch {
            throw DaemonError(.engineFailed, "\(error)")
        }
        torrents[entry.id] = (handle, torrent)
        if !entry.paused { startDates[entry.id] = Self.now() }
    }

    static func now() -> Int64 { Int64(Date().timeIntervalSince1970) }

    /// Journals the entry of `id` as it now is (or its removal, when it is gone).
    func record(_ id: Int) throws(DaemonError) {
        let entry = state.torrents[id: id]
        try store.append(StateStore.Record(put: entry, remove: entry == nil ? id : nil), state: state)
    }

    /// Journals the session's settings.
    func recordSession() throws(DaemonError) {
        var session = state
        session.torrents = TorrentTable()
        try store.append(StateStore.Record(session: session), state: state)
    }

    /// Journals a change, logging a failure (for changes made in the background, with no client to tell).
    func recordLogged(_ id: Int) {
        do { try record(id) } catch { logger.error("\(error)") }
    }

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
        case .magnet(let uri):
            return try addMagnet(uri, request)
        case .url(let url):
            bytes = try await TorrentURLFetcher(addressPolicy: client.configuration.trackerAddressPolicy).fetch(url)
        }
        let torrent = try Self.parse(bytes)
        let hash = InfoHashes.hex(torrent.infoHashes.wire)
        if let existing = state.torrents.entry(hash: hash) {
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
        let entry = try newEntry(hash, request, wanted: wanted, magnet: nil)
        _ = launch(torrent, entry, after: nil)
        logger.info("added \(torrent.name) as id \(entry.id)")
        return .added(id: entry.id, name: torrent.name, hashString: hash)
    }

    /// Adds a magnet: listed at once under the link's `dn` (or its hash), fetching its metadata in the
    /// engine; the daemon keeps the link in its state, and the .torrent once the metadata is known.
    private func addMagnet(_ uri: String, _ request: AddTorrentRequest) throws(DaemonError) -> AddTorrentOutcome {
        let link = try Self.magnet(uri)
        let hash = InfoHashes.hex(link.infoHashes.wire)
        if let existing = state.torrents.entry(hash: hash) {
            return .duplicate(id: existing.id, name: torrents[existing.id]?.torrent.name ?? hash, hashString: hash)
        }
        let placeholder = Self.placeholder(link)
        let entry = try newEntry(hash, request, wanted: [], magnet: link.uri)
        _ = launch(placeholder, entry, after: nil, magnet: link)
        logger.info("added the magnet \(placeholder.name) as id \(entry.id)")
        return .added(id: entry.id, name: placeholder.name, hashString: hash)
    }

    /// A new entry in the state (saved), its download directory created.
    private func newEntry(_ hash: String, _ request: AddTorrentRequest, wanted: [Bool], magnet: String?)
        throws(DaemonError) -> DaemonState.Entry
    {
        let downloadDir = request.downloadDir ?? state.downloadDir
        do {
            try FileManager.default.createDirectory(atPath: downloadDir, withIntermediateDirectories: true)
        } catch {
            throw DaemonError(.invalidArgument, "cannot create \(downloadDir): \(error)")
        }
        // No suspension point from the duplicate check to the state's new entry: two adds at once (the watch
        // dir and an RPC client) give distinct ids, or a duplicate.
        let id = state.nextID
        state.nextID = id + 1
        var entry = DaemonState.Entry(
            id: id, hashString: hash, downloadDir: downloadDir, paused: request.paused || !state.startAddedTorrents,
            addedDate: Self.now(), wanted: wanted, priorities: Array(repeating: 0, count: wanted.count))
        entry.magnet = magnet
        entry.peerLimit = state.peerLimitPerTorrent
        state.torrents.upsert(entry)
        filesAdded += 1
        try record(id)
        return entry
    }

    private static func magnet(_ uri: String) throws(DaemonError) -> MagnetLink {
        do {
            return try MagnetLink(parsing: uri)
        } catch {
            throw DaemonError(.invalidArgument, "invalid magnet link: \(error)")
        }
    }

    /// What stands for a magnet until its metadata is known: its hashes, its `dn` (or the hex info-hash) as
    /// name, its trackers and web seeds, no files.
    static func placeholder(_ link: MagnetLink) -> Torrent {
        let hashes = link.infoHashes
        let name = link.displayName.flatMap { $0.isEmpty ? nil : $0 } ?? InfoHashes.hex(hashes.wire)
        return Torrent(
            version: hashes.v1 == nil ? .v2 : (hashes.v2 == nil ? .v1 : .hybrid), infoHashes: hashes, name: name,
            pieceLength: 16 * 1024, files: [], isSingleFile: true, pieceHashes: [],
            announceTiers: link.trackers.filter { !$0.isEmpty }.map { [$0] }, webSeeds: link.webSeeds, infoBytes: [])
    }

    /// Polls the engine until a magnet's metadata is known (or the torrent is gone), then takes it in, so
    /// the .torrent is kept even when no client asks for the torrent meanwhile.
    private func watchMetadata(_ id: Int) {
        Task { [weak self] in
            while let self, await self.isFetching(id) {
                await self.adoptMetadata(id)
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    private func isFetching(_ id: Int) -> Bool { fetching[id] != nil }

    /// Takes in a magnet's metadata once the engine has it: keeps `torrents/HASH.torrent`, sizes the file
    /// selection (the link's BEP 53 `so`, as the engine applied it), and lists the real torrent from now on.
    func adoptMetadata(_ id: Int) async {
        guard let link = fetching[id], let handle = torrents[id]?.handle,
            let torrent = await client.torrent(of: handle), fetching[id] != nil,
            let hash = state.torrents[id: id]?.hashString
        else { return }
        fetching[id] = nil
        do {
            try Data(torrent.encoded()).write(to: URL(fileURLWithPath: torrentPath(hash)), options: .atomic)
        } catch {
            logger.error("cannot keep the .torrent of \(torrent.name): \(error)")
        }
        let count = torrent.files.count
        state.torrents.update(id) { entry in
            entry.wanted = (0..<count).map { file in
                link.selectOnly.map { ranges in ranges.contains { $0.contains(file) } } ?? true
            }
            entry.priorities = Array(repeating: 0, count: count)
        }
        torrents[id] = (handle, torrent)
        recordLogged(id)
        logger.info("metadata of torrent \(id) known: \(torrent.name), \(count) files")
    }

    /// The engine's handles of the torrents of `ids` that are in it, once those being added got there.
    func handles(_ ids: [Int]) async -> [(Int, TorrentHandle)] {
        await settle(ids)
        return ids.compactMap { id in failures[id] == nil ? torrents[id].map { (id, $0.handle) } : nil }
    }

    /// Starts torrents.
    public func start(ids: [Int], now: Bool) async throws(DaemonError) {
        for (id, handle) in await handles(ids) {
            do { try await client.resume(handle) } catch { throw DaemonError(.engineFailed, "\(error)") }
            state.torrents.update(id) { $0.paused = false }
            startDates[id] = Self.now()
            try record(id)
        }
    }

    /// Stops torrents (their resume data is written).
    public func stop(ids: [Int]) async throws(DaemonError) {
        for (id, handle) in await handles(ids) {
            do { try await client.pause(handle) } catch { throw DaemonError(.engineFailed, "\(error)") }
            state.torrents.update(id) { $0.paused = true }
            try record(id)
        }
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
            state.torrents.remove(id: id)
            try record(id)
        }
        for (id, handle) in await handles(ids) {
            do {
                try await client.removeTorrent(handle, deleteData: deleteData)
            } catch {
                throw DaemonError(.engineFailed, "\(error)")
            }
            torrents[id] = nil
            fetching[id] = nil
            if let hash = state.torrents.remove(id: id)?.hashString {
                try? FileManager.default.removeItem(atPath: torrentPath(hash))
                try? FileManager.default.removeItem(atPath: resumePath(hash))
                try? FileManager.default.removeItem(atPath: resumePath(hash) + ".torrent")
            }
            try record(id)
            logger.info("removed torrent \(id)\(deleteData ? " and its data" : "")")
        }
    }

    /// Changes torrents' limits and file selection.
    public func set(ids: [Int], _ changes: TorrentChanges) async throws(DaemonError) {
        for (id, handle) in await handles(ids) {
            guard var entry = state.torrents[id: id] else { continue }
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
            if let labels = changes.labels { entry.labels = labels.isEmpty ? nil : labels }
            try await editTrackers(id, handle, changes)
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
            if state.torrents[id: id] != nil {
                state.torrents.upsert(entry)
                try record(id)
            }
        }
    }

    /// The tier list after `changes`' tracker edits, or nil when they change nothing. Ids are positions in
    /// the flattened list, as ``TrackerSnapshot/id`` numbers them.
    static func trackerTiers(_ tiers: [[String]], _ changes: TorrentChanges) throws(DaemonError) -> [[String]]? {
        guard
            changes.trackerList != nil || changes.trackerAdd != nil || changes.trackerRemove != nil
                || changes.trackerReplace != nil
        else { return nil }
        var tiers = changes.trackerList ?? tiers
        let flat = tiers.flatMap { $0 }
        for replacement in changes.trackerReplace ?? [] {
            guard replacement.id < flat.count else {
                throw DaemonError(.invalidArgument, "tracker \(replacement.id) does not exist")
            }
            let old = flat[replacement.id]
            if flat.contains(replacement.announce) && old != replacement.announce {
                throw DaemonError(.invalidArgument, "\(replacement.announce) is already a tracker")
            }
            tiers = tiers.map { $0.map { $0 == old ? replacement.announce : $0 } }
        }
        if let remove = changes.trackerRemove {
            if let bad = remove.first(where: { $0 >= flat.count }) {
                throw DaemonError(.invalidArgument, "tracker \(bad) does not exist")
            }
            let gone = Set(remove.map { flat[$0] })
            tiers = tiers.map { $0.filter { !gone.contains($0) } }.filter { !$0.isEmpty }
        }
        for url in changes.trackerAdd ?? [] where !tiers.joined().contains(url) { tiers.append([url]) }
        return tiers
    }

    /// Applies `changes`' tracker edits: the engine's schedule, the torrent the daemon lists, and the .torrent
    /// kept in the config directory (so a restart keeps them; the info-hash does not change).
    private func editTrackers(_ id: Int, _ handle: TorrentHandle, _ changes: TorrentChanges) async throws(DaemonError) {
        guard var torrent = torrents[id]?.torrent,
            let tiers = try Self.trackerTiers(torrent.announceTiers, changes)
        else { return }
        guard fetching[id] == nil else {
            throw DaemonError(.invalidArgument, "the trackers of a magnet can be edited once its metadata is known")
        }
        do { try await client.setTrackers(tiers, for: handle) } catch { throw DaemonError(.engineFailed, "\(error)") }
        torrent.announceTiers = tiers
        torrents[id] = (handle, torrent)
        guard let hash = state.torrents[id: id]?.hashString else { return }
        do {
            try Data(torrent.encoded()).write(to: URL(fileURLWithPath: torrentPath(hash)), options: .atomic)
        } catch {
            throw DaemonError(.stateFailed, "cannot keep the trackers in \(torrentPath(hash)): \(error)")
        }
        logger.info("torrent \(id): trackers now \(tiers)")
    }

    /// Moves torrents' data (or, without `move`, points them at data already there and checks it): each is
    /// taken out of the engine (its resume data written), its files moved, and added back at the new place,
    /// stopped or not as before. Actions on it meanwhile wait, as for a torrent being added.
    public func setLocation(ids: [Int], location: String, move: Bool) async throws(DaemonError) {
        for (id, handle) in await handles(ids) {
            guard let entry = state.torrents[id: id], entry.downloadDir != location,
                let torrent = torrents[id]?.torrent
            else { continue }
            let source = entry.downloadDir + "/" + (entry.name ?? torrent.name)
            let target = location + "/" + (entry.name ?? torrent.name)
            let hasData = fetching[id] == nil && FileManager.default.fileExists(atPath: source)
            if move && hasData && FileManager.default.fileExists(atPath: target) {
                throw DaemonError(.invalidArgument, "\(target) already exists")
            }
            do {
                try FileManager.default.createDirectory(atPath: location, withIntermediateDirectories: true)
            } catch {
                throw DaemonError(.invalidArgument, "cannot create \(location): \(error)")
            }
            let task = Task { () -> DaemonError? in
                do {
                    try await self.client.removeTorrent(handle, deleteData: false)
                } catch {
                    return DaemonError(.engineFailed, "\(error)")
                }
                var failure: DaemonError?
                if move && hasData {
                    do {
                        try FileManager.default.moveItem(atPath: source, toPath: target)
                    } catch {
                        failure = DaemonError(.invalidArgument, "cannot move \(source) to \(target): \(error)")
                    }
                }
                return await self.readd(id, torrent, location: failure == nil ? location : nil, check: !move)
                    ?? failure
            }
            pending[id] = Task { _ = await task.value }
            let failure = await task.value
            pending[id] = nil
            if let failure { throw failure }
            logger.info("torrent \(id) \(move ? "moved" : "pointed") to \(location)")
        }
    }

    /// Adds a torrent taken out by ``setLocation(ids:location:move:)`` back, at `location` (nil: where it
    /// was), and checks its data when `check`.
    private func readd(_ id: Int, _ torrent: Torrent, location: String?, check: Bool) async -> DaemonError? {
        if let location { state.torrents.update(id) { $0.downloadDir = location } }
        guard let entry = state.torrents[id: id] else { return nil }
        recordLogged(id)
        do {
            try await addToEngine(torrent, entry: entry, magnet: fetching[id])
            if check && fetching[id] == nil, let handle = torrents[id]?.handle {
                let client = self.client
                Task { try? await client.recheck(handle) }
            }
            return nil
        } catch {
            failures[id] = error.reason
            return error
        }
    }
}
