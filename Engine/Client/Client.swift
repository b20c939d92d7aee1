import BTDHT
import BTMSE
import BTMetainfo
import BTStorage
import BTTracker
import BTWire
import Foundation
import NIOCore
import NIOPosix

/// A BitTorrent client over TCP: the seed's `Net::BitTorrent` class.
///
/// A client listens on one TCP port (the first of ``ClientConfiguration/ports`` that binds, 0 meaning any)
/// with one peer id for its lifetime, holds any number of torrents, connects to the peers its trackers and
/// its user name, accepts peers that connect to it (matched to a torrent by the handshake's info-hash),
/// downloads with the ``PiecePicker``, uploads as the ``Choker`` decides, and reports everything through
/// ``events`` (an ``EventBus``: an `AsyncSequence` of ``ClientEvent``s or `on(_:_:)` callbacks, the seed's
/// `on_event`). All engine state lives on one event loop; the policy is in the pure components.
///
/// ```swift
/// let client = try await Client(configuration: ClientConfiguration(host: "0.0.0.0", ports: [6881, 0]))
/// let torrent = try Torrent(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: "a.torrent"))))
/// let handle = try await client.addTorrent(torrent, downloadDirectory: "/tmp/dl", resume: "/tmp/dl/a.resume")
/// for await event in client.events.events() {
///     if case .torrentFinished = event { break }
/// }
/// await client.shutdown()   // announces `stopped`, writes resume data, closes files
/// ```
public final class Client: Sendable {
    /// The session's peer id, sent in handshakes and announces (the seed's `peerid`).
    public let peerID: PeerID
    /// The address the listener is bound to.
    public let host: String
    /// The port the listener is bound to.
    public let port: Int
    /// Every event of the seed catalogue plus `torrent_finished`.
    public let events: EventBus
    /// The configuration in force.
    public let configuration: ClientConfiguration

    let core: ClientCore
    /// The one-thread group the client made and shuts down (nil when the loop was given).
    private let group: MultiThreadedEventLoopGroup?

    /// Starts a client: binds the listener to ``ClientConfiguration/host`` on the first free port of
    /// ``ClientConfiguration/ports``.
    /// - Throws: ``EngineError`` with code ``EngineError/Code/bindFailed`` when no port binds.
    public convenience init(configuration: ClientConfiguration = ClientConfiguration()) async throws(EngineError) {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        try await self.init(configuration: configuration, loop: group.next(), owning: group)
    }

    /// Starts a client on the caller's event loop: the seed's `do_one_loop` model, where the caller owns
    /// the loop and the client's work (sockets, timers, the one-second tick) runs as tasks on it, beside
    /// the caller's own. All engine state is confined to `loop`; the client never shuts it down.
    ///
    /// To drive the client step by step, give it a loop you advance by hand, such as
    /// `NIOAsyncTestingEventLoop` (NIOEmbedded) on a virtual clock, with a transport that needs no real
    /// sockets:
    ///
    /// ```swift
    /// let loop = NIOAsyncTestingEventLoop()
    /// let client = try await Client(configuration: config, on: loop)
    /// try await client.addTorrent(torrent, downloadDirectory: "/tmp/dl")
    /// await loop.advanceTime(by: .seconds(1))   // one step: timers due within the second run, then return
    /// ```
    public convenience init(configuration: ClientConfiguration = ClientConfiguration(), on loop: any EventLoop)
        async throws(EngineError)
    {
        try await self.init(configuration: configuration, loop: loop, owning: nil)
    }

    /// Starts a client on `loop` (all engine state is confined to it), shutting `group` down at the end
    /// when given. Tests pass a `NIOAsyncTestingEventLoop` to run the engine on a virtual clock.
    init(configuration: ClientConfiguration, loop: any EventLoop, owning group: MultiThreadedEventLoopGroup?)
        async throws(EngineError)
    {
        let peerID = configuration.peerID ?? PeerID.generate()
        let events = EventBus()
        let core = ClientCore(loop: loop, configuration: configuration, peerID: peerID, events: events)
        var bound: (any PeerListener)?
        var failures: [String] = []
        for port in configuration.ports {
            do {
                bound = try await configuration.transport.listen(
                    host: configuration.host, port: port, group: loop,
                    initializer: { channel in
                        channel.eventLoop.makeCompletedFuture {
                            // Filtered and counted before the peer's handshake is read.
                            guard let driver = core.incoming.acceptChannel(channel) else {
                                channel.close(promise: nil)
                                return
                            }
                            // MSE first (it passes a plaintext handshake through when the policy allows). Under
                            // a client policy of none it still answers MSE while a torrent's own policy asks for it
                            // (as preferred: the torrent's policy is applied once the handshake names it).
                            let torrentsWantMSE = core.torrents.values.contains {
                                ($0.limits.encryption ?? .none) != .none
                            }
                            let policy = configuration.encryption != .none ? configuration.encryption : .preferred
                            if configuration.encryption != .none || torrentsWantMSE {
                                try channel.pipeline.syncOperations.addHandler(
                                    MSEChannelHandler.responder(policy: policy, index: { core.skeyIndex }))
                            }
                            try channel.pipeline.syncOperations.addHandler(driver)
                        }
                    })
                break
            } catch {
                failures.append("\(port): \(error)")
            }
        }
        guard let server = bound else {
            try? await group?.shutdownGracefully()
            throw EngineError(
                .bindFailed,
                "cannot listen on \(configuration.host) port \(configuration.ports): \(failures.joined(separator: "; "))"
            )
        }
        let localPort = server.port
        self.peerID = peerID
        self.host = configuration.host
        self.port = localPort
        self.events = events
        self.configuration = configuration
        self.core = core
        self.group = group
        EngineTelemetry.attach(to: events, logger: configuration.logger)
        configuration.logger.info("listening on \(configuration.host) port \(localPort)")
        let host = configuration.host
        do {
            try await loop.submit {
                core.connections.listener = server
                core.connections.listenPort = localPort
                core.connections.listenHost = host
                core.startTicking()
            }.get()
        } catch {
            throw EngineError(.shutDown, "the event loop stopped: \(error)")
        }
        if let settings = configuration.dht {
            do {
                _ = try await DHTPeerSource.start(settings, core: core, host: host, port: localPort)
            } catch {
                configuration.logger.warning("no DHT: cannot bind its UDP socket on \(host): \(error)")
            }
        }
    }

    func onLoop<T: Sendable>(_ body: @escaping @Sendable (ClientCore) throws(EngineError) -> T)
        async throws(EngineError) -> T
    {
        let core = self.core
        do {
            return try await core.loop.submit { try body(core) }.get()
        } catch let error as EngineError {
            throw error
        } catch {
            throw EngineError(.shutDown, "the client is shut down")
        }
    }

    // MARK: Torrents

    /// Adds a torrent whose data lives in (or will be downloaded to) `downloadDirectory`: a single-file
    /// torrent is `downloadDirectory/name`, a multi-file one `downloadDirectory/name/...`. Existing data is
    /// verified first (the torrent shows ``TorrentState/checking`` with ``TorrentStatus/checkProgress``
    /// meanwhile): from the resume data at `resume` when it exists and fits (only files that changed are
    /// re-checked), otherwise by hashing every piece. Resume data is written back to `resume` on
    /// ``pause(_:)``, ``removeTorrent(_:deleteData:)``, completion and ``shutdown()``.
    ///
    /// `limits` (default ``ClientConfiguration/defaultTorrentLimits``) and `filePriorities` (one per file
    /// of the torrent, pad files included; default: the resume data's, else all normal) can be changed
    /// later with ``setLimits(_:for:)`` and ``setFilePriorities(_:_:)``.
    /// - Throws: ``EngineError`` (`storageFailed`, `duplicateTorrent`, `invalidConfiguration`, `shutDown`).
    @discardableResult
    public func addTorrent(
        _ torrent: Torrent, downloadDirectory: String, resume: String? = nil, limits: TorrentLimits? = nil,
        filePriorities: [FilePriority]? = nil
    ) async throws(EngineError) -> TorrentHandle {
        let handle = TorrentHandle(infoHashes: torrent.infoHashes, name: torrent.name)
        if let filePriorities, filePriorities.count != torrent.layout.files.count {
            throw EngineError(
                .invalidConfiguration,
                "\(torrent.name) has \(torrent.layout.files.count) files, got \(filePriorities.count) priorities")
        }
        let exists = try await onLoop { core in core.session(handle) != nil }
        guard !exists else { throw EngineError(.duplicateTorrent, "\(torrent.name) is already added") }
        if !torrent.filesMissingPieceLayers.isEmpty {  // BEP 52 layers fetched from peers first
            return try await addTorrent(
                lackingPieceLayers: torrent, downloadDirectory: downloadDirectory, resume: resume, limits: limits,
                filePriorities: filePriorities)
        }
        let report = Self.storageEvents(for: torrent, to: events)
        let storage = configuration.makeStorage(torrent, downloadDirectory, report)
        let store = PieceStore(torrent: torrent, storage: storage, pool: configuration.workerPool, events: report)
        let session = TorrentSession(
            handle: handle, torrent: torrent, store: store, verified: Bitfield(count: torrent.layout.pieceCount),
            resumePath: resume, now: core.loop.now)
        session.state = .checking
        session.checkProgress = 0
        session.limits = limits ?? configuration.defaultTorrentLimits
        try await onLoop { core throws(EngineError) in try core.addSession(session) }
        configuration.logger.info("added \(handle), checking existing data in \(downloadDirectory)")
        do {
            try await Self.checkExistingData(of: session, resume: resume, filePriorities: filePriorities, core: core)
        } catch {
            _ = try? await onLoop { core in core.removeSession(session) }
            await session.stopTrackerClient()
            configuration.logger.info("could not add \(handle): \(error)")
            throw error
        }
        return handle
    }

    /// Checks a checking session's existing data (from the resume data at `resume` when it fits), applies
    /// `filePriorities`, creates empty files, and hands the verified pieces to the picker, which starts the
    /// download (``Downloader/finishCheck(_:verified:priorities:reportPieces:)``).
    /// - Throws: ``EngineError`` (`storageFailed`, `shutDown`).
    static func checkExistingData(
        of session: TorrentSession, resume: String?, filePriorities: [FilePriority]?, core: ClientCore
    ) async throws(EngineError) {
        let store = session.store
        do {
            try await store.start(
                resumeDataAt: resume,
                progress: { progress in
                    core.loop.execute { core.downloads.checkProgressed(session, fraction: progress.fraction) }
                })
            if let filePriorities {
                for (index, priority) in filePriorities.enumerated() {
                    await store.setPriority(priority, ofFile: index)
                }
            }
            try await store.createEmptyFiles()
        } catch {
            throw EngineError(.storageFailed, "\(session.torrent.name): \(error)")
        }
        let verified = await store.verifiedPieces
        let priorities = await store.priorities
        do {
            try await core.loop.submit {
                core.downloads.finishCheck(session, verified: verified, priorities: priorities, reportPieces: false)
            }.get()
        } catch {
            throw EngineError(.shutDown, "the client is shut down")
        }
    }

    /// Turns the storage's `file_*` events into client events (hash results are reported by the engine).
    static func storageEvents(for torrent: Torrent, to bus: EventBus) -> StorageEventHandler {
        let info = ClientEvent.TorrentInfo(infoHashes: torrent.infoHashes, name: torrent.name)
        @Sendable func file(_ ref: StorageFileRef) -> ClientEvent.FileInfo {
            ClientEvent.FileInfo(torrent: info, index: ref.index, path: ref.path)
        }
        return { event in
            switch event {
            case .fileOpen(let ref, let mode):
                bus.emit(.fileOpen(file(ref), mode: mode == .read ? .read : .write))
            case .fileClose(let ref):
                bus.emit(.fileClose(file(ref)))
            case .fileRead(let ref, let length):
                bus.emit(.fileRead(file(ref), length: length))
            case .fileWrite(let ref, let length):
                bus.emit(.fileWrite(file(ref), length: length))
            case .fileError(let ref, let message, _):
                let target = ref.map(file) ?? ClientEvent.FileInfo(torrent: info, index: -1, path: [])
                bus.emit(.fileError(target, message: message))
            case .pieceHashPass, .pieceHashFail:
                break
            }
        }
    }

    /// Adds a torrent from the bytes of a .torrent file (see
    /// ``addTorrent(_:downloadDirectory:resume:limits:filePriorities:)``).
    @discardableResult
    public func addTorrent(
        bytes: [UInt8], downloadDirectory: String, resume: String? = nil, limits: TorrentLimits? = nil,
        filePriorities: [FilePriority]? = nil
    ) async throws(EngineError) -> TorrentHandle {
        let torrent: Torrent
        do {
            torrent = try Torrent(bytes: bytes)
        } catch {
            throw EngineError(.invalidConfiguration, "not a valid torrent: \(error)")
        }
        return try await addTorrent(
            torrent, downloadDirectory: downloadDirectory, resume: resume, limits: limits,
            filePriorities: filePriorities)
    }

    /// The torrents in the client (the seed's `torrents`).
    public var torrents: [TorrentHandle] {
        get async { (try? await onLoop { core in core.handles }) ?? [] }
    }

    /// Removes a torrent (the seed's `remove_torrent`): disconnects its peers, announces `stopped`, writes
    /// its resume data (or, with `deleteData`, deletes its files and resume data) and closes its files.
    /// - Throws: ``EngineError`` (`unknownTorrent`, `storageFailed`).
    public func removeTorrent(_ handle: TorrentHandle, deleteData: Bool = false) async throws(EngineError) {
        let (session, stops) = try await onLoop { core throws(EngineError) in
            guard let session = core.session(handle) else {
                throw EngineError(.unknownTorrent, "\(handle.name) is not in the client")
            }
            let stops = core.announcer.announceStopped(session)
            core.removeSession(session)
            core.configuration.logger.info("removed \(handle)")
            // Read on the loop: a magnet's metadata may be adopted until the session is removed.
            return (SessionStorage(session: session, store: session.store, hasMetadata: session.hasMetadata), stops)
        }
        await sendStops(stops)
        await session.session.stopTrackerClient()
        do {
            if deleteData {
                try await session.store.removeData()
                for path in [
                    session.session.resumePath, MagnetMetadata.torrentPath(resume: session.session.resumePath),
                ] {
                    if let path { try? FileManager.default.removeItem(atPath: path) }
                }
            } else if let path = session.session.resumePath, session.hasMetadata {
                try await session.store.saveResumeData(to: path)
            }
        } catch {
            throw EngineError(.storageFailed, "\(handle.name): \(error)")
        }
        session.store.storage.closeFiles()
    }

    /// Pauses a torrent: disconnects its peers, stops dialling and writes its resume data.
    public func pause(_ handle: TorrentHandle) async throws(EngineError) {
        let session = try await onLoop { core throws(EngineError) in
            guard let session = core.session(handle) else {
                throw EngineError(.unknownTorrent, "\(handle.name) is not in the client")
            }
            core.pause(session)
            return SessionStorage(session: session, store: session.store, hasMetadata: session.hasMetadata)
        }
        if let path = session.session.resumePath, session.hasMetadata {
            try? await session.store.saveResumeData(to: path)
        }
    }

    /// Resumes a paused torrent.
    public func resume(_ handle: TorrentHandle) async throws(EngineError) {
        try await onLoop { core throws(EngineError) in
            guard let session = core.session(handle) else {
                throw EngineError(.unknownTorrent, "\(handle.name) is not in the client")
            }
            core.resume(session)
        }
    }

    /// Connects to a peer for a torrent (the user's own peer list, e.g. `--peer HOST:PORT`).
    public func connect(host: String, port: Int, for handle: TorrentHandle) async throws(EngineError) {
        try await onLoop { core throws(EngineError) in
            guard let session = core.session(handle) else {
                throw EngineError(.unknownTorrent, "\(handle.name) is not in the client")
            }
            core.connections.addPeer(host: host, port: port, source: .user, to: session)
        }
    }

    /// A torrent's status, or nil when it is not in the client.
    public func status(of handle: TorrentHandle) async -> TorrentStatus? {
        try? await onLoop { core in core.session(handle).map { core.reports.fullStatus($0) } }
    }

    /// The status of every torrent, by name.
    public func statuses() async -> [TorrentStatus] {
        (try? await onLoop { core in
            core.allSessions.map { core.reports.fullStatus($0) }.sorted { $0.handle.name < $1.handle.name }
        })
            ?? []
    }

    /// The DHT node's counters (nodes in the routing table, torrents and peers it stores, messages), or nil
    /// when the client runs no DHT (``ClientConfiguration/dht``).
    public func dhtStatistics() async -> DHTServiceStatistics? {
        guard let service = try? await onLoop({ core in core.dht.service }) else { return nil }
        return try? await service.statistics()
    }

    /// Stops the client cleanly: announces `stopped` to every tracker (waiting at most a few seconds),
    /// closes every connection and the listener, writes resume data, saves the DHT's routing table (when
    /// ``DHTSettings/statePath`` is set), closes files and finishes ``events``.
    public func shutdown() async {
        let work = try? await onLoop { core -> ([(SessionStorage, [StopAnnounce])], DHTService?) in
            guard !core.isShutDown else { return ([], nil) }
            let result = core.allSessions.map { session in
                (
                    SessionStorage(session: session, store: session.store, hasMetadata: session.hasMetadata),
                    core.announcer.announceStopped(session)
                )
            }
            let dht = core.dht.service
            core.dht.service = nil
            core.beginShutdown()
            return (result, dht)
        }
        guard let (work, dht) = work else { return }
        await sendStops(work.flatMap(\.1))
        if let dht, let settings = configuration.dht { await DHTPeerSource.stop(dht, settings: settings) }
        for (session, _) in work {
            if let path = session.session.resumePath, session.hasMetadata {
                try? await session.store.saveResumeData(to: path)
            }
            session.store.storage.closeFiles()
        }
        for (session, _) in work { await session.session.stopTrackerClient() }
        events.finish()
        try? await group?.shutdownGracefully()
    }

    /// Sends `stopped` announces, waiting for the answers for at most three seconds.
    private func sendStops(_ stops: [StopAnnounce]) async {
        guard !stops.isEmpty else { return }
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self)
        let waiter = Task {
            await withTaskGroup(of: Void.self) { group in
                for stop in stops {
                    events.emit(.trackerConnect(.init(torrent: stop.torrent, url: stop.url), event: .stopped))
                    group.addTask { _ = try? await stop.tracker.announce(stop.request, to: stop.url) }
                }
            }
            continuation.yield()
        }
        let timer = Task {
            try? await Task.sleep(for: .seconds(3))
            continuation.yield()
        }
        for await _ in stream { break }
        timer.cancel()
        _ = waiter
    }
}

/// A torrent and its storage as the loop saw them when it was paused, removed or shut down: a magnet's
/// storage is replaced on the loop when its metadata arrives, so it is read there, not afterwards.
struct SessionStorage: Sendable {
    /// The torrent.
    let session: TorrentSession
    /// Its storage then.
    let store: PieceStore
    /// Whether it had its metadata then (only then are there files and resume data to write).
    let hasMetadata: Bool
}

/// A `stopped` announce to send.
struct StopAnnounce: Sendable {
    let url: String
    let request: AnnounceRequest
    /// The torrent's tracker client.
    let tracker: TrackerClient
    /// The torrent, as events name it.
    let torrent: ClientEvent.TorrentInfo
}
