import BTMSE
import BTMetainfo
import BTStorage
import BTTracker
import BTWire
import Foundation
import NIOCore
import NIOPosix

/// The client's engine: torrents, connections and the pure policy components, all confined to one event
/// loop (`loop`). Every method runs on that loop; peer channels are bound to it too, so their handlers call
/// in directly. Storage and trackers are `async`: their results come back through `loop.execute`.
///
/// The unchecked `Sendable` is sound because of that confinement: the only cross-thread use is scheduling
/// work onto `loop`.
final class ClientCore: @unchecked Sendable {
    let loop: any EventLoop
    let configuration: ClientConfiguration
    let peerID: PeerID
    let events: EventBus
    var torrents: [[UInt8]: TorrentSession] = [:]
    var rates: RateLimiter<[UInt8], UInt64>
    var ledger = ReputationLedger<IPAddress>()
    /// Connections written to and not yet flushed while `deferringFlushes` runs; nil outside it.
    var deferredFlushes: [UInt64: PeerConnection]?
    /// Per torrent: verified pieces and complete files at the last periodic resume-data check (a finished
    /// file saves resume data at once).
    private var fileProgress: [[UInt8]: (verified: Int, files: Int)] = [:]
    /// Tie-breaks of the picker and the choker: a seeded generator, because the picker draws one number per
    /// candidate piece on every pick, and the system generator costs a system call per number.
    var random = TrackerRandom()
    private var ticker: RepeatedTask?
    private var lastPeerTick: NIODeadline
    private let origin: NIODeadline
    private(set) var isShutDown = false
    /// Counters and gauges (see ``EngineMetrics``).
    let metrics: EngineMetrics
    /// Dialling and closing connections (the connections' owner).
    private(set) lazy var connections = ConnectionManager(core: self)
    /// Incoming connections until their handshake names a torrent.
    private(set) lazy var incoming = IncomingConnections(core: self)
    /// Requests, received blocks, hash results and checks.
    private(set) lazy var downloads = Downloader(core: self)
    /// Served blocks and choking.
    private(set) lazy var uploads = Uploader(core: self)
    /// Announces.
    private(set) lazy var announcer = Announcer(core: self)
    /// Peers from the DHT.
    private(set) lazy var dht = DHTPeerSource(core: self)
    /// Peer exchange.
    private(set) lazy var pex = PeerExchanger(core: self)
    /// Holepunch (BEP 55): rendezvous through peers that introduced us, relaying, connecting on request.
    private(set) lazy var holepunch = Holepuncher(core: self)
    /// Metadata exchange (BEP 9): serving, and fetching for magnets.
    private(set) lazy var metadata = MetadataExchanger(core: self)
    /// BEP 52 hash exchange: serving piece layers, and fetching those a v2 or hybrid torrent lacks.
    private(set) lazy var pieceLayers = PieceLayerExchanger(core: self)
    /// Web seeds (BEP 19).
    private(set) lazy var webSeeds = WebSeedSource(core: self)
    /// Super-seeding (BEP 16) of the torrents that ask for it.
    private(set) lazy var superSeeds = SuperSeeder(core: self)
    /// Local service discovery (BEP 14), when configured.
    private(set) lazy var localDiscovery = LocalDiscoverySource(core: self)
    /// Torrent and peer status snapshots, and the metrics the tick reports.
    private(set) lazy var reports = StatusReporter(core: self)
    /// The torrents by `HASH('req2', info-hash)`, for incoming MSE handshakes: each by its wire info-hash and
    /// a hybrid by its truncated v2 hash too (rebuilt when torrents come and go).
    private(set) var skeyIndex = SKEYIndex()
    /// The wire info-hash of each hybrid torrent by its truncated v2 hash, which a peer that speaks v2 names it
    /// by (in its MSE handshake and its BitTorrent one).
    private(set) var v2Aliases: [[UInt8]: [UInt8]] = [:]
    /// The client's encryption policy as it holds now: ``ClientConfiguration/encryption`` until
    /// `Client.setEncryption(_:)` changes it (a torrent's own ``TorrentLimits/encryption`` comes first).
    var encryption: EncryptionPolicy

    init(loop: any EventLoop, configuration: ClientConfiguration, peerID: PeerID, events: EventBus) {
        self.loop = loop
        self.configuration = configuration
        self.encryption = configuration.encryption
        self.peerID = peerID
        self.events = events
        let now = loop.now
        self.origin = now
        self.lastPeerTick = now
        self.rates = RateLimiter(upload: configuration.uploadLimit, download: configuration.downloadLimit, now: .zero)
        self.metrics = EngineMetrics(factory: configuration.metricsFactory)
        if let seed = configuration.randomSeed { self.random = TrackerRandom(seed: seed) }
    }

    // MARK: Time

    func instant(_ deadline: NIODeadline) -> EngineInstant {
        EngineInstant(sinceOrigin: .nanoseconds(Int64(deadline.uptimeNanoseconds) - Int64(origin.uptimeNanoseconds)))
    }

    /// Starts the periodic tick (every 100 ms: rate-limit refills; every second: peer timers, rechoke,
    /// announces, dialling).
    func startTicking() {
        loop.preconditionInEventLoop()
        ticker = loop.scheduleRepeatedTask(initialDelay: .milliseconds(100), delay: .milliseconds(100)) {
            [self] _ in self.tick()
        }
    }

    func tick() {
        guard !isShutDown else { return }
        let now = loop.now
        grant(rates.advance(to: instant(now)))
        connections.relaxIdleReceiveWatermarks()
        for session in torrents.values { webSeeds.fill(session) }  // within 100 ms of a start or a back-off's end
        for session in torrents.values where session.rechokeSoon || now >= session.nextRechoke {
            uploads.rechoke(session, now: now)
        }
        guard now - lastPeerTick >= .seconds(1) else { return }
        lastPeerTick = now
        reports.reportMetrics()
        for connection in Array(connections.byKey.values) where !connection.isClosed {
            connection.driver?.tick(now: now)  // the driver tells `acted`, which tops up requests
        }
        for session in torrents.values
        where session.state != .paused && session.state != .failed && session.state != .checking {
            announcer.announceDue(session, now: now)
            connections.turnOverIfDue(session, now: now)
            dht.lookUpIfDue(session, now: now)
            pex.tick(session, now: now)
            superSeeds.tick(session, now: now)
            metadata.tick(session, now: now)
            saveResumeDataIfDue(session, now: now)
            for entry in session.redials.due(now: now) {
                connections.addPeer(host: entry.host, port: entry.port, source: entry.source, to: session)
            }
            connections.dialCandidates(session)
            for connection in session.connections.values { downloads.fillRequests(connection) }
        }
        localDiscovery.tick(now: now)
    }
    /// How often a torrent's resume data is saved while it runs (only when it changed), so a crash or a
    /// kill -9 costs at most this much re-checking, not a full check.
    static let resumeSaveInterval = TimeAmount.minutes(2)

    /// Saves `session`'s resume data when ``resumeSaveInterval`` passed since the last periodic save, or
    /// when a file finished since the last tick (libtorrent saves on `file_completed_alert` the same way: a
    /// kill -9 then never costs a finished file's check); the store writes only a snapshot that differs from
    /// the last one it wrote (and flushes the files first).
    func saveResumeDataIfDue(_ session: TorrentSession, now: NIODeadline) {
        guard let path = session.resumePath, session.hasMetadata else { return }
        let finishedAFile = finishedFileSinceLastTick(session)
        guard let last = session.lastResumeSave else {
            session.lastResumeSave = now
            return
        }
        guard finishedAFile || now - last >= Self.resumeSaveInterval else { return }
        session.lastResumeSave = now
        let store = session.store
        Task { _ = try? await store.saveResumeDataIfChanged(to: path) }
    }

    /// Whether more of `session`'s files are complete than at the last call (false on the first call). The
    /// files are counted only when the number of verified pieces changed.
    private func finishedFileSinceLastTick(_ session: TorrentSession) -> Bool {
        let key = session.handle.wireInfoHash
        let have = session.picker.have
        if let known = fileProgress[key], known.verified == have.setCount { return false }
        let layout = session.picker.layout
        var complete = 0
        for index in layout.files.indices where !layout.files[index].isPadFile && layout.files[index].length > 0 {
            if layout.pieces(ofFile: index).allSatisfy({ have[$0] }) { complete += 1 }
        }
        let previous = fileProgress[key]
        fileProgress[key] = (have.setCount, complete)
        return previous.map { complete > $0.files } ?? false
    }

    // MARK: Torrents

    func addSession(_ session: TorrentSession) throws(EngineError) {
        loop.preconditionInEventLoop()
        guard !isShutDown else { throw EngineError(.shutDown, "the client is shut down") }
        let key = session.handle.wireInfoHash
        guard torrents[key] == nil else {
            throw EngineError(.duplicateTorrent, "\(session.handle.name) is already added")
        }
        session.picker.isSequential = configuration.sequentialDownload
        torrents[key] = session
        rebuildNameIndexes()
        applyLimits(session)
        if configuration.usesTrackers && !session.torrent.announceTiers.isEmpty {
            var random = TrackerRandom()
            session.schedule = AnnounceSchedule(
                tiers: session.torrent.announceTiers, isPrivate: session.torrent.isPrivate, random: &random,
                now: loop.now)
            if session.trackerClient == nil { announcer.startTrackerClient(for: session) }
            if session.state != .checking { announcer.announceDue(session, now: loop.now) }
        }
    }

    func session(_ handle: TorrentHandle) -> TorrentSession? { torrents[handle.wireInfoHash] }

    /// The torrent a peer names by `infoHash`: its wire info-hash, or a hybrid's truncated v2 hash.
    func session(named infoHash: [UInt8]) -> TorrentSession? {
        torrents[infoHash] ?? v2Aliases[infoHash].flatMap { torrents[$0] }
    }

    /// Rebuilds ``v2Aliases`` and ``skeyIndex`` from the torrents (one pass when torrents come and go, so a
    /// handshake costs one lookup whatever their number).
    func rebuildNameIndexes() {
        var aliases: [[UInt8]: [UInt8]] = [:]
        for (key, session) in torrents {
            let hashes = session.knownInfoHashes
            if hashes.v1 != nil, let v2 = hashes.v2Truncated, torrents[v2] == nil { aliases[v2] = key }
        }
        v2Aliases = aliases
        skeyIndex = SKEYIndex(Array(torrents.keys) + Array(aliases.keys))
    }

    /// The session of `handle`.
    /// - Throws: ``EngineError`` `unknownTorrent` when it is not in the client.
    func requireSession(_ handle: TorrentHandle) throws(EngineError) -> TorrentSession {
        guard let session = torrents[handle.wireInfoHash] else {
            throw EngineError(.unknownTorrent, "\(handle.name) is not in the client")
        }
        return session
    }

    var handles: [TorrentHandle] { torrents.values.map(\.handle).sorted { $0.name < $1.name } }

    var allSessions: [TorrentSession] { Array(torrents.values) }

    /// Removes the torrent: disconnects its peers and forgets it. The caller saves resume data and deletes
    /// files.
    func removeSession(_ session: TorrentSession) {
        torrents[session.handle.wireInfoHash] = nil
        fileProgress[session.handle.wireInfoHash] = nil
        rebuildNameIndexes()
        webSeeds.remove(session)
        connections.disconnectAll(session, reason: .local)
        uploads.closeFiles(of: session)
        rates.removeTorrent(session.handle.wireInfoHash)
        connections.limiter.setMaximum(nil, for: session.handle.wireInfoHash)
    }

    func pause(_ session: TorrentSession) {
        guard session.state != .paused else { return }
        session.state = .paused
        connections.disconnectAll(session, reason: .local)
    }

    func resume(_ session: TorrentSession) {
        guard session.state == .paused else { return }
        session.state =
            session.metadata != nil ? .fetchingMetadata : (session.isComplete ? .seeding : .downloading)
        session.schedule?.reannounce(now: loop.now)
        connections.dialCandidates(session)
    }

    // MARK: Shutdown

    func beginShutdown() {
        isShutDown = true
        ticker?.cancel()
        ticker = nil
        webSeeds.shutdown()
        localDiscovery.close()
        for session in torrents.values { connections.disconnectAll(session, reason: .local) }
        connections.listener?.close()
    }
}
