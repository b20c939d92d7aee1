import BTMSE
import BTMetainfo
import BTStorage
import BTTracker
import BTWire
import Foundation
import NIOCore
import NIOPosix

/// Accepting connections: the IP filter and limits before the handshake, then routing by info-hash.
extension ConnectionManager {

    /// Makes the driver of an accepted channel, or refuses it at once (the `ipFilter` decides here, before
    /// the peer's handshake is read, and too many connections waiting for their handshake are refused).
    func acceptChannel(_ channel: any Channel) -> PeerChannelHandler? {
        let endpoint = Self.endpoint(of: channel)
        let refusal: DisconnectReason?
        if core.isShutDown {
            refusal = .local
        } else if core.ledger.isBlacklisted(endpoint.address.unmapped) {
            refusal = .blacklisted
        } else if !ipFilter.allows(endpoint) {
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
        return byKey.values.reduce(handshakingAddresses[unmapped] ?? 0) {
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
            info.torrent = core.torrents[handshake.infoHash]?.info
            events.emit(.peerDisconnect(info, reason: reason))
            metrics.disconnected(reason)
            return .refuse(reason)
        }
        guard !core.isShutDown else { return refuse(.local) }
        let encryption = Self.encryption(of: handler.channel)
        if let skey = encryption?.skey, skey != handshake.infoHash { return refuse(.handshakeInfoHashMismatch) }
        // A hybrid torrent is also named by its truncated v2 hash (a peer that speaks v2 may dial with it).
        let named =
            core.torrents[handshake.infoHash]
            ?? core.torrents.values.first {
                $0.handle.infoHashes.v1 != nil && $0.handle.infoHashes.v2Truncated == handshake.infoHash
            }
        guard let session = named, session.state != .paused, session.state != .failed else {
            return refuse(.noSuchTorrent)
        }
        if session.state == .checking { return refuse(.hashChecking) }
        // The torrent's policy (its own, else the client's) over the listener's: RC4 only, or no MSE at all.
        switch session.limits.encryption ?? configuration.encryption {
        case .required where encryption?.isEncrypted != true: return refuse(.mseSyncFailure)
        case .none where encryption?.skey != nil: return refuse(.mseSyncFailure)
        default: break
        }
        if case .refuse(let reason) = limiter.acceptIncoming(key, torrent: session.handle.wireInfoHash) {
            // Full: an idle connection, or one of lower BEP 40 priority, makes room for the newcomer (peer
            // turnover), or the newcomer is refused.
            guard reason == .tooMany,
                makeRoom(for: session, newcomerPriority: Self.priority(of: endpoint, over: handler.channel)),
                case .accept = limiter.acceptIncoming(key, torrent: session.handle.wireInfoHash)
            else { return refuse(reason) }
        }
        let config = peerConfiguration(session, remote: address)
        let connection = PeerConnection(
            key: key, core: core, endpoint: endpoint, host: host, port: port, incoming: true, now: now)
        connection.session = session
        connection.isEncrypted = encryption?.isEncrypted ?? false
        connection.driver = handler
        handler.delegate = connection
        byKey[key] = connection
        session.connections[key] = connection
        session.peerAddresses[key] = address.unmapped
        return .accept(PeerStateMachine(configuration: config, incoming: true, source: .incoming, now: now))
    }

    /// How MSE settled `channel`'s stream (nil: no MSE handler, or not settled).
    static func encryption(of channel: (any Channel)?) -> MSEChannelOutcome? {
        guard let mse = try? channel?.pipeline.syncOperations.handler(type: MSEChannelHandler.self),
            case .success(let outcome) = mse.result
        else { return nil }
        return outcome
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
        var config = PeerConfiguration(
            torrent: session.torrent, localPeerID: core.peerID, localPieces: session.picker.have)
        if let remote = remote?.unmapped, case .v4 = remote { config.remoteIPv4 = remote.bytes }
        config.wantedPieces = session.wantedPiecesForInterest
        config.emitsPacketEvents = configuration.reportsPacketEvents  // for observers only
        config.maxServingQueue = configuration.maximumQueuedRequestsPerPeer
        config.maxPipelineDepth = 1000
        config.initialPipelineDepth = 16
        if core.dht.isEnabled { config.localReserved[.dht] = true }
        if core.pex.isEnabled(for: session) { config.extensionHandshake.messages[ExtensionHandshake.Name.pex] = 1 }
        core.metadata.configure(&config, for: session)
        core.superSeeds.configure(&config, for: session)
        if listenPort > 0 { config.extensionHandshake.listenPort = UInt16(clamping: listenPort) }
        if (session.limits.encryption ?? configuration.encryption) != .none {
            config.extensionHandshake.prefersEncryption = true
        }
        return config
    }
}

/// Incoming connections before their handshake chose a torrent: the driver asks the connection manager.
extension ConnectionManager: PeerChannelDelegate {
    func peerChannel(_ handler: PeerChannelHandler, route handshake: Handshake) -> PeerChannelRoute {
        route(handler, handshake: handshake)
    }

    func peerChannel(_ handler: PeerChannelHandler, closedBeforeHandshake reason: DisconnectReason) {
        handshakeEnded(from: Self.endpoint(of: handler.channel).address)
        // An MSE handshake that failed closed the channel: that is the reason, not the wire's.
        var reason = reason
        if let mse = try? handler.channel?.pipeline.syncOperations.handler(type: MSEChannelHandler.self),
            case .failure = mse.result
        {
            reason = .mseSyncFailure
        }
        if let channel = handler.channel { incomingRefused(channel, reason: reason) }
    }

    func peerChannel(_ handler: PeerChannelHandler, didEmit action: PeerAction) {}
}
