import BTMetainfo
import BTWire
import NIOCore

/// Peer exchange (BEP 11, `ut_pex`) for torrents that are not private (BEP 27): our extension handshake
/// advertises it, a connection whose peer advertises it gets a BTWire ``PeerExchangeState``, every tick
/// that state may send the peer the changes in our connected peers (at most once a minute, 50 added and 50
/// dropped), and peers a peer tells us of are dialled (source ``PeerSource/pex``). A peer that floods us
/// with messages (more than ``maximumViolations`` sooner than BEP 11's minute) is disconnected.
final class PeerExchanger: EngineComponent, @unchecked Sendable {
    unowned let core: ClientCore
    /// Messages that came too soon after the previous one from the same peer before it is disconnected.
    static let maximumViolations = 5

    init(core: ClientCore) { self.core = core }

    /// Whether `session` exchanges peers: never for a private torrent.
    func isEnabled(for session: TorrentSession) -> Bool { !session.torrent.isPrivate }

    /// Where a connection's peer takes connections: the address and port we dialled, or for an incoming
    /// peer the listen port its extension handshake gave (nil when it gave none).
    func listenEndpoint(of connection: PeerConnection) -> PeerEndpoint? {
        guard connection.isIncoming else { return connection.endpoint }
        guard let port = connection.machine?.remoteExtensions?.listenPort, port > 0 else { return nil }
        return PeerEndpoint(address: connection.endpoint.address, port: port)
    }

    /// Our own endpoint, as peers would list us.
    var ownEndpoint: PeerEndpoint? {
        guard let address = IPAddress(core.connections.listenHost), core.connections.listenPort > 0 else { return nil }
        return PeerEndpoint(address: address, port: UInt16(clamping: core.connections.listenPort))
    }

    /// A connection exchanges peers once both sides said they speak `ut_pex` (the peer's extension
    /// handshake may come after the connection is reported, so the tick asks again).
    func connected(_ connection: PeerConnection) {
        guard connection.pex == nil, let session = connection.session, isEnabled(for: session),
            let id = connection.machine?.remoteExtensions?.messages[ExtensionHandshake.Name.pex], id != 0
        else { return }
        var excluded: Set<PeerEndpoint> = []
        if let own = ownEndpoint { excluded.insert(own) }
        if let peer = listenEndpoint(of: connection) { excluded.insert(peer) }
        connection.pex = PeerExchangeState(excluding: excluded)
    }

    /// Sends each connection of `session` its next message when one is due (from the one-second tick).
    func tick(_ session: TorrentSession, now: NIODeadline) {
        guard isEnabled(for: session) else { return }
        for connection in session.connections.values where connection.isActive && connection.pex == nil {
            connected(connection)
        }
        let exchanging = session.connections.values.filter { $0.pex != nil && $0.isActive }
        guard !exchanging.isEmpty else { return }
        var connected: [PeerEndpoint: PEXFlags] = [:]
        for connection in session.connections.values where connection.isActive {
            guard let endpoint = listenEndpoint(of: connection), let machine = connection.machine else { continue }
            var flags: PEXFlags = []
            // BEP 11: 0x02 is "seed or upload only" (BEP 21): a partial seed is flagged too.
            if machine.isUploadOnly { flags.insert(.seed) }
            if connection.isEncrypted || machine.isEncrypted { flags.insert(.prefersEncryption) }
            if !connection.isIncoming { flags.insert(.reachable) }
            if core.holepunch.supportsHolepunch(connection) { flags.insert(.supportsHolepunch) }
            connected[endpoint] = flags
        }
        for connection in exchanging {
            guard let message = connection.pex?.nextMessage(connected: connected, now: now),
                let actions = connection.withMachine({ $0.sendExtension(.pex(message), now: now) })
            else { continue }
            core.perform(actions, on: connection, refill: false)
        }
    }

    /// A `ut_pex` message from `connection`'s peer: its valid new peers become candidates.
    func received(_ message: PEXMessage, from connection: PeerConnection) {
        // libtorrent sends its first message right after its extension handshake, before our next tick.
        if connection.pex == nil { connected(connection) }
        guard let session = connection.session, isEnabled(for: session), connection.pex != nil else { return }
        let learnt = connection.pex!.received(message, now: loop.now)
        configuration.logger.debug(
            "ut_pex received",
            metadata: [
                "peer": "\(connection.endpoint)", "added": "\(learnt.added.count)",
                "dropped": "\(learnt.dropped.count)",
                "ignored": "\(learnt.ignored)", "tooSoon": "\(learnt.cameTooSoon)",
            ])
        if connection.pex!.violations > Self.maximumViolations {
            core.connections.disconnect(
                connection, .protocolViolation, detail: "ut_pex messages more often than once a minute")
            return
        }
        for (endpoint, flags) in learnt.added {
            core.holepunch.learnt(endpoint, flags: flags, from: connection, session: session)
        }
        for endpoint in learnt.dialCandidates(weAreUploadOnly: session.isComplete) {
            core.connections.addPeer(
                host: endpoint.address.description, port: Int(endpoint.port), source: .pex, to: session)
        }
    }
}
