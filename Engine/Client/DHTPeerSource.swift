import BTDHT
import BTMetainfo
import BTWire
import Foundation
import NIOCore
import NIOPosix

/// Peers from the DHT (BEP 5): the client's node (BTDHT's ``DHTService``), bootstrapped when the client starts.
/// When the client listens for uTP (``UTPTransport``, or ``FallbackTransport``'s uTP side) the node shares
/// that UDP socket, as libtorrent's does: its handler goes after uTP's, which passes on every datagram that is
/// not uTP, and before the ``UDPUnclaimedDatagrams`` that drops and counts what neither took. Otherwise (TCP
/// only) it binds a socket of its own on the listen port's number. Every torrent that is not private (BEP 27)
/// and whose ``TorrentLimits/usesDHT`` is on is looked up and announced (our listen port) every
/// ``DHTSettings/announceInterval`` (a magnet link's too while it fetches its metadata: a trackerless magnet
/// finds its peers here), a downloading torrent that found nobody again after a minute; peers found are
/// dialled at once, tagged ``PeerSource/dht``.
/// Handshakes carry the DHT bit, a peer that has it gets our `port` message, and a peer's `port` message
/// adds its node (a `ping`). The routing table is saved at shutdown when ``DHTSettings/statePath`` is set.
final class DHTPeerSource: EngineComponent, @unchecked Sendable {
    unowned let core: ClientCore
    /// The node, once its socket is bound (nil without ``ClientConfiguration/dht``).
    var service: DHTService?
    /// The bootstrap lookup has ended (lookups of torrents wait for it).
    var bootstrapped = false
    /// Torrents whose lookup is running, by wire info-hash.
    var running: Set<[UInt8]> = []
    /// Peers found so far (all torrents; for status and tests).
    private(set) var peersFound = 0

    init(core: ClientCore) { self.core = core }

    /// Whether the DHT is in use (its bit goes into our handshakes).
    var isEnabled: Bool { core.configuration.dht != nil }

    /// Binds the node's socket and starts it (off the loop, from `Client.init`); the bootstrap runs in the
    /// background and lets lookups start when it ends.
    static func start(
        _ settings: DHTSettings, core: ClientCore, host: String, port: Int
    ) async throws -> DHTService {
        let loop = core.loop
        var state: DHTState?
        if let path = settings.statePath, let data = FileManager.default.contents(atPath: path) {
            state = try? DHTState(decoding: Array(data))
        }
        let service: DHTService
        if settings.makeChannel == nil, let shared = sharedChannel(of: core.configuration.transport) {
            service = try await share(shared, configuration: settings.node, state: state)
        } else {
            let channel = try await bind(settings, loop: loop, host: host, port: port)
            service = try await DHTService.start(on: channel, configuration: settings.node, state: state)
        }
        try await loop.submit { core.dht.service = service }.get()
        // No SO_REUSEADDR: a uTP transport may hold the listen port's UDP socket, and two sockets on one
        // port would split its datagrams between them. Then the node takes any port (it tells peers its
        // port in the `port` message, and announces the TCP port).
        let logger = core.configuration.logger
        Task {
            let nodes = await Self.endpoints(settings.bootstrapNodes)
            let routers = await Self.endpoints(settings.routers)
            let result = try? await service.bootstrap(nodes: nodes, routers: routers)
            logger.info("DHT bootstrapped: \(result?.closest.count ?? 0) nodes answered")
            loop.execute {
                core.dht.bootstrapped = true
                for session in core.torrents.values { core.dht.lookUpIfDue(session, now: loop.now) }
            }
        }
        return service
    }

    /// The UDP socket the transport listens for uTP on, if it does (the DHT shares it).
    static func sharedChannel(of transport: any PeerTransport) -> (any Channel)? {
        if let utp = transport as? UTPTransport { return utp.listeningChannel }
        if let fallback = transport as? FallbackTransport { return fallback.utp.listeningChannel }
        return nil
    }

    /// Runs the node on the uTP socket `channel`: its handler goes right before the socket's
    /// ``UDPUnclaimedDatagrams``, after uTP's handlers.
    static func share(
        _ channel: any Channel, configuration: DHTConfiguration, state: DHTState?
    ) async throws -> DHTService {
        let loop = channel.eventLoop
        let handler = try await loop.submit {
            let handler = DHTSocketHandler(configuration: configuration, state: state)
            let pipeline = channel.pipeline.syncOperations
            let last = try pipeline.handler(type: UDPUnclaimedDatagrams.self)
            try pipeline.addHandler(handler, position: .before(last))
            return NIOLoopBound(handler, eventLoop: loop)
        }.get()
        return DHTService(channel: channel, handler: handler)
    }

    /// A socket of the node's own: ``DHTSettings/makeChannel``'s, else one bound to `host`:`port`, else to any
    /// port.
    static func bind(_ settings: DHTSettings, loop: any EventLoop, host: String, port: Int) async throws -> any Channel
    {
        if let make = settings.makeChannel { return try await make(loop, host, port) }
        // No SO_REUSEADDR: two sockets on one port would split its datagrams between them. When the port is
        // taken the node takes any port (it tells peers its port in the `port` message, and announces the
        // listen port).
        let bootstrap = DatagramBootstrap(group: loop)
        do {
            return try await bootstrap.bind(host: host, port: port).get()
        } catch {
            return try await bootstrap.bind(host: host, port: 0).get()
        }
    }

    /// `host:port` (or `[v6]:port`) texts as endpoints, read by BTMetainfo's ``HostAndPort`` (texts it refuses
    /// are skipped); names are resolved (the system's resolver, off the loop).
    static func endpoints(_ texts: [String]) async -> [DHTEndpoint] {
        var result: [DHTEndpoint] = []
        for text in texts {
            guard case .success(let parsed) = HostAndPort.parse(text), let port = UInt16(exactly: parsed.port) else {
                continue
            }
            let host = parsed.host
            if let endpoint = DHTEndpoint(host, port: port) {
                result.append(endpoint)
            } else if let address = try? SocketAddress.makeAddressResolvingHost(host, port: Int(port)),
                let endpoint = DHTEndpoint(address)
            {
                result.append(endpoint)
            }
        }
        return result
    }

    /// Starts `session`'s lookup and announce when it is due (from the tick, and when the bootstrap ends).
    func lookUpIfDue(_ session: TorrentSession, now: NIODeadline) {
        guard let service, bootstrapped, let settings = configuration.dht, !session.torrent.isPrivate,
            session.limits.usesDHT,
            session.state == .downloading || session.state == .seeding || session.state == .fetchingMetadata,
            now >= session.nextDHTLookup
        else { return }
        let key = session.handle.wireInfoHash
        guard !running.contains(key), let target = NodeID(bytes: key) else { return }
        running.insert(key)
        session.nextDHTLookup = now + TimeAmount(settings.announceInterval)
        let announce = DHTAnnounce(port: UInt16(clamping: core.connections.listenPort), seed: session.isComplete)
        let loop = self.loop
        let source = self
        Task {
            var found = 0
            do {
                for try await batch in service.peers(of: target, announce: announce) {
                    found += batch.count
                    loop.execute { source.found(batch, for: session) }
                }
            } catch {}
            let total = found
            loop.execute { source.lookupEnded(session, found: total) }
        }
    }

    private func found(_ peers: [DHTEndpoint], for session: TorrentSession) {
        guard core.torrents[session.handle.wireInfoHash] === session else { return }
        peersFound += peers.count
        for peer in peers {
            core.connections.addPeer(host: peer.ip.description, port: Int(peer.port), source: .dht, to: session)
        }
    }

    private func lookupEnded(_ session: TorrentSession, found: Int) {
        running.remove(session.handle.wireInfoHash)
        // A download that found nobody asks again soon rather than in a quarter of an hour.
        if found == 0 && (session.state == .downloading || session.state == .fetchingMetadata) {
            session.nextDHTLookup = min(session.nextDHTLookup, loop.now + .seconds(60))
        }
    }

    /// A peer sent its DHT port (BEP 5 `port`): its node is pinged, and joins the table if it answers.
    func peerAnnouncedNode(_ connection: PeerConnection, port: UInt16) {
        guard let service, port > 0 else { return }
        service.ping(PeerEndpoint(address: connection.endpoint.address, port: port))
    }

    /// Our `port` message for a peer whose handshake has the DHT bit (sent once connected).
    func portMessage(for connection: PeerConnection) -> PeerAction? {
        guard let service, connection.machine?.reservedBytes?[.dht] == true,
            let port = service.channel.localAddress?.port, let port16 = UInt16(exactly: port)
        else { return nil }
        return .send(.port(port16))
    }

    /// Saves the routing table (when a state path is set) and stops the node (at shutdown, off the loop): its
    /// own socket is closed; on the shared uTP socket only its handler is removed (the uTP connections end on
    /// their own, and the listener closes the socket after the last).
    static func stop(_ service: DHTService, settings: DHTSettings) async {
        if let path = settings.statePath, let state = try? await service.state() {
            try? Data(state.encoded()).write(to: URL(fileURLWithPath: path), options: .atomic)
        }
        let channel = service.channel
        let handler = service.handler
        let removed = try? await channel.eventLoop.submit { () -> EventLoopFuture<Void>? in
            let pipeline = channel.pipeline.syncOperations
            guard (try? pipeline.handler(type: UDPUnclaimedDatagrams.self)) != nil else { return nil }
            return pipeline.removeHandler(context: try pipeline.context(handler: handler.value))
        }.get()
        if let removed {
            try? await removed.get()
        } else {
            try? await service.close()
        }
    }
}
