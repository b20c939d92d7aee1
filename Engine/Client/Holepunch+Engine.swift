import BTMetainfo
import BTWire
import NIOCore

/// BEP 55 holepunch (`ut_holepunch`) for torrents that are not private, in its three roles, with BTWire's
/// ``HolepunchMessage`` and ``HolepunchRoles`` for the wire format and the decisions (as libtorrent takes
/// them in `bt_peer_connection::on_holepunch`):
///
/// - **Requester:** a peer learnt through PEX from a peer that speaks `ut_holepunch` (the introducer) and
///   flagged as supporting it cannot be dialled (the dial fails before the handshake: it is behind a NAT or
///   a firewall). We ask the introducer, still connected, for a `rendezvous` with it, once per address.
/// - **Relay:** a peer asks us for a `rendezvous` with a peer we are connected to: we send a `connect` to both,
///   naming each other's listen endpoint, so that both dial at once; or an `error` (not connected, no
///   support, itself). A local and a non-local peer are never bridged.
/// - **Peer:** a relay's `connect` is dialled at once (source ``PeerSource/pex``, as libtorrent adds it), unless
///   it names a local address and the relay is not local, or we are connected to it already.
///
/// Messages that do not decode are ignored, as libtorrent ignores them. Each peer may send
/// ``messagesPerMinute`` holepunch messages a minute; past that they are ignored, and a peer that sends five
/// times as many is disconnected.
final class Holepuncher: EngineComponent, @unchecked Sendable {
    unowned let core: ClientCore
    /// Our id for `ut_holepunch` in the extension handshake.
    static let messageID: UInt8 = 4
    /// Holepunch messages a peer may send in a minute before the rest are ignored.
    static let messagesPerMinute = 20
    /// The most introducers remembered per torrent (addresses learnt through PEX, each with who told us).
    static let maximumIntroductions = 1000

    init(core: ClientCore) { self.core = core }

    /// Whether `session` speaks holepunch: never for a private torrent (its peers come from its trackers).
    func isEnabled(for session: TorrentSession) -> Bool { !session.torrent.isPrivate }

    /// Advertises `ut_holepunch` in the extension handshake of `session`'s connections.
    func configure(_ config: inout PeerConfiguration, for session: TorrentSession) {
        if isEnabled(for: session) {
            config.extensionHandshake.messages[HolepunchMessage.extensionName] = Self.messageID
        }
    }

    /// Whether `connection`'s peer said it speaks `ut_holepunch`.
    func supportsHolepunch(_ connection: PeerConnection) -> Bool {
        (connection.machine?.remoteExtensions?.messages[HolepunchMessage.extensionName] ?? 0) != 0
    }

    // MARK: Requester

    /// A peer that `introducer` told us of through PEX, flagged as speaking holepunch: remembered, so that a
    /// failed dial to it can ask `introducer` for a rendezvous.
    func learnt(_ endpoint: PeerEndpoint, flags: PEXFlags, from introducer: PeerConnection, session: TorrentSession) {
        guard flags.contains(.supportsHolepunch), isEnabled(for: session), supportsHolepunch(introducer) else { return }
        // The first introducer stays while it is connected (it knew the peer first).
        if let known = session.holepunchIntroducers[endpoint] {
            if session.connections[known]?.isActive == true { return }
        } else if session.holepunchIntroducers.count >= Self.maximumIntroductions {
            return
        }
        session.holepunchIntroducers[endpoint] = introducer.key
    }

    /// A dial to `host`:`port` ended before its handshake: if a peer that speaks holepunch introduced it and
    /// is still connected, it is asked for a rendezvous (once per address).
    func dialFailed(host: String, port: Int, session: TorrentSession) {
        guard let address = IPAddress(host), let port = UInt16(exactly: port) else { return }
        let target = PeerEndpoint(address: address, port: port)
        guard let key = session.holepunchIntroducers.removeValue(forKey: target),
            let introducer = session.connections[key], introducer.isActive, supportsHolepunch(introducer)
        else { return }
        configuration.logger.info(
            "\(target) cannot be dialled: asking \(introducer.endpoint) for a holepunch rendezvous")
        send(.rendezvous(target), to: introducer)
    }

    // MARK: Relay and peer

    /// A `ut_holepunch` message from `connection`'s peer.
    func received(_ payload: ByteBuffer, from connection: PeerConnection) {
        guard let session = connection.session, isEnabled(for: session) else { return }
        let now = loop.now
        if now - connection.holepunchWindowStart >= .minutes(1) {
            connection.holepunchWindowStart = now
            connection.holepunchMessages = 0
        }
        connection.holepunchMessages += 1
        if connection.holepunchMessages > 5 * Self.messagesPerMinute {
            core.connections.disconnect(
                connection, .protocolViolation,
                detail: "more than \(5 * Self.messagesPerMinute) holepunch messages a minute")
            return
        }
        guard connection.holepunchMessages <= Self.messagesPerMinute else { return }
        guard let message = try? HolepunchMessage(decoding: Array(payload.readableBytesView)) else {
            configuration.logger.debug("\(connection.endpoint) sent a holepunch message that does not decode")
            return
        }
        switch message.kind {
        case .rendezvous: relay(message.endpoint, for: connection, session: session)
        case .connect: connect(message, from: connection, session: session)
        case .error:
            configuration.logger.info(
                "\(connection.endpoint) cannot introduce us to \(message.endpoint): \(message.error.map { "\($0)" } ?? "?")"
            )
        }
    }

    /// The connection of `session` whose peer listens at `endpoint`, if any.
    private func connection(listeningAt endpoint: PeerEndpoint, session: TorrentSession) -> PeerConnection? {
        session.connections.values.first { $0.isActive && core.pex.listenEndpoint(of: $0) == endpoint }
    }

    private func relay(_ target: PeerEndpoint, for requester: PeerConnection, session: TorrentSession) {
        let from = core.pex.listenEndpoint(of: requester) ?? requester.endpoint
        let found = connection(listeningAt: target, session: session)
        let state: HolepunchRoles.Target =
            found.map { .connected(supportsHolepunch: supportsHolepunch($0)) } ?? .notConnected
        switch HolepunchRoles.relay(rendezvous: target, from: from, target: state) {
        case .introduce(let toRequester, let toTarget):
            guard let found else { return }
            configuration.logger.info("introducing \(from) and \(target) to each other (holepunch)")
            send(toRequester, to: requester)
            send(toTarget, to: found)
        case .refuse(let error):
            send(error, to: requester)
        case .ignore:
            return
        }
    }

    private func connect(_ message: HolepunchMessage, from relay: PeerConnection, session: TorrentSession) {
        guard let endpoint = HolepunchRoles.endpointToDial(for: message, from: relay.endpoint.address) else { return }
        let address = "\(endpoint.address):\(endpoint.port)"
        guard connection(listeningAt: endpoint, session: session) == nil, !session.dialled.contains(address),
            session.state != .paused, session.state != .checking, session.state != .failed
        else { return }
        configuration.logger.info("\(relay.endpoint) asks us to connect to \(endpoint) (holepunch)")
        core.connections.dial(host: "\(endpoint.address)", port: Int(endpoint.port), source: .pex, session: session)
    }

    private func send(_ message: HolepunchMessage, to connection: PeerConnection) {
        let payload = ExtensionPayload.other(
            name: HolepunchMessage.extensionName, payload: ByteBuffer(bytes: message.encoded()))
        let now = loop.now
        guard let actions = connection.withMachine({ $0.sendExtension(payload, now: now) }) else { return }
        core.perform(actions, on: connection, refill: false)
    }
}
