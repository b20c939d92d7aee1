import BTMetainfo
import BTStorage
import BTTracker
import BTWire
import Foundation
import NIOCore
import NIOPosix

/// Dialling, accepting and closing peer connections: the IP filter, connection limits and redials.
extension ClientCore {
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
        let allowed = configuration.ipFilter.allows(endpoint) && !ledger.isBlacklisted(address.unmapped)
        events.emit(.ipFilter(endpoint, allowed: allowed))
        guard allowed else { return }
        connectOutgoing(host: host, port: port, address: address, source: source, session: session)
    }

    func connectOutgoing(
        host: String, port: Int, address: IPAddress?, source: PeerSource, session: TorrentSession
    ) {
        let key = nextKey
        nextKey += 1
        let now = loop.now
        let endpoint = PeerEndpoint(address: address ?? .v4(0), port: UInt16(port))
        let config = peerConfiguration(session, remote: address)
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

    func startDial(_ connection: PeerConnection, session: TorrentSession) {
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
        let allowed = configuration.ipFilter.allows(connection.endpoint) && !ledger.isBlacklisted(address.unmapped)
        events.emit(.ipFilter(connection.endpoint, allowed: allowed))
        guard allowed else {
            finishClose(connection, reason: ledger.isBlacklisted(address.unmapped) ? .blacklisted : .ipFiltered)
            return false
        }
        return true
    }

    func dialFailed(_ connection: PeerConnection, error: any Error) {
        finishClose(connection, reason: .ioError)
    }

    func startQueuedDial(_ key: UInt64) {
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
        let endpoint = Self.endpoint(of: channel)
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
    func handshakeEnded(from address: IPAddress) {
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
        let endpoint = Self.endpoint(of: handler.channel)
        let address = endpoint.address
        let host = handler.channel?.remoteAddress?.ipAddress ?? "0.0.0.0"
        let port = Int(endpoint.port)
        handshakeEnded(from: address)
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
        let config = peerConfiguration(session, remote: address)
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

    /// Where `channel`'s peer is (0.0.0.0:0 when the channel cannot say).
    static func endpoint(of channel: (any Channel)?) -> PeerEndpoint {
        let remote = channel?.remoteAddress
        return PeerEndpoint(
            address: IPAddress(remote?.ipAddress ?? "") ?? .v4(0), port: UInt16(clamping: remote?.port ?? 0))
    }

    /// Reports an incoming connection closed before its handshake named a torrent (`malformedHandshake`,
    /// `handshakeTimeout`, `tooMany`); the caller closes the channel.
    func incomingRefused(_ channel: any Channel, reason: DisconnectReason) {
        let endpoint = Self.endpoint(of: channel)
        events.emit(.peerDisconnect(ClientEvent.PeerInfo(endpoint: endpoint, isIncoming: true), reason: reason))
        metrics.disconnected(reason)
    }

    /// Wire settings of a connection of `session`. The request pipeline may grow to 1,000 blocks (16 MiB)
    /// instead of the state machine's 250 and starts at 16: on a fast link the time a request waits is set by
    /// the seed's disk and send queue, not the round trip, and 4 MiB in flight capped a loopback download near
    /// 200 MB/s.
    /// `remote`: the peer's address when known; an IPv4 one (or IPv4-mapped) gives the machine its `yourip`
    /// and allowed-fast set.
    func peerConfiguration(_ session: TorrentSession, remote: IPAddress? = nil) -> PeerConfiguration {
        var config = PeerConfiguration(torrent: session.torrent, localPeerID: peerID, localPieces: session.picker.have)
        if let remote = remote?.unmapped, case .v4 = remote { config.remoteIPv4 = remote.bytes }
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
}
