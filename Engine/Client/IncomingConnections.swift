import BTMSE
import BTMetainfo
import BTStorage
import BTTracker
import BTWire
import Foundation
import NIOCore
import NIOPosix

/// Accepting connections: the IP filter and limits before the handshake, then routing by info-hash. A routed
/// connection is handed to the ``ConnectionManager``, which owns it from then on.
final class IncomingConnections: EngineComponent, @unchecked Sendable {
    unowned let core: ClientCore
    /// Incoming connections that have not sent their handshake yet (bounded by
    /// ``ClientConfiguration/maximumIncomingHandshakes``).
    var incomingHandshakes = 0
    /// Incoming connections waiting for their handshake, by address (see ``connectionCount(at:)``).
    var handshakingAddresses: [IPAddress: Int] = [:]
    /// How fast each address may open connections to us (nil: no limit; see ``IncomingConnectionRate``).
    var acceptRate: IncomingConnectionRate<IPAddress>?

    init(core: ClientCore) {
        self.core = core
        self.acceptRate = core.configuration.incomingConnectionRate.map { IncomingConnectionRate(configuration: $0) }
    }

    /// Makes the driver of an accepted channel, or refuses it at once (the `ipFilter` decides here, before
    /// the peer's handshake is read; an address past its accept rate, and too many connections waiting for
    /// their handshake, are refused).
    func acceptChannel(_ channel: any Channel) -> PeerChannelHandler? {
        let endpoint = Self.endpoint(of: channel)
        let refusal: DisconnectReason?
        if core.isShutDown {
            refusal = .local
        } else if core.ledger.isBlacklisted(endpoint.address.unmapped) {
            refusal = .blacklisted
        } else if !core.connections.ipFilter.allows(endpoint) {
            refusal = .ipFiltered
        } else if acceptRate?.admit(endpoint.address.unmapped, now: core.instant(loop.now)) == false {
            refusal = .tooMany  // this address opens connections faster than its rate
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
            handshakeTimeout: TimeAmount(configuration.incomingHandshakeTimeout),
            trickledReads: configuration.trickledReads)
    }

    /// Connections at `address`: established or dialling, plus incoming ones waiting for their handshake.
    func connectionCount(at address: IPAddress) -> Int {
        let unmapped = address.unmapped
        return core.connections.byKey.values.reduce(handshakingAddresses[unmapped] ?? 0) {
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
        let manager = core.connections
        let key = manager.makeKey()
        let now = loop.now
        func refuse(_ reason: DisconnectReason) -> PeerChannelRoute {
            var info = ClientEvent.PeerInfo(endpoint: endpoint, isIncoming: true)
            info.peerID = handshake.peerID.bytes
            info.infoHash = handshake.infoHash
            info.torrent = core.session(named: handshake.infoHash)?.info
            events.emit(.peerDisconnect(info, reason: reason))
            metrics.disconnected(reason)
            return .refuse(reason)
        }
        guard !core.isShutDown else { return refuse(.local) }
        let encryption = Self.encryption(of: handler.channel)
        if let skey = encryption?.skey, skey != handshake.infoHash { return refuse(.handshakeInfoHashMismatch) }
        // A hybrid torrent is also named by its truncated v2 hash (a peer that speaks v2 may dial with it).
        guard let session = core.session(named: handshake.infoHash), session.state != .paused,
            session.state != .failed
        else {
            return refuse(.noSuchTorrent)
        }
        if session.state == .checking { return refuse(.hashChecking) }
        // The torrent's policy (its own, else the client's) over the listener's: RC4 only, or no MSE at all.
        switch session.limits.encryption ?? core.encryption {
        case .required where encryption?.isEncrypted != true: return refuse(.mseSyncFailure)
        case .none where encryption?.skey != nil: return refuse(.mseSyncFailure)
        default: break
        }
        if case .refuse(let reason) = manager.limiter.acceptIncoming(key, torrent: session.handle.wireInfoHash) {
            // Full: an idle connection, or one of lower BEP 40 priority, makes room for the newcomer (peer
            // turnover), or the newcomer is refused.
            guard reason == .tooMany,
                manager.makeRoom(
                    for: session, newcomerPriority: ConnectionManager.priority(of: endpoint, over: handler.channel)),
                case .accept = manager.limiter.acceptIncoming(key, torrent: session.handle.wireInfoHash)
            else { return refuse(reason) }
        }
        let config = manager.peerConfiguration(session, remote: address)
        let connection = PeerConnection(
            key: key, core: core, endpoint: endpoint, host: host, port: port, incoming: true, now: now)
        connection.session = session
        connection.isEncrypted = encryption?.isEncrypted ?? false
        connection.driver = handler
        handler.delegate = connection
        manager.adopt(connection, of: session)
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
}

/// Incoming connections before their handshake chose a torrent: the driver asks the connection manager.
extension IncomingConnections: PeerChannelDelegate {
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
