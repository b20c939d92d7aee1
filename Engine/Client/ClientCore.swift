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
    var listenPort = 0
    var listenHost = ""
    var serverChannel: (any PeerListener)?
    var torrents: [[UInt8]: TorrentSession] = [:]
    var connections: [UInt64: PeerConnection] = [:]
    private var nextKey: UInt64 = 1
    var limiter: ConnectionLimiter<[UInt8], UInt64>
    var rates: RateLimiter<[UInt8], UInt64>
    var ledger = ReputationLedger<IPAddress>()
    /// Incoming connections that have not sent their handshake yet (bounded by
    /// ``ClientConfiguration/maximumIncomingHandshakes``).
    var incomingHandshakes = 0
    /// Incoming connections waiting for their handshake, by address (see ``connectionCount(at:)``).
    var handshakingAddresses: [IPAddress: Int] = [:]
    /// Connections written to and not yet flushed while `deferringFlushes` runs; nil outside it.
    private var deferredFlushes: [UInt64: PeerConnection]?
    /// Requested bytes still owed by a peer above which its socket's receive watermark is raised (see
    /// ClientCore+ReceiveWatermark.swift; a test lowers it).
    var streamingInFlightBytes = ClientCore.defaultStreamingInFlightBytes
    /// Times a tick lowered a silent peer's raised receive watermark (a test reads it).
    var relaxedReceiveWatermarks = 0
    private(set) var dialQueue: [UInt64: (session: TorrentSession, connection: PeerConnection)] = [:]
    /// Tie-breaks of the picker and the choker: a seeded generator, because the picker draws one number per
    /// candidate piece on every pick, and the system generator costs a system call per number.
    var random = TrackerRandom()
    private var ticker: RepeatedTask?
    private var lastPeerTick: NIODeadline
    private let origin: NIODeadline
    private let announceKey = UInt32.random(in: 0...UInt32.max)
    private(set) var isShutDown = false
    let uploadLimited: Bool
    let downloadLimited: Bool
    /// Counters and gauges (see ``EngineMetrics``).
    let metrics: EngineMetrics

    init(loop: any EventLoop, configuration: ClientConfiguration, peerID: PeerID, events: EventBus) {
        self.loop = loop
        self.configuration = configuration
        self.peerID = peerID
        self.events = events
        var limits = ConnectionLimiter<[UInt8], UInt64>.Configuration()
        limits.maximumConnections = configuration.maximumConnections
        limits.maximumPerTorrent = configuration.maximumPeersPerTorrent
        limits.maximumHalfOpen = configuration.maximumHalfOpen
        limits.maximumQueued = configuration.maximumQueuedConnections
        self.limiter = ConnectionLimiter(configuration: limits)
        let now = loop.now
        self.origin = now
        self.lastPeerTick = now
        self.uploadLimited = configuration.uploadLimit.bytesPerSecond != nil
        self.downloadLimited = configuration.downloadLimit.bytesPerSecond != nil
        self.rates = RateLimiter(upload: configuration.uploadLimit, download: configuration.downloadLimit, now: .zero)
        self.metrics = EngineMetrics(factory: configuration.metricsFactory)
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

    private func tick() {
        guard !isShutDown else { return }
        let now = loop.now
        grant(rates.advance(to: instant(now)))
        relaxIdleReceiveWatermarks()
        for session in torrents.values where session.rechokeSoon || now >= session.nextRechoke {
            rechoke(session, now: now)
        }
        guard now - lastPeerTick >= .seconds(1) else { return }
        lastPeerTick = now
        reportMetrics()
        for connection in Array(connections.values) where !connection.isClosed {
            connection.driver?.tick(now: now)  // the driver tells `acted`, which tops up requests
        }
        for session in torrents.values
        where session.state != .paused && session.state != .failed && session.state != .checking {
            announceDue(session, now: now)
            for entry in session.redials.due(now: now) {
                addPeer(host: entry.host, port: entry.port, source: entry.source, to: session)
            }
            dialCandidates(session)
            for connection in session.connections.values { fillRequests(connection) }
        }
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
        applyLimits(session)
        if configuration.usesTrackers && !session.torrent.announceTiers.isEmpty {
            var random = TrackerRandom()
            session.schedule = AnnounceSchedule(
                tiers: session.torrent.announceTiers, isPrivate: session.torrent.isPrivate, random: &random,
                now: loop.now)
            if session.trackerClient == nil { startTrackerClient(for: session) }
            if session.state != .checking { announceDue(session, now: loop.now) }
        }
    }

    func session(_ handle: TorrentHandle) -> TorrentSession? { torrents[handle.wireInfoHash] }

    var handles: [TorrentHandle] { torrents.values.map(\.handle).sorted { $0.name < $1.name } }

    var allSessions: [TorrentSession] { Array(torrents.values) }

    /// Removes the torrent: disconnects its peers and forgets it. The caller saves resume data and deletes
    /// files.
    func removeSession(_ session: TorrentSession) {
        torrents[session.handle.wireInfoHash] = nil
        disconnectAll(session, reason: .local)
        rates.removeTorrent(session.handle.wireInfoHash)
        limiter.setMaximum(nil, for: session.handle.wireInfoHash)
    }

    func pause(_ session: TorrentSession) {
        guard session.state != .paused else { return }
        session.state = .paused
        disconnectAll(session, reason: .local)
    }

    func resume(_ session: TorrentSession) {
        guard session.state == .paused else { return }
        session.state = session.isComplete ? .seeding : .downloading
        session.schedule?.reannounce(now: loop.now)
        dialCandidates(session)
    }

    func disconnectAll(_ session: TorrentSession, reason: DisconnectReason) {
        for connection in Array(session.connections.values) {
            disconnect(connection, reason, detail: "closed locally")
        }
        for (key, entry) in dialQueue where entry.session === session {
            dialQueue[key] = nil
            for next in limiter.closed(key) { startQueuedDial(next) }
        }
        session.dialled.removeAll()
    }

    func status(_ session: TorrentSession) -> TorrentStatus {
        let now = loop.now
        var down = 0.0
        var up = 0.0
        var peers = 0
        var seeds = 0
        for connection in session.connections.values where connection.isActive {
            guard
                let (rateDown, rateUp, isSeed) = connection.withMachine({
                    ($0.rateDown(at: now), $0.rateUp(at: now), $0.isSeed)
                })
            else { continue }
            down += rateDown
            up += rateUp
            peers += 1
            if isSeed { seeds += 1 }
        }
        let progress = session.totalBytes == 0 ? 1 : Double(session.verifiedBytes) / Double(session.totalBytes)
        var eta: Duration?
        if !session.isComplete && down > 1 {
            eta = .seconds(Double(session.bytesLeft) / down)
        }
        let base = session.downloadedBytes > 0 ? session.downloadedBytes : max(session.totalBytes, 1)
        return TorrentStatus(
            handle: session.handle, state: session.state, progress: progress, totalBytes: session.totalBytes,
            verifiedBytes: session.verifiedBytes, verifiedPieces: session.picker.have.setCount,
            pieceCount: session.picker.layout.pieceCount, downloadRate: down, uploadRate: up, peers: peers,
            seeds: seeds, eta: eta, downloadedBytes: session.downloadedBytes, uploadedBytes: session.uploadedBytes,
            ratio: Double(session.uploadedBytes) / Double(base), error: session.error)
    }

    // MARK: Outgoing connections

    /// Adds a peer address to dial for `session` (from the user or a tracker).
    func addPeer(host: String, port: Int, source: PeerSource, to session: TorrentSession) {
        guard port > 0 && port < 65536 else { return }
        let address = "\(host):\(port)"
        if session.dialled.contains(address) { return }
        if port == listenPort && (host == listenHost || host == "127.0.0.1" || host == "0.0.0.0") && source != .user {
            return  // our own listener, as trackers report us back
        }
        guard session.candidates.append(.init(host: host, port: port, source: source)) else { return }
        if session.state != .paused && session.state != .failed && session.state != .checking {
            dialCandidates(session)
        }
    }

    func dialCandidates(_ session: TorrentSession) {
        while !session.candidates.isEmpty,
            session.connections.count + dialQueueCount(session) < maximumPeers(session)
        {
            let candidate = session.candidates.removeFirst()
            dial(host: candidate.host, port: candidate.port, source: candidate.source, session: session)
        }
    }

    private func dialQueueCount(_ session: TorrentSession) -> Int {
        dialQueue.values.filter { $0.session === session }.count
    }

    private func dial(host: String, port: Int, source: PeerSource, session: TorrentSession) {
        guard let address = IPAddress(host) else {
            // Names are resolved by the bootstrap; the filter sees the address once connected.
            connectOutgoing(host: host, port: port, address: nil, source: source, session: session)
            return
        }
        let endpoint = PeerEndpoint(address: address, port: UInt16(port))
        let allowed = configuration.ipFilter.allows(endpoint) && !ledger.isBlacklisted(address.unmapped)
        events.emit(.ipFilter(endpoint, allowed: allowed))
        guard allowed else { return }
        connectOutgoing(host: host, port: port, address: address, source: source, session: session)
    }

    private func connectOutgoing(
        host: String, port: Int, address: IPAddress?, source: PeerSource, session: TorrentSession
    ) {
        let key = nextKey
        nextKey += 1
        let now = loop.now
        let endpoint = PeerEndpoint(address: address ?? .v4(0), port: UInt16(port))
        var config = peerConfiguration(session)
        if case .v4(let v4) = address {
            config.remoteIPv4 = [UInt8(v4 >> 24), UInt8((v4 >> 16) & 0xff), UInt8((v4 >> 8) & 0xff), UInt8(v4 & 0xff)]
        }
        let connection = PeerConnection(
            key: key, core: self, endpoint: endpoint, host: host, port: port, incoming: false, now: now,
            machine: PeerStateMachine(configuration: config, incoming: false, source: source, now: now))
        connection.session = session
        session.dialled.insert("\(host):\(port)")
        switch limiter.connectOutgoing(key, torrent: session.handle.wireInfoHash) {
        case .connect:
            startDial(connection, session: session)
        case .queued:
            dialQueue[key] = (session, connection)
        case .refused(let reason):
            session.dialled.remove("\(host):\(port)")
            events.emit(.peerDisconnect(connection.info, reason: reason))
            metrics.disconnected(reason)
        }
    }

    private func startDial(_ connection: PeerConnection, session: TorrentSession) {
        let now = loop.now
        guard connection.withMachine({ _ = $0.startConnecting(now: now) }) != nil else { return }
        connections[connection.key] = connection
        session.connections[connection.key] = connection
        session.peerAddresses[connection.key] = connection.endpoint.address.unmapped
        let core = self
        configuration.transport.connect(
            host: connection.host, port: connection.port, from: listenHost, loop: loop, timeout: .seconds(10),
            initializer: { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(connection.makeDriver())
                }
            }
        )
        .whenComplete { result in
            core.loop.preconditionInEventLoop()
            switch result {
            case .success(let channel):
                core.dialSucceeded(connection, channel: channel)
            case .failure(let error):
                core.dialFailed(connection, error: error)
            }
        }
    }

    private func dialSucceeded(_ connection: PeerConnection, channel: any Channel) {
        for key in limiter.connected(connection.key) { startQueuedDial(key) }
        if connection.isClosed { channel.close(promise: nil) }
    }

    /// A dialled connection became active, before its driver sends anything: a peer dialled by name is
    /// filtered by the address the name resolved to.
    func shouldStart(_ connection: PeerConnection) -> Bool {
        guard !connection.isClosed else { return false }
        guard IPAddress(connection.host) == nil, let text = connection.channel?.remoteAddress?.ipAddress,
            let address = IPAddress(text)
        else { return true }
        connection.endpoint = PeerEndpoint(address: address, port: connection.endpoint.port)
        connection.session?.peerAddresses[connection.key] = address.unmapped
        let allowed = configuration.ipFilter.allows(connection.endpoint) && !ledger.isBlacklisted(address.unmapped)
        events.emit(.ipFilter(connection.endpoint, allowed: allowed))
        guard allowed else {
            finishClose(connection, reason: ledger.isBlacklisted(address.unmapped) ? .blacklisted : .ipFiltered)
            return false
        }
        return true
    }

    private func dialFailed(_ connection: PeerConnection, error: any Error) {
        finishClose(connection, reason: .ioError)
    }

    private func startQueuedDial(_ key: UInt64) {
        guard let entry = dialQueue.removeValue(forKey: key) else { return }
        if !isShutDown, torrents[entry.session.handle.wireInfoHash] === entry.session,
            entry.session.state != .paused
        {
            startDial(entry.connection, session: entry.session)
        } else {
            for next in limiter.closed(key) { startQueuedDial(next) }
        }
    }

    // MARK: Incoming connections

    /// Makes the driver of an accepted channel, or refuses it at once (the `ipFilter` decides here, before
    /// the peer's handshake is read, and too many connections waiting for their handshake are refused).
    func acceptChannel(_ channel: any Channel) -> PeerChannelHandler? {
        let remote = channel.remoteAddress
        let endpoint = PeerEndpoint(
            address: IPAddress(remote?.ipAddress ?? "") ?? .v4(0), port: UInt16(clamping: remote?.port ?? 0))
        let refusal: DisconnectReason?
        if isShutDown {
            refusal = .local
        } else if ledger.isBlacklisted(endpoint.address.unmapped) {
            refusal = .blacklisted
        } else if !configuration.ipFilter.allows(endpoint) {
            refusal = .ipFiltered
        } else if incomingHandshakes >= configuration.maximumIncomingHandshakes
            || connectionCount(at: endpoint.address) >= configuration.maximumConnectionsPerAddress
        {
            refusal = .tooMany
        } else {
            refusal = nil
        }
        if refusal != .tooMany && refusal != .local {
            events.emit(.ipFilter(endpoint, allowed: refusal == nil))
        }
        if let refusal {
            incomingRefused(channel, reason: refusal)
            return nil
        }
        incomingHandshakes += 1
        handshakingAddresses[endpoint.address.unmapped, default: 0] += 1
        return PeerChannelHandler(
            machine: nil, delegate: self, tickInterval: nil,
            handshakeTimeout: TimeAmount(configuration.incomingHandshakeTimeout))
    }

    /// Connections at `address`: established or dialling, plus incoming ones waiting for their handshake.
    func connectionCount(at address: IPAddress) -> Int {
        let unmapped = address.unmapped
        return connections.values.reduce(handshakingAddresses[unmapped] ?? 0) {
            $0 + ($1.endpoint.address.unmapped == unmapped ? 1 : 0)
        }
    }

    /// An incoming connection from `address` stopped waiting for its handshake (routed or closed).
    private func handshakeEnded(from address: IPAddress) {
        incomingHandshakes -= 1
        let unmapped = address.unmapped
        if let count = handshakingAddresses[unmapped], count > 1 {
            handshakingAddresses[unmapped] = count - 1
        } else {
            handshakingAddresses[unmapped] = nil
        }
    }

    /// An incoming connection's handshake arrived: find the torrent, apply limits, and hand the driver the
    /// torrent's state machine (it gives the machine the decoded handshake).
    func route(_ handler: PeerChannelHandler, handshake: Handshake) -> PeerChannelRoute {
        let remote = handler.channel?.remoteAddress
        let host = remote?.ipAddress ?? "0.0.0.0"
        let port = remote?.port ?? 0
        let address = IPAddress(host) ?? .v4(0)
        handshakeEnded(from: address)
        let endpoint = PeerEndpoint(address: address, port: UInt16(clamping: port))
        let key = nextKey
        nextKey += 1
        let now = loop.now
        func refuse(_ reason: DisconnectReason) -> PeerChannelRoute {
            var info = ClientEvent.PeerInfo(endpoint: endpoint, isIncoming: true)
            info.peerID = handshake.peerID.bytes
            info.infoHash = handshake.infoHash
            info.torrent = torrents[handshake.infoHash]?.info
            events.emit(.peerDisconnect(info, reason: reason))
            metrics.disconnected(reason)
            return .refuse(reason)
        }
        guard !isShutDown else { return refuse(.local) }
        guard let session = torrents[handshake.infoHash], session.state != .paused, session.state != .failed else {
            return refuse(.noSuchTorrent)
        }
        if session.state == .checking { return refuse(.hashChecking) }
        if case .refuse(let reason) = limiter.acceptIncoming(key, torrent: session.handle.wireInfoHash) {
            return refuse(reason)
        }
        var config = peerConfiguration(session)
        if case .v4(let v4) = address.unmapped {
            config.remoteIPv4 = [UInt8(v4 >> 24), UInt8((v4 >> 16) & 0xff), UInt8((v4 >> 8) & 0xff), UInt8(v4 & 0xff)]
        }
        let connection = PeerConnection(
            key: key, core: self, endpoint: endpoint, host: host, port: port, incoming: true, now: now)
        connection.session = session
        connection.driver = handler
        handler.delegate = connection
        connections[key] = connection
        session.connections[key] = connection
        session.peerAddresses[key] = address.unmapped
        return .accept(PeerStateMachine(configuration: config, incoming: true, source: .incoming, now: now))
    }

    /// Reports an incoming connection closed before its handshake named a torrent (`malformedHandshake`,
    /// `handshakeTimeout`, `tooMany`); the caller closes the channel.
    func incomingRefused(_ channel: any Channel, reason: DisconnectReason) {
        let remote = channel.remoteAddress
        let host = remote?.ipAddress ?? "0.0.0.0"
        let endpoint = PeerEndpoint(address: IPAddress(host) ?? .v4(0), port: UInt16(clamping: remote?.port ?? 0))
        events.emit(.peerDisconnect(ClientEvent.PeerInfo(endpoint: endpoint, isIncoming: true), reason: reason))
        metrics.disconnected(reason)
    }

    /// Wire settings of a connection of `session`. The request pipeline may grow to 1,000 blocks (16 MiB)
    /// instead of the state machine's 250 and starts at 16: on a fast link the time a request waits is set by
    /// the seed's disk and send queue, not the round trip, and 4 MiB in flight capped a loopback download near
    /// 200 MB/s.
    func peerConfiguration(_ session: TorrentSession) -> PeerConfiguration {
        var config = PeerConfiguration(torrent: session.torrent, localPeerID: peerID, localPieces: session.picker.have)
        config.wantedPieces = session.wantedPiecesForInterest
        config.emitsPacketEvents = configuration.reportsPacketEvents  // for observers only
        config.maxServingQueue = configuration.maximumQueuedRequestsPerPeer
        config.maxPipelineDepth = 1000
        config.initialPipelineDepth = 16
        return config
    }

    // MARK: Input

    /// Bytes arrived from the peer (the driver decodes them).
    func read(_ bytes: Int, on connection: PeerConnection) {
        if events.isObserved(.peerRead) { events.emit(.peerRead(connection.info, length: bytes)) }
    }

    /// Bytes were handed to the peer's channel: a peer that lets them pile up past the bound is dropped.
    func wrote(_ bytes: Int, on connection: PeerConnection) {
        if events.isObserved(.peerWrite) { events.emit(.peerWrite(connection.info, length: bytes)) }
        let queued = connection.driver?.queuedOutputBytes ?? 0
        if queued > configuration.maximumQueuedOutputBytesPerPeer {
            // Later in this loop turn: the driver is still writing the batch that got us here.
            loop.execute { [self] in
                disconnect(connection, .sendBufferFull, detail: "\(queued) bytes queued and not read")
            }
        }
    }

    func disconnect(_ connection: PeerConnection, _ reason: DisconnectReason, detail: String) {
        guard !connection.isClosed else { return }
        let now = loop.now
        guard let actions = connection.withMachine({ $0.disconnect(reason, detail: detail, now: now) }) else {
            finishClose(connection, reason: reason)
            return
        }
        perform(actions, on: connection)
        if !connection.isClosed { finishClose(connection, reason: reason) }
    }

    // MARK: Actions

    /// Runs `body`, flushing each connection it wrote to once at the end instead of after every `perform`
    /// (a batch of blocks read for upload: one socket write per peer for the batch, not one per block).
    func deferringFlushes(_ body: () -> Void) {
        let outermost = deferredFlushes == nil
        if outermost { deferredFlushes = [:] }
        body()
        guard outermost, let pending = deferredFlushes else { return }
        deferredFlushes = nil
        for connection in pending.values where !connection.isClosed { connection.driver?.flushIfNeeded() }
    }

    /// Performs actions the engine got from the state machine (``PeerConnection/withMachine(_:)``): the driver
    /// writes the sends and hands the rest back through ``handle(_:on:)``; then tops up the request pipeline.
    /// A connection without a channel yet (a queued dial) has nothing to send: the rest is handled here.
    func perform(_ actions: [PeerAction], on connection: PeerConnection, refill: Bool = true) {
        if let driver = connection.driver {
            let deferring = deferredFlushes != nil
            driver.perform(actions, flush: !deferring)
            if deferring { deferredFlushes?[connection.key] = connection }
        } else {
            for action in actions {
                switch action {
                case .send, .sendHandshake: continue
                default: handle(action, on: connection)
                }
            }
        }
        guard !connection.isClosed else { return }
        if !connection.reportedConnect && connection.isActive { connected(connection) }
        if refill { fillRequests(connection) }
    }

    /// The driver acted on input from the peer or the clock: report the connection once its handshakes are
    /// done, and top up its requests.
    func acted(_ connection: PeerConnection) {
        guard !connection.isClosed else { return }
        if !connection.reportedConnect && connection.isActive { connected(connection) }
        fillRequests(connection)
    }

    /// What the state machine asks of the engine, besides sending (the driver sends).
    func handle(_ action: PeerAction, on connection: PeerConnection) {
        guard !connection.isClosed else { return }
        switch action {
        case .deliver(let block):
            deliver(block, from: connection)
        case .readBlock(let request):
            serve(request, to: connection)
        case .requestsReturned(let requests):
            guard let session = connection.session else { return }
            for request in requests {
                session.picker.requestCancelled(
                    PieceBlock(piece: request.piece, offset: request.offset, length: request.length),
                    by: connection.key)
            }
        case .peerHas(let availability):
            guard let session = connection.session else { return }
            switch availability {
            case .piece(let piece): session.picker.peerHas(connection.key, piece: piece)
            case .pieces(let pieces): session.picker.peerBitfield(connection.key, pieces)
            case .all: session.picker.peerHasAll(connection.key)
            case .none: session.picker.peerBitfield(connection.key, noPieces(of: connection, session))
            }
        case .peerChoked(let choked):
            connection.unchokedUsAt = choked ? nil : loop.now  // a peer that chokes us is not snubbing us
        case .peerInterested:
            connection.session?.rechokeSoon = true
        case .requestCancelled(let request):
            dropUpload(request, of: connection)
        case .event(let event):
            handle(event, on: connection)
        case .disconnect(let reason, _):
            finishClose(connection, reason: reason)
        case .send, .sendHandshake, .extensionMessage, .forward:
            break
        }
    }

    private func connected(_ connection: PeerConnection) {
        connection.reportedConnect = true
        guard let session = connection.session, let id = connection.machine?.peerID else { return }
        if session.connections.values.contains(where: { $0 !== connection && $0.isActive && $0.machine?.peerID == id })
        {
            disconnect(connection, .preexisting, detail: "already connected to peer \(id)")
            return
        }
        if connection.machine?.peerPieces.isNoneSet ?? true {
            session.picker.peerBitfield(connection.key, noPieces(of: connection, session))
        }
        if !connection.isIncoming { session.redials.succeeded(host: connection.host, port: connection.port) }
        events.emit(.peerConnect(connection.info))
    }

    /// An empty bitfield for the picker: the machine's own while it is still empty (shared copy-on-write
    /// rather than another one per peer), else a new one.
    private func noPieces(of connection: PeerConnection, _ session: TorrentSession) -> Bitfield {
        if let pieces = connection.machine?.peerPieces, pieces.isNoneSet { return pieces }
        return Bitfield(count: session.picker.layout.pieceCount)
    }

    private func handle(_ event: PeerEvent, on connection: PeerConnection) {
        switch event {
        case .packet(let packet):
            // Only for observers: every decision comes from the machine's other actions.
            guard configuration.reportsPacketEvents else { return }
            let message = Self.describe(packet, pieceCount: connection.machine?.configuration.pieceCount ?? 0)
            switch packet.direction {
            case .incoming: events.emit(.packetIncoming(connection.info, message))
            case .outgoing: events.emit(.packetOutgoing(connection.info, message))
            }
        case .snubbed:
            // The state stays in the machine (``PeerStatus/isSnubbed``); the choker sees it at the next rechoke.
            connection.session?.rechokeSoon = true
        case .parole, .reputation:
            break  // kept by the machine, read by ``PeerStatus``; the seed's catalogue has no event for them
        case .blacklisted:
            // The machine closes the connection with reason `reputation`, reported as `peer_disconnect`
            // (blacklisted); the client-wide ledger was told of the corrupt piece in `pieceFailed`.
            break
        }
    }

    private func finishClose(_ connection: PeerConnection, reason: DisconnectReason) {
        guard !connection.isClosed else { return }
        connection.isClosed = true
        connection.channel?.close(promise: nil)
        connections[connection.key] = nil
        rates.removePeer(connection.key)
        if let session = connection.session {
            session.connections[connection.key] = nil
            session.picker.peerLeft(connection.key)
            if !connection.isIncoming {
                session.dialled.remove("\(connection.host):\(connection.port)")
                if PeerRedials.retries(after: reason), !isShutDown, torrents[session.handle.wireInfoHash] === session {
                    session.redials.failed(
                        host: connection.host, port: connection.port, source: connection.machine?.source ?? .tracker,
                        wasConnected: connection.reportedConnect, now: loop.now)
                }
            }
            if connection.reportedConnect { session.rechokeSoon = true }
        }
        events.emit(.peerDisconnect(connection.info, reason: reason))
        metrics.disconnected(reason)
        dialQueue[connection.key] = nil
        for key in limiter.closed(connection.key) { startQueuedDial(key) }
    }

    // MARK: Downloading

    /// Most requests a connection waits for before it sends more (see `fillRequests`).
    static let requestBatch = 128

    /// Asks the picker for as many blocks as the peer's pipeline takes and requests them.
    func fillRequests(_ connection: PeerConnection) {
        guard connection.isActive, connection.downloadDebt <= 0, let session = connection.session,
            session.state == .downloading, !isWriteBacklogFull(session), connection.machine?.amInterested == true
        else { return }
        let now = loop.now
        // Under a download limit, requests are paid for up front: the next batch waits until the limiter has
        // granted this one, so what is in flight never runs far ahead of the limit.
        let limited = downloadLimited || session.limits.downloadLimit.bytesPerSecond != nil
        // The machine is moved out while it is asked and told (see `PeerConnection.withMachine`).
        let picked = connection.withMachine { machine -> (blocks: [PieceBlock], actions: [PeerAction])? in
            let capacity = machine.requestCapacity(now: now)
            // Requests go out in batches of a quarter of the pipeline (at most `requestBatch`), not one per
            // block that arrives: fewer, fuller packets for both sides. Only while at least three quarters of
            // the pipeline are in flight, so waiting for the batch never stalls the peer.
            let batch = min(Self.requestBatch, max(1, machine.pipelineDepth(now: now) / 4))
            guard capacity >= batch else { return nil }
            if machine.peerChoking && machine.allowedFastFromPeer.isEmpty { return nil }
            let context = PiecePicker<UInt64>.PickContext(
                choked: machine.peerChoking, allowedFast: machine.allowedFastFromPeer,
                suggested: machine.suggestedPieces, onParole: machine.isOnParole)
            let count = limited ? min(capacity, 4) : capacity
            let blocks = session.picker.pick(for: connection.key, count: count, context: context, using: &random)
            guard !blocks.isEmpty else { return nil }
            let actions = machine.request(
                blocks.map { BlockRequest(piece: $0.piece, offset: $0.offset, length: $0.length) }, now: now)
            return (blocks, actions)
        }
        guard let picked = picked ?? nil else { return }
        let blocks = picked.blocks
        perform(picked.actions, on: connection, refill: false)
        if limited && !connection.isClosed {
            let bytes = blocks.reduce(0) { $0 + $1.length }
            connection.downloadDebt += bytes
            grant(
                rates.request(
                    bytes, peer: connection.key, torrent: session.handle.wireInfoHash, direction: .download,
                    now: instant(now)))
        }
    }

    private func deliver(_ block: Block, from connection: PeerConnection) {
        guard let session = connection.session else { return }
        let length = block.data.readableBytes
        connection.downloaded += Int64(length)
        connection.lastBlockAt = loop.now
        session.downloadedBytes += Int64(length)
        let piece = PieceBlock(piece: block.piece, offset: block.offset, length: length)
        switch session.picker.blockReceived(piece, from: connection.key) {
        case .accepted(let cancel):
            let now = loop.now
            let request = BlockRequest(piece: piece.piece, offset: piece.offset, length: length)
            for key in cancel {
                guard let other = session.connections[key],
                    let actions = other.withMachine({ $0.cancel(request, now: now) })
                else { continue }
                perform(actions, on: other, refill: false)
            }
        case .duplicate, .unwanted:
            return
        }
        writeStarted(length, session: session)
        writeQueue(of: session).enqueue(
            BlockWriteQueue.Item(
                block: piece, bytes: Array(block.data.readableBytesView), peer: PeerTag(connection.key)))
    }

    /// The torrent's write queue (made on its first block); each batch's outcomes come back to the loop in one
    /// hop.
    private func writeQueue(of session: TorrentSession) -> BlockWriteQueue {
        if let queue = session.writeQueue { return queue }
        let core = self
        let loop = self.loop
        let queue = BlockWriteQueue(
            store: session.store,
            scheduleFlush: { flush in
                loop.scheduleTask(in: .nanoseconds(BlockWriteQueue.flushDelayNanoseconds)) { flush() }
            }
        ) { [weak session] outcomes in
            core.loop.execute {
                guard let session else { return }
                for outcome in outcomes { core.written(outcome.block, result: outcome.result, session: session) }
            }
        }
        session.writeQueue = queue
        return queue
    }

    private func written(_ block: PieceBlock, result: Result<BlockWriteResult, any Error>, session: TorrentSession) {
        guard torrents[session.handle.wireInfoHash] === session else { return }
        defer { writeFinished(block.length, session: session) }
        switch result {
        case .failure(let error):
            fail(session, error: error)
        case .success(let outcome):
            _ = session.picker.blockWritten(block)
            switch outcome {
            case .pieceVerified(let piece):
                pieceVerified(piece, session: session)
            case .pieceFailed(let piece, _):
                pieceFailed(piece, session: session)
            case .stored, .duplicate:
                break
            }
        }
    }

    func fail(_ session: TorrentSession, error: any Error) {
        guard session.state != .failed else { return }
        session.state = .failed
        session.error = "\(error)"
        events.emit(.fileError(ClientEvent.FileInfo(torrent: session.info, index: -1, path: []), message: "\(error)"))
        disconnectAll(session, reason: .local)
    }

    private func pieceVerified(_ piece: Int, session: TorrentSession) {
        guard !session.picker.have[piece] else { return }
        let contributors = session.picker.pieceVerified(piece)
        session.verifiedBytes += TorrentSession.payloadBytes(ofPiece: piece, layout: session.picker.layout)
        _ = ledger.pieceVerified(contributors: Set(contributors.compactMap { session.peerAddresses[$0] }))
        events.emit(.pieceHashPass(session.info, index: piece))
        metrics.pieceVerified()
        let now = loop.now
        for connection in Array(session.connections.values) where !connection.isClosed {
            let contributed = contributors.contains(connection.key)
            guard
                let actions = connection.withMachine({ machine in
                    (contributed ? machine.pieceVerified(piece, now: now) : []) + machine.havePiece(piece, now: now)
                })
            else { continue }
            perform(actions, on: connection, refill: false)
        }
        // Dials still queued learn the piece too, or their bitfield and interest would start out of date.
        for entry in dialQueue.values where entry.session === session {
            _ = entry.connection.withMachine { $0.havePiece(piece, now: now) }
        }
        if session.isComplete { finished(session) }
    }

    private func pieceFailed(_ piece: Int, session: TorrentSession) {
        let contributors = session.picker.pieceFailed(piece)
        events.emit(.pieceHashFail(session.info, index: piece))
        metrics.hashFailed()
        // Blame as the seed's parole does: when a contributor is already blacklisted (or else on parole), the
        // corrupt piece is put down to it alone, so an honest peer finishing pieces a liar started is not
        // punished for the liar's blocks; otherwise every contributor is (-20 each).
        let known = Set(contributors.compactMap { session.peerAddresses[$0] })
        let blacklisted = known.filter { ledger.isBlacklisted($0) }
        let paroled = known.filter { ledger.isOnParole($0) }
        let blamed = !blacklisted.isEmpty ? blacklisted : (!paroled.isEmpty ? paroled : known)
        let update = ledger.pieceFailed(contributors: blamed)
        let now = loop.now
        for key in contributors {
            guard let connection = session.connections[key], blamed.contains(connection.endpoint.address.unmapped),
                let actions = connection.withMachine({ $0.pieceFailed(piece, now: now) })
            else { continue }
            perform(actions, on: connection, refill: false)
            if update.newlyBlacklisted.contains(connection.endpoint.address.unmapped) {
                disconnect(connection, .blacklisted, detail: "blacklisted after corrupt piece \(piece)")
            }
        }
        for connection in Array(session.connections.values) { fillRequests(connection) }
    }

    func finished(_ session: TorrentSession) {
        guard !session.reportedFinished else { return }
        session.reportedFinished = true
        if session.state == .downloading { session.state = .seeding }
        // `completed` only once every piece is verified, as libtorrent does (`is_seed()`): a torrent finished
        // with skipped files is still a leecher to the tracker (`left` > 0); it announces `completed` when the
        // skipped files are wanted again and downloaded (this runs again then).
        if session.picker.have.isAllSet { session.schedule?.completed(now: loop.now) }
        events.emit(.torrentFinished(session.info))
        let store = session.store
        if let path = session.resumePath {
            Task { try? await store.saveResumeData(to: path) }
        }
        if session.schedule != nil { announceDue(session, now: loop.now) }
    }

    // MARK: Uploading

    func serve(_ request: BlockRequest, to connection: PeerConnection, admitted: Bool = false) {
        guard let session = connection.session else { return }
        guard admitted || admitsUpload(request, to: connection) else { return }
        connection.admittedUploadBytes += Self.uploadCost(request)
        if uploadLimited || session.limits.uploadLimit.bytesPerSecond != nil {
            connection.pendingUploads.append(request)
            grant(
                rates.request(
                    request.length, peer: connection.key, torrent: session.handle.wireInfoHash, direction: .upload,
                    now: instant(loop.now)))
            return
        }
        read(request, for: connection, session: session)
    }

    private func read(_ request: BlockRequest, for connection: PeerConnection, session: TorrentSession) {
        readQueue(of: session).enqueue(BlockReadQueue.Item(request: request, connection: connection))
    }

    /// The torrent's upload read queue (made on its first request); each batch's results come back to the
    /// loop in one hop.
    private func readQueue(of session: TorrentSession) -> BlockReadQueue {
        if let queue = session.readQueue { return queue }
        let core = self
        let queue = BlockReadQueue(store: session.store) { outcomes in
            core.loop.execute {
                core.deferringFlushes {
                    for (item, result) in outcomes {
                        switch result {
                        case .success(let bytes):
                            core.blockRead(item.request, bytes: bytes, connection: item.connection)
                        case .failure: core.blockUnavailable(item.request, connection: item.connection)
                        }
                    }
                }
            }
        }
        session.readQueue = queue
        return queue
    }

    private func blockRead(_ request: BlockRequest, bytes: [UInt8], connection: PeerConnection) {
        connection.admittedUploadBytes -= Self.uploadCost(request)
        defer { drainDeferredUploads(connection) }
        guard !connection.isClosed, let channel = connection.channel else { return }
        var buffer = channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        let now = loop.now
        guard let actions = connection.withMachine({ $0.blockRead(request, data: buffer, now: now) }) else { return }
        for case .send(.piece(let block)) in actions {
            let length = Int64(block.data.readableBytes)
            connection.uploaded += length
            connection.session?.uploadedBytes += length
        }
        perform(actions, on: connection, refill: false)
    }

    private func blockUnavailable(_ request: BlockRequest, connection: PeerConnection) {
        connection.admittedUploadBytes -= Self.uploadCost(request)
        defer { drainDeferredUploads(connection) }
        let now = loop.now
        guard !connection.isClosed, let actions = connection.withMachine({ $0.blockUnavailable(request, now: now) })
        else { return }
        perform(actions, on: connection, refill: false)
    }

    func grant(_ grants: [RateLimiter<[UInt8], UInt64>.Grant]) {
        for grant in grants {
            guard let connection = connections[grant.peer], let session = connection.session else { continue }
            switch grant.direction {
            case .upload:
                connection.uploadTokens += grant.bytes
                while let next = connection.pendingUploads.first, connection.uploadTokens >= next.length {
                    connection.pendingUploads.removeFirst()
                    connection.uploadTokens -= next.length
                    read(next, for: connection, session: session)
                }
            case .download:
                connection.downloadDebt -= grant.bytes
                if connection.downloadDebt <= 0 { fillRequests(connection) }
            }
        }
    }

    // MARK: Choking

    func rechoke(_ session: TorrentSession, now: NIODeadline) {
        session.rechokeSoon = false
        session.nextRechoke = now + .seconds(10)
        var snapshots: [Choker<UInt64>.PeerSnapshot] = []
        for connection in session.connections.values where connection.isActive {
            let connectedAt = instant(connection.createdAt)
            let unchokedUsAt = connection.unchokedUsAt.map(instant)
            let lastBlockAt = connection.lastBlockAt.map(instant)
            guard
                let snapshot = connection.withMachine({ machine in
                    Choker<UInt64>.PeerSnapshot(
                        peer: connection.key, isInterested: machine.peerInterested,
                        weAreInterested: machine.amInterested, downloadRate: Int(machine.rateDown(at: now)),
                        uploadRate: Int(machine.rateUp(at: now)), connectedAt: connectedAt,
                        unchokedUsAt: unchokedUsAt, lastBlockAt: lastBlockAt)
                })
            else { continue }
            snapshots.append(snapshot)
        }
        let result = session.choker.rechoke(
            now: instant(now), peers: snapshots, seeding: session.isComplete, using: &random)
        for decision in result.decisions {
            let key: UInt64
            let unchoke: Bool
            switch decision {
            case .choke(let peer): (key, unchoke) = (peer, false)
            case .unchoke(let peer): (key, unchoke) = (peer, true)
            }
            guard let connection = session.connections[key],
                let actions = connection.withMachine({ unchoke ? $0.unchoke(now: now) : $0.choke(now: now) })
            else { continue }
            perform(actions, on: connection, refill: false)
            if !unchoke { dropUnansweredUploads(of: connection) }
        }
        // Every peer's flag, not only those whose choke state changed: the optimistic slot moves on between
        // peers that stay unchoked.
        for connection in session.connections.values {
            let optimistic = result.optimistic.contains(connection.key)
            _ = connection.withMachine { $0.isOptimisticUnchoke = optimistic }
        }
    }

    // MARK: Trackers

    /// Gives `session` its tracker client and forwards the client's `tracker_*` events (but `connect`, which
    /// ``send(_:for:tracker:)`` reports for every scheme, UDP included) to the bus, naming the torrent.
    private func startTrackerClient(for session: TorrentSession) {
        let tracker = TrackerClient(
            configuration: .init(addressPolicy: configuration.trackerAddressPolicy), group: loop)
        session.trackerClient = tracker
        let events = self.events
        let torrent = session.info
        session.trackerForwarder = Task {
            for await event in tracker.events {
                if let forwarded = Self.forward(event, torrent: torrent) { events.emit(forwarded) }
            }
        }
    }

    /// The bus event for a tracker event of `torrent`'s tracker client (nil for `connect`, reported by the engine).
    static func forward(_ event: TrackerEvent, torrent: ClientEvent.TorrentInfo) -> ClientEvent? {
        let info = ClientEvent.TrackerInfo(torrent: torrent, url: event.tracker)
        switch event {
        case .connect: return nil
        case .disconnect: return .trackerDisconnect(info)
        case .read(_, let bytes): return .trackerRead(info, length: bytes)
        case .write(_, let bytes): return .trackerWrite(info, length: bytes)
        case .failure(_, let error): return .trackerFailure(info, reason: "\(error)")
        case .success(_, let success):
            let peers = success.peers.compactMap { peer -> PeerEndpoint? in
                guard let address = IPAddress(peer.host), let port = UInt16(exactly: peer.port) else { return nil }
                return PeerEndpoint(address: address, port: port)
            }
            return .trackerSuccess(
                info,
                ClientEvent.AnnounceSummary(
                    complete: success.complete, incomplete: success.incomplete, peers: peers,
                    interval: .seconds(success.interval), minInterval: success.minInterval.map { .seconds($0) }))
        }
    }

    func announceDue(_ session: TorrentSession, now: NIODeadline) {
        guard var schedule = session.schedule, let tracker = session.trackerClient else { return }
        let due = schedule.due(now: now)
        session.schedule = schedule
        for announce in due { send(announce, for: session, tracker: tracker) }
    }

    private func announceRequest(_ event: AnnounceEvent, trackerID: [UInt8]?, session: TorrentSession)
        -> AnnounceRequest
    {
        AnnounceRequest(
            infoHash: session.handle.wireInfoHash, peerID: peerID.bytes, port: listenPort,
            uploaded: session.uploadedBytes, downloaded: session.downloadedBytes, left: session.bytesLeft,
            event: event, numWant: event == .stopped ? 0 : 50, key: announceKey, trackerID: trackerID)
    }

    private func send(_ announce: AnnounceSchedule.Announce, for session: TorrentSession, tracker: TrackerClient) {
        let request = announceRequest(announce.event, trackerID: announce.trackerID, session: session)
        let trackerInfo = ClientEvent.TrackerInfo(torrent: session.info, url: announce.url)
        events.emit(.trackerConnect(trackerInfo, event: Self.kind(announce.event)))
        let core = self
        let url = announce.url
        Task {
            do {
                let response = try await tracker.announce(request, to: url)
                core.loop.execute { core.announced(url, response: response, session: session) }
            } catch {
                let failure = error as? TrackerError
                // The failure event comes from the tracker client's stream, after its read and disconnect.
                if let failure {
                    core.loop.execute { session.schedule?.failed(url, error: failure, now: core.loop.now) }
                }
            }
        }
    }

    private func announced(_ url: String, response: AnnounceResponse, session: TorrentSession) {
        // The success event comes from the tracker client's stream, after its read and disconnect.
        session.schedule?.succeeded(url, response: response, now: loop.now)
        guard torrents[session.handle.wireInfoHash] === session else { return }
        for peer in response.peers where peer.peerID == nil || peer.peerID! != peerID.bytes {
            addPeer(host: peer.host, port: peer.port, source: .tracker, to: session)
        }
    }

    /// Sends the `stopped` announces of `session` and returns once they are answered or failed.
    func announceStopped(_ session: TorrentSession) -> [StopAnnounce] {
        guard var schedule = session.schedule, let tracker = session.trackerClient else { return [] }
        let due = schedule.stop(now: loop.now)
        session.schedule = schedule
        return due.map {
            StopAnnounce(
                url: $0.url, request: announceRequest(.stopped, trackerID: $0.trackerID, session: session),
                tracker: tracker, torrent: session.info)
        }
    }

    private static func kind(_ event: AnnounceEvent) -> ClientEvent.AnnounceKind? {
        switch event {
        case .started: return .started
        case .completed: return .completed
        case .stopped: return .stopped
        case .none: return nil
        }
    }

    // MARK: Shutdown

    func beginShutdown() {
        isShutDown = true
        ticker?.cancel()
        ticker = nil
        for session in torrents.values { disconnectAll(session, reason: .local) }
        serverChannel?.close()
    }

    // MARK: Mapping

    static func describe(_ packet: PacketEvent, pieceCount: Int) -> ClientEvent.Message {
        switch packet.packet {
        case .handshake(let handshake):
            return .handshake(
                reserved: handshake.reserved.bytes, infoHash: handshake.infoHash, peerID: handshake.peerID.bytes)
        case .message(let message):
            switch message {
            case .keepAlive: return .keepalive
            case .choke: return .choke
            case .unchoke: return .unchoke
            case .interested: return .interested
            case .notInterested: return .notInterested
            case .have(let piece): return .have(index: piece)
            case .bitfield(let bits):
                return .bitfield(Bitfield(bytes: bits.readableBytesView, count: pieceCount) ?? Bitfield(count: 0))
            case .request(let r): return .request(index: r.piece, offset: r.offset, length: r.length)
            case .piece(let b): return .block(index: b.piece, offset: b.offset, length: b.data.readableBytes)
            case .cancel(let r): return .cancel(index: r.piece, offset: r.offset, length: r.length)
            case .port(let port): return .port(port)
            case .suggest(let piece): return .suggest(index: piece)
            case .haveAll: return .haveAll
            case .haveNone: return .haveNone
            case .reject(let r): return .reject(index: r.piece, offset: r.offset, length: r.length)
            case .allowedFast(let piece): return .allowedFast(index: piece)
            case .extended(let m): return .extended(id: m.id, payload: Array(m.payload.readableBytesView))
            case .hashRequest, .hashes, .hashReject, .unknown:
                return .extended(id: 0xff, payload: [])
            }
        }
    }
}

/// Incoming connections before their handshake chose a torrent: the driver asks the core.
extension ClientCore: PeerChannelDelegate {
    func peerChannel(_ handler: PeerChannelHandler, route handshake: Handshake) -> PeerChannelRoute {
        route(handler, handshake: handshake)
    }

    func peerChannel(_ handler: PeerChannelHandler, closedBeforeHandshake reason: DisconnectReason) {
        handshakeEnded(from: IPAddress(handler.channel?.remoteAddress?.ipAddress ?? "") ?? .v4(0))
        if let channel = handler.channel { incomingRefused(channel, reason: reason) }
    }

    func peerChannel(_ handler: PeerChannelHandler, didEmit action: PeerAction) {}
}
