import BTMSE
import BTMetainfo
import BTStorage
import BTTracker
import BTWire
import Foundation
import NIOCore
import NIOPosix

/// Dialling and closing peer connections: the IP filter, connection limits, redials and the transport. It owns
/// every connection of the client and the dials waiting for a free slot (``IncomingConnections`` accepts and
/// routes incoming ones, then hands them over).
final class ConnectionManager: EngineComponent, @unchecked Sendable {
    unowned let core: ClientCore
    /// Every connection, established or dialling, by key.
    var byKey: [UInt64: PeerConnection] = [:]
    /// The key of the next connection.
    var nextKey: UInt64 = 1
    /// Connection slots: the client-wide and per-torrent maxima and the half-open limit.
    var limiter: ConnectionLimiter<[UInt8], UInt64>
    /// Dials waiting for a half-open slot.
    var dialQueue: [UInt64: (session: TorrentSession, connection: PeerConnection)] = [:]
    /// The port the client listens on.
    var listenPort = 0
    /// The address the client is bound to.
    var listenHost = ""
    /// The transport's listener.
    var listener: (any PeerListener)?
    /// Requested bytes still owed by a peer above which its socket's receive watermark is raised (see
    /// ConnectionManager+ReceiveWatermark.swift; a test lowers it).
    var streamingInFlightBytes = ConnectionManager.defaultStreamingInFlightBytes
    /// Times a tick lowered a silent peer's raised receive watermark (a test reads it).
    var relaxedReceiveWatermarks = 0
    /// Which idle connections make room for new peers.
    let turnover: PeerTurnover<UInt64>
    /// The IP filter in force: ``ClientConfiguration/ipFilter`` until ``Client/setIPFilter(_:)`` replaces it.
    var ipFilter: IPFilter

    init(core: ClientCore) {
        self.core = core
        let configuration = core.configuration
        var limits = ConnectionLimiter<[UInt8], UInt64>.Configuration()
        limits.maximumConnections = configuration.maximumConnections
        limits.maximumPerTorrent = configuration.maximumPeersPerTorrent
        limits.maximumHalfOpen = configuration.maximumHalfOpen
        limits.maximumQueued = configuration.maximumQueuedConnections
        self.limiter = ConnectionLimiter(configuration: limits)
        self.turnover = PeerTurnover(configuration: configuration.peerTurnover)
        self.ipFilter = configuration.ipFilter
    }

    /// The key of a new connection.
    func makeKey() -> UInt64 {
        defer { nextKey += 1 }
        return nextKey
    }

    /// Takes `connection` of `session` into the client's connections (a dial starting, or an incoming
    /// connection that ``IncomingConnections`` routed to `session`).
    func adopt(_ connection: PeerConnection, of session: TorrentSession) {
        byKey[connection.key] = connection
        session.connections[connection.key] = connection
        session.peerAddresses[connection.key] = connection.endpoint.address.unmapped
    }

    /// Wire settings of a connection of `session`. The request pipeline may grow to 1,000 blocks (16 MiB)
    /// instead of the state machine's 250 and starts at 16: on a fast link the time a request waits is set by
    /// the seed's disk and send queue, not the round trip, and 4 MiB in flight capped a loopback download near
    /// 200 MB/s.
    /// `remote`: the peer's address when known; an IPv4 one (or IPv4-mapped) gives the machine its `yourip`
    /// and allowed-fast set.
    /// `byV2Identity`: the connection names a hybrid's truncated v2 info-hash (see ``dialsByV2Identity``).
    func peerConfiguration(
        _ session: TorrentSession, remote: IPAddress? = nil, byV2Identity: Bool = false
    ) -> PeerConfiguration {
        var config = PeerConfiguration(
            torrent: session.torrent, localPeerID: core.peerID, localPieces: session.picker.have)
        if let v1 = session.knownInfoHashes.v1, let v2 = session.knownInfoHashes.v2Truncated {
            config.infoHash = byV2Identity ? v2 : v1
            config.alternateInfoHash = byV2Identity ? v1 : v2
        }
        if let remote = remote?.unmapped, case .v4 = remote { config.remoteIPv4 = remote.bytes }
        config.wantedPieces = session.wantedPiecesForInterest
        config.emitsPacketEvents = configuration.reportsPacketEvents  // for observers only
        config.maxServingQueue = configuration.maximumQueuedRequestsPerPeer
        config.maxPipelineDepth = 1000
        config.initialPipelineDepth = 16
        if core.dht.isEnabled { config.localReserved[.dht] = true }
        if core.pex.isEnabled(for: session) { config.extensionHandshake.messages[ExtensionHandshake.Name.pex] = 1 }
        core.holepunch.configure(&config, for: session)
        core.metadata.configure(&config, for: session)
        core.superSeeds.configure(&config, for: session)
        if listenPort > 0 { config.extensionHandshake.listenPort = UInt16(clamping: listenPort) }
        if (session.limits.encryption ?? core.encryption) != .none {
            config.extensionHandshake.prefersEncryption = true
        }
        return config
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
            session.connections.count + dialQueueCount(session) < core.maximumPeers(session)
        {
            let candidate = session.candidates.removeFirst()
            dial(host: candidate.host, port: candidate.port, source: candidate.source, session: session)
        }
    }

    func dialQueueCount(_ session: TorrentSession) -> Int {
        dialQueue.values.filter { $0.session === session }.count
    }

    func dial(host: String, port: Int, source: PeerSource, session: TorrentSession) {
        guard let address = IPAddress(host) else {
            // Names are resolved by the bootstrap; the filter sees the address once connected.
            connectOutgoing(host: host, port: port, address: nil, source: source, session: session)
            return
        }
        let endpoint = PeerEndpoint(address: address, port: UInt16(port))
        let allowed = ipFilter.allows(endpoint) && !core.ledger.isBlacklisted(address.unmapped)
        events.emit(.ipFilter(endpoint, allowed: allowed))
        guard allowed else { return }
        connectOutgoing(host: host, port: port, address: address, source: source, session: session)
    }

    func connectOutgoing(
        host: String, port: Int, address: IPAddress?, source: PeerSource, session: TorrentSession
    ) {
        let key = makeKey()
        let now = loop.now
        let endpoint = PeerEndpoint(address: address ?? .v4(0), port: UInt16(port))
        let asV2 = dialsByV2Identity(host: host, port: port, session: session)
        let config = peerConfiguration(session, remote: address, byV2Identity: asV2)
        let connection = PeerConnection(
            key: key, core: core, endpoint: endpoint, host: host, port: port, incoming: false, now: now,
            machine: PeerStateMachine(configuration: config, incoming: false, source: source, now: now))
        connection.session = session
        connection.dialledAsV2 = asV2
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

    /// Whether a peer of `session` is dialled by the torrent's truncated v2 info-hash rather than its v1 one:
    /// a hybrid that still fetches its metadata or its piece layers, over MSE, to a peer that has not refused
    /// that identity before. Over MSE the stream is keyed by the hash we name, so libtorrent 2.0 cannot
    /// upgrade a v1 connection to v2 as it does in plaintext (BEP 52's upgrade bit); dialled by the v2 hash it
    /// finds the torrent by `SHA1('req2', truncated v2 hash)` and treats the connection as a v2 one, which is
    /// the only kind it answers hash requests on. A peer that knows the torrent by its v1 hash only (it closes
    /// during the MSE handshake) is redialled at once by the v1 hash (see `finishClose`).
    func dialsByV2Identity(host: String, port: Int, session: TorrentSession) -> Bool {
        guard session.metadata != nil, session.knownInfoHashes.v1 != nil, session.knownInfoHashes.v2 != nil
        else { return false }
        let address = "\(host):\(port)"
        return dialsWithMSE(address, session: session) && !session.v1IdentityPeers.contains(address)
    }

    /// Whether `address` (`host:port`) is dialled with MSE for `session`: its policy (or the client's) is not
    /// plaintext and the address has not refused MSE before (a plaintext redial).
    func dialsWithMSE(_ address: String, session: TorrentSession) -> Bool {
        (session.limits.encryption ?? core.encryption) != .none && !session.plaintextPeers.contains(address)
    }

    func startDial(_ connection: PeerConnection, session: TorrentSession) {
        let now = loop.now
        guard connection.withMachine({ _ = $0.startConnecting(now: now) }) != nil else { return }
        adopt(connection, of: session)
        let manager = self
        // MSE in front of the wire unless the policy is plaintext or this is a plaintext redial.
        let address = "\(connection.host):\(connection.port)"
        let policy = session.limits.encryption ?? core.encryption
        let encrypt = dialsWithMSE(address, session: session)
        connection.plaintextOnly = !encrypt
        let skey =
            connection.dialledAsV2
            ? session.knownInfoHashes.v2Truncated ?? session.handle.wireInfoHash : session.handle.wireInfoHash
        configuration.transport.connect(
            host: connection.host, port: connection.port, from: listenHost, loop: loop, timeout: .seconds(10),
            initializer: { channel in
                channel.eventLoop.makeCompletedFuture {
                    if encrypt {
                        let mse = MSEChannelHandler.initiator(skey: skey, policy: policy) { result in
                            switch result {
                            case .success(let outcome): connection.isEncrypted = outcome.isEncrypted
                            case .failure: connection.encryptionFailed = true
                            }
                        }
                        try channel.pipeline.syncOperations.addHandler(mse)
                    }
                    try channel.pipeline.syncOperations.addHandler(connection.makeDriver())
                }
            }
        )
        .whenComplete { result in
            manager.loop.preconditionInEventLoop()
            switch result {
            case .success(let channel):
                manager.dialSucceeded(connection, channel: channel)
            case .failure(let error):
                manager.dialFailed(connection, error: error)
            }
        }
    }

    func dialSucceeded(_ connection: PeerConnection, channel: any Channel) {
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
        let allowed = ipFilter.allows(connection.endpoint) && !core.ledger.isBlacklisted(address.unmapped)
        events.emit(.ipFilter(connection.endpoint, allowed: allowed))
        guard allowed else {
            finishClose(connection, reason: core.ledger.isBlacklisted(address.unmapped) ? .blacklisted : .ipFiltered)
            return false
        }
        return true
    }

    func dialFailed(_ connection: PeerConnection, error: any Error) {
        finishClose(connection, reason: .ioError)
    }

    func startQueuedDial(_ key: UInt64) {
        guard let entry = dialQueue.removeValue(forKey: key) else { return }
        if !core.isShutDown, core.torrents[entry.session.handle.wireInfoHash] === entry.session,
            entry.session.state != .paused
        {
            startDial(entry.connection, session: entry.session)
        } else {
            for next in limiter.closed(key) { startQueuedDial(next) }
        }
    }
}
