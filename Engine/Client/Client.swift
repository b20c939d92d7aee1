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
        let server: any PeerListener
        do {
            server = try await IncomingConnections.listen(core: core, configuration: configuration, loop: loop)
        } catch {
            try? await group?.shutdownGracefully()
            throw error
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
        try await BTEngine.onLoop(core, body)
    }

    /// Adding, pausing and removing torrents and the shutdown, off the loop.
    var lifecycle: TorrentLifecycle { TorrentLifecycle(core: core, events: events, configuration: configuration) }

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
        try await lifecycle.add(
            torrent, downloadDirectory: downloadDirectory, resume: resume, limits: limits,
            filePriorities: filePriorities)
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
        try await lifecycle.remove(handle, deleteData: deleteData)
    }

    /// Pauses a torrent: disconnects its peers, stops dialling and writes its resume data.
    public func pause(_ handle: TorrentHandle) async throws(EngineError) {
        try await lifecycle.pause(handle)
    }

    /// Resumes a paused torrent.
    public func resume(_ handle: TorrentHandle) async throws(EngineError) {
        try await onLoop { core throws(EngineError) in
            let session = try core.requireSession(handle)
            core.resume(session)
        }
    }

    /// Connects to a peer for a torrent (the user's own peer list, e.g. `--peer HOST:PORT`).
    public func connect(host: String, port: Int, for handle: TorrentHandle) async throws(EngineError) {
        try await onLoop { core throws(EngineError) in
            let session = try core.requireSession(handle)
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
        await lifecycle.shutdown()
        try? await group?.shutdownGracefully()
    }

}
