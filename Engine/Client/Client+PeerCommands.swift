import BTMetainfo
import BTWire
import NIOCore

/// Commands on one peer of a torrent, the seed 001 peer methods (`choke`, `unchoke`, `send_suggest`,
/// `send_allowed_fast`, `adjust_reputation`, `disconnect`). A peer is named by its endpoint as
/// ``PeerStatus/endpoint`` reports it.
extension Client {
    /// What to do to one peer.
    public enum PeerCommand: Hashable, Sendable {
        /// Choke the peer now (the choker may unchoke it again at its next round, every 10 s).
        case choke
        /// Unchoke the peer now (the choker may choke it again at its next round).
        case unchoke
        /// Suggest a piece we have (BEP 6; only to a peer with the fast extension).
        case suggest(piece: Int)
        /// Let the peer request a piece while choked (BEP 6 `allowed fast`; only with the fast extension).
        case allowFast(piece: Int)
        /// Disconnect the peer with reason `DisconnectReason.local`.
        case disconnect
    }

    /// Applies `command` to every connection of `handle` at `peer` (normally one).
    /// - Throws: ``EngineError`` ``EngineError/Code/unknownTorrent`` when the torrent is not in the client,
    ///   ``EngineError/Code/unknownPeer`` when no connection of it is at `peer`.
    public func send(_ command: PeerCommand, to peer: PeerEndpoint, of handle: TorrentHandle)
        async throws(EngineError)
    {
        try await onLoop { core throws(EngineError) in
            let session = try core.requireSession(handle)
            let matching = session.connections.values.filter { $0.endpoint == peer && !$0.isClosed }
            guard !matching.isEmpty else { throw EngineError(.unknownPeer, "no connection to \(peer)") }
            for connection in matching { core.apply(command, to: connection) }
        }
    }

    /// Changes the reputation of `address` by `delta` (seed 001 `adjust_reputation`): the client keeps one
    /// score per address (start 100, +1 per verified piece, -20 per corrupt one); at 50 or below the address
    /// is blacklisted and its connections are closed with `DisconnectReason.reputation`. Returns the new
    /// score.
    @discardableResult
    public func adjustReputation(of address: IPAddress, by delta: Int) async -> Int {
        (try? await onLoop { core in core.adjustReputation(of: address, by: delta) }) ?? 0
    }

    /// Replaces the IP filter while the client runs (the seed's `ip_filter` hook): it decides every
    /// connection accepted or dialled from now on, before an accepted peer's handshake is read; established
    /// connections it now blocks are closed with `DisconnectReason/ipFiltered`. Returns how many were.
    @discardableResult
    public func setIPFilter(_ filter: IPFilter) async -> Int {
        (try? await onLoop { core in core.setIPFilter(filter) }) ?? 0
    }
}

extension ClientCore {
    func setIPFilter(_ filter: IPFilter) -> Int {
        connections.ipFilter = filter
        let blocked = connections.byKey.values.filter { !$0.isClosed && !filter.allows($0.endpoint) }
        for connection in blocked {
            events.emit(.ipFilter(connection.endpoint, allowed: false))
            connections.disconnect(connection, .ipFiltered, detail: "blocked by the new IP filter")
        }
        return blocked.count
    }

    func apply(_ command: Client.PeerCommand, to connection: PeerConnection) {
        let now = loop.now
        let actions: [PeerAction]?
        switch command {
        case .choke: actions = connection.withMachine { $0.choke(now: now) }
        case .unchoke: actions = connection.withMachine { $0.unchoke(now: now) }
        case .suggest(let piece): actions = connection.withMachine { $0.suggest(piece: piece, now: now) }
        case .allowFast(let piece): actions = connection.withMachine { $0.allowFast(piece: piece, now: now) }
        case .disconnect:
            connections.disconnect(connection, .local, detail: "disconnected by the user")
            return
        }
        if let actions { perform(actions, on: connection) }
    }

    func adjustReputation(of address: IPAddress, by delta: Int) -> Int {
        let update = ledger.adjust(address.unmapped, by: delta)
        if update.newlyBlacklisted.contains(address.unmapped) {
            for connection in Array(connections.byKey.values)
            where connection.endpoint.address.unmapped == address.unmapped {
                connections.disconnect(connection, .reputation, detail: "reputation adjusted by \(delta)")
            }
        }
        return ledger.score(of: address.unmapped)
    }
}
