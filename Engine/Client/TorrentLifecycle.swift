import BTDHT
import BTMetainfo
import BTStorage
import BTTracker
import Foundation
import NIOCore

/// Runs `body` on the client's event loop, where all engine state lives, and returns its result.
/// - Throws: what `body` throws, or ``EngineError`` `shutDown` when the loop is gone.
func onLoop<T: Sendable>(_ core: ClientCore, _ body: @escaping @Sendable (ClientCore) throws(EngineError) -> T)
    async throws(EngineError) -> T
{
    do {
        return try await core.loop.submit { try body(core) }.get()
    } catch let error as EngineError {
        throw error
    } catch {
        throw EngineError(.shutDown, "the client is shut down")
    }
}

/// A torrent's life in the client outside the event loop: adding it (storage, the check of existing data,
/// magnets and torrents lacking piece layers: TorrentLifecycle+Magnet.swift), pausing, removing and the
/// client's shutdown (resume data written, `stopped` announces sent). ``Client`` is its public face; the
/// loop's side of each step is in ``ClientCore`` and its components.
struct TorrentLifecycle: Sendable {
    /// The engine.
    let core: ClientCore
    /// The client's events.
    let events: EventBus
    /// The client's configuration.
    let configuration: ClientConfiguration

    /// Runs `body` on the loop (see ``onLoop(_:_:)``).
    func onLoop<T: Sendable>(_ body: @escaping @Sendable (ClientCore) throws(EngineError) -> T)
        async throws(EngineError) -> T
    {
        try await BTEngine.onLoop(core, body)
    }

    /// Adds a torrent (``Client/addTorrent(_:downloadDirectory:resume:limits:filePriorities:)``).
    func add(
        _ torrent: Torrent, downloadDirectory: String, resume: String?, limits: TorrentLimits?,
        filePriorities: [FilePriority]?
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
            return try await add(
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

    /// Removes a torrent (``Client/removeTorrent(_:deleteData:)``).
    func remove(_ handle: TorrentHandle, deleteData: Bool) async throws(EngineError) {
        let (session, stops) = try await onLoop { core throws(EngineError) in
            let session = try core.requireSession(handle)
            let stops = core.announcer.announceStopped(session)
            core.removeSession(session)
            core.configuration.logger.info("removed \(handle)")
            // Read on the loop: a magnet's metadata may be adopted until the session is removed.
            return (SessionStorage(session), stops)
        }
        await sendStops(stops)
        await session.session.stopTrackerClient()
        await session.settle(closing: true)
        do {
            if deleteData {
                try await session.store.removeData()
                for path in [
                    session.session.resumePath, MagnetMetadata.torrentPath(resume: session.session.resumePath),
                ] {
                    if let path { try? FileManager.default.removeItem(atPath: path) }
                }
            } else {
                try await session.saveResumeData()
            }
        } catch {
            throw EngineError(.storageFailed, "\(handle.name): \(error)")
        }
        session.store.storage.closeFiles()
    }

    /// Pauses a torrent and writes its resume data (``Client/pause(_:)``).
    func pause(_ handle: TorrentHandle) async throws(EngineError) {
        let session = try await onLoop { core throws(EngineError) in
            let session = try core.requireSession(handle)
            core.pause(session)
            return SessionStorage(session)
        }
        await session.settle(closing: false)
        try? await session.saveResumeData()
    }

    /// Re-checks a torrent's data (``Client/recheck(_:)``).
    func recheck(_ handle: TorrentHandle) async throws(EngineError) {
        let session = try await onLoop { core throws(EngineError) in
            let session = try core.requireSession(handle)
            guard session.state != .checking else {
                throw EngineError(.invalidConfiguration, "\(handle.name) is already being checked")
            }
            guard session.hasMetadata else {
                throw EngineError(.invalidConfiguration, "\(handle.name) has no metadata yet: nothing to check")
            }
            core.downloads.beginCheck(session)
            return session
        }
        configuration.logger.info("rechecking \(handle)")
        // Blocks received before the peers were closed are written first (see `ClientCore.writesSettled`).
        let settled = try await onLoop { core in core.downloads.writesSettled(session) }
        try? await settled.get()
        let core = self.core
        do {
            try await session.store.checkExistingData(progress: { progress in
                core.loop.execute { core.downloads.checkProgressed(session, fraction: progress.fraction) }
            })
        } catch {
            _ = try? await onLoop { core in core.downloads.fail(session, error: error) }
            throw EngineError(.storageFailed, "\(handle.name): \(error)")
        }
        let verified = await session.store.verifiedPieces
        try await onLoop { core in
            core.downloads.finishCheck(session, verified: verified, priorities: nil, reportPieces: true)
        }
    }

    /// Replaces a torrent's trackers (``Client/setTrackers(_:for:)``); those told `started` and no longer
    /// listed are told `stopped` in the background.
    func setTrackers(_ tiers: [[String]], for handle: TorrentHandle) async throws(EngineError) {
        let tiers = tiers.map { $0.filter { !$0.isEmpty } }.filter { !$0.isEmpty }
        let kept = Set(tiers.joined())
        let stops = try await onLoop { core throws(EngineError) -> [StopAnnounce] in
            let session = try core.requireSession(handle)
            guard core.configuration.usesTrackers else { return [] }
            let stops = core.announcer.announceStopped(session).filter { !kept.contains($0.url) }
            guard !tiers.isEmpty else {
                session.schedule = nil
                return stops
            }
            var random = TrackerRandom()
            session.schedule = AnnounceSchedule(
                tiers: tiers, isPrivate: session.torrent.isPrivate, random: &random, now: core.loop.now)
            if session.trackerClient == nil { core.announcer.startTrackerClient(for: session) }
            if session.state != .checking { core.announcer.announceDue(session, now: core.loop.now) }
            return stops
        }
        for stop in stops {
            events.emit(.trackerConnect(.init(torrent: stop.torrent, url: stop.url), event: .stopped))
            Task { _ = try? await stop.tracker.announce(stop.request, to: stop.url) }
        }
        configuration.logger.info("\(handle.name): \(kept.count) trackers in \(tiers.count) tiers")
    }

    /// Stops every torrent for the client's shutdown (``Client/shutdown()``); the caller then shuts its
    /// event loop group down.
    func shutdown() async {
        let work = try? await onLoop { core -> ([(SessionStorage, [StopAnnounce])], DHTService?) in
            guard !core.isShutDown else { return ([], nil) }
            let result = core.allSessions.map { session in
                (
                    SessionStorage(session),
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
            await session.settle(closing: true)
            try? await session.saveResumeData()
            session.store.storage.closeFiles()
        }
        for (session, _) in work { await session.session.stopTrackerClient() }
        events.finish()
    }

    /// Sends `stopped` announces, waiting for the answers for at most three seconds.
    func sendStops(_ stops: [StopAnnounce]) async {
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
    /// Its storage front ends then, those it had made (BTStorage's block writer and reader).
    let writer: PieceStore.BlockWriter?
    let reader: PieceStore.BlockReader<PeerConnection>?

    /// `session` and its storage as they are now; read on the loop.
    init(_ session: TorrentSession) {
        self.session = session
        self.store = session.store
        self.hasMetadata = session.hasMetadata
        self.writer = session.writer
        self.reader = session.reader
    }

    /// Returns once every block the torrent received is written and every read queued for an upload is
    /// delivered, so resume data, a data removal or closing the files comes after them (a block written
    /// after `removeData` would bring a file back). With `closing`, the front ends refuse work from then on.
    func settle(closing: Bool) async {
        if closing {
            await writer?.shutdown()
            await reader?.shutdown()
        } else {
            await writer?.flush()
            await reader?.flush()
        }
    }

    /// Writes the resume data to the torrent's resume path, when it has one and its metadata.
    func saveResumeData() async throws {
        guard let path = session.resumePath, hasMetadata else { return }
        try await store.saveResumeData(to: path)
    }
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
