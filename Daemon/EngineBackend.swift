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
    /// Magnets whose metadata the daemon has not seen yet, by id (their `torrents` entry is a placeholder).
    private var fetching: [Int: MagnetLink] = [:]
    /// Why a torrent could not be added to the engine, by id (shown as its error; it can be removed).
    private var failures: [Int: String] = [:]
    private var lastActivity: [Int: Int64] = [:]
    private var startDates: [Int: Int64] = [:]
    private var filesAdded = 0
    /// The ranges of the blocklist last read (`blocklist.txt` in the config directory).
    private var blocklistRanges: [IPRange] = []
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
        if let data = FileManager.default.contents(atPath: blocklistPath) {
            do {
                blocklistRanges = try IPFilter.parse(String(decoding: data, as: UTF8.self))
                await applyBlocklist()
            } catch {
                logger.error("cannot read the blocklist \(blocklistPath): \(error)")
            }
        }
        var previous: Task<Void, Never>?
        for entry in state.torrents {
            let path = torrentPath(entry.hashString)
            do {
                if let uri = entry.magnet, let link = try restoredMagnet(uri, entry) {
                    previous = launch(Self.placeholder(link), entry, after: previous, magnet: link)
                    continue
                }
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
        case .magnet(let uri):
            return try addMagnet(uri, request)
        case .url(let url):
            bytes = try await TorrentURLFetcher(addressPolicy: client.configuration.trackerAddressPolicy).fetch(url)
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
        if let existing = state.torrents.first(where: { $0.hashString == hash }) {
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
        state.torrents.append(entry)
        filesAdded += 1
        try save()
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
    private func adoptMetadata(_ id: Int) async {
        guard let link = fetching[id], let handle = torrents[id]?.handle,
            let torrent = await client.torrent(of: handle), fetching[id] != nil, let index = index(of: id)
        else { return }
        fetching[id] = nil
        let hash = state.torrents[index].hashString
        do {
            try Data(torrent.encoded()).write(to: URL(fileURLWithPath: torrentPath(hash)), options: .atomic)
        } catch {
            logger.error("cannot keep the .torrent of \(torrent.name): \(error)")
        }
        let count = torrent.files.count
        state.torrents[index].wanted = (0..<count).map { file in
            link.selectOnly.map { ranges in ranges.contains { $0.contains(file) } } ?? true
        }
        state.torrents[index].priorities = Array(repeating: 0, count: count)
        torrents[id] = (handle, torrent)
        saveState()
        logger.info("metadata of torrent \(id) known: \(torrent.name), \(count) files")
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
            fetching[id] = nil
            if let index = index(of: id) {
                let hash = state.torrents[index].hashString
                state.torrents.remove(at: index)
                try? FileManager.default.removeItem(atPath: torrentPath(hash))
                try? FileManager.default.removeItem(atPath: resumePath(hash))
                try? FileManager.default.removeItem(atPath: resumePath(hash) + ".torrent")
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
            if let index = self.index(of: id) { state.torrents[index] = entry }
        }
        try save()
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
        guard let hash = state.torrents.first(where: { $0.id == id })?.hashString else { return }
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
            guard let entry = state.torrents.first(where: { $0.id == id }), entry.downloadDir != location,
                let torrent = torrents[id]?.torrent
            else { continue }
            let source = entry.downloadDir + "/" + torrent.name
            let target = location + "/" + torrent.name
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
        guard let index = index(of: id) else { return nil }
        if let location { state.torrents[index].downloadDir = location }
        let entry = state.torrents[index]
        saveState()
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

    /// Refused: the engine keeps each file at the path its torrent gives it, and cannot rename live files.
    public func renamePath(id: Int, path: String, name: String) async throws(DaemonError)
        -> (path: String, name: String)
    {
        guard torrents[id] != nil else { throw DaemonError(.invalidArgument, "torrent \(id) does not exist") }
        throw DaemonError(
            .invalidArgument, "renaming files is not supported by this engine (files keep the torrent's paths)")
    }

    /// The session's settings.
    public func session() async -> SessionSettings {
        let configuration = client.configuration
        var settings = SessionSettings(
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
        settings.blocklistURL = state.blocklistURL
        settings.blocklistEnabled = state.blocklistEnabled
        settings.blocklistSize = blocklistRanges.count
        return settings
    }

    // MARK: Blocklist

    private var blocklistPath: String { configDir + "/blocklist.txt" }
    /// Most bytes of a blocklist (Transmission's lists are a few MiB of text).
    static let maximumBlocklistBytes = 64 << 20

    /// Reads the blocklist from the session's `blocklist-url` (an http(s) URL, fetched under the tracker
    /// address policy, or a file), keeps it in the config directory and applies it to the engine's IP filter
    /// when the blocklist is enabled. Returns its number of ranges.
    public func updateBlocklist() async throws(DaemonError) -> Int {
        let source = state.blocklistURL
        guard !source.isEmpty else { throw DaemonError(.invalidArgument, "no blocklist-url is set") }
        let bytes: [UInt8]
        if source.lowercased().hasPrefix("http://") || source.lowercased().hasPrefix("https://") {
            var fetcher = TorrentURLFetcher(addressPolicy: client.configuration.trackerAddressPolicy)
            fetcher.maximumBytes = Self.maximumBlocklistBytes
            bytes = try await fetcher.fetch(source)
        } else {
            let path = source.lowercased().hasPrefix("file://") ? String(source.dropFirst(7)) : source
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue
            guard let size, size <= Self.maximumBlocklistBytes, let data = FileManager.default.contents(atPath: path)
            else { throw DaemonError(.invalidArgument, "cannot read the blocklist \(path) (missing or over 64 MiB)") }
            bytes = Array(data)
        }
        let ranges: [IPRange]
        do {
            ranges = try IPFilter.parse(String(decoding: bytes, as: UTF8.self))
        } catch {
            // Not the parser's reason: it quotes the bad line, and the source may be any file the daemon can read.
            logger.warning("blocklist \(source): \(error)")
            throw DaemonError(.invalidArgument, "the blocklist is not a list of address ranges")
        }
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: blocklistPath), options: .atomic)
        } catch {
            throw DaemonError(.stateFailed, "cannot keep the blocklist in \(blocklistPath): \(error)")
        }
        blocklistRanges = ranges
        await applyBlocklist()
        logger.info("blocklist: \(ranges.count) ranges from \(source)")
        return ranges.count
    }

    /// The engine's IP filter: the client's own (command line) plus the blocklist when it is enabled.
    private func applyBlocklist() async {
        var filter = client.configuration.ipFilter
        if state.blocklistEnabled { filter.block(blocklistRanges) }
        let closed = await client.setIPFilter(filter)
        if closed > 0 { logger.info("blocklist: \(closed) connections closed") }
    }

    /// Changes the session's download directory, whether added torrents start, its speed limits and its
    /// blocklist.
    public func setSession(_ changes: SessionChanges) async throws(DaemonError) {
        if let url = changes.blocklistURL { state.blocklistURL = url }
        if let enabled = changes.blocklistEnabled, enabled != state.blocklistEnabled {
            state.blocklistEnabled = enabled
            await applyBlocklist()
        }
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
        // Magnets whose metadata arrived are listed as the real torrent from this answer on.
        for (id, _) in fetching where wanted.contains(id) {
            if let handle = torrents[id]?.handle, let status = statuses[handle], status.state != .fetchingMetadata {
                await adoptMetadata(id)
            }
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
            if let progress = status.metadataProgress, status.state == .fetchingMetadata {
                snapshot.metadataPercentComplete =
                    progress.total > 0 ? Double(progress.received) / Double(progress.total) : 0
                snapshot.magnetLink = entry.magnet ?? snapshot.magnetLink
                snapshot.percentDone = 0
                snapshot.percentComplete = 0
                snapshot.isFinished = false
                snapshot.eta = -1
            }
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
            snapshot.labels = entry.labels ?? []
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
                    // Ids are positions in the torrent's list (the engine shuffles each tier), so that
                    // trackerRemove and trackerReplace name what torrent-get showed.
                    let order = torrent.announceTiers.flatMap { $0 }
                    snapshot.trackers = live.enumerated().map { index, tracker in
                        TrackerSnapshot(
                            announce: tracker.url, tier: tracker.tier,
                            id: order.firstIndex(of: tracker.url) ?? order.count + index,
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
        if fetching[entry.id] != nil {
            snapshot.metadataPercentComplete = 0
            snapshot.magnetLink = entry.magnet ?? ""
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
