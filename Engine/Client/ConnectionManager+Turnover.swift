import BTMetainfo
import BTWire
import NIOCore

/// Peer turnover (see ``PeerTurnover``): a full torrent, or a full client, drops an idle connection for a
/// newcomer, and every few minutes a torrent near its maximum drops a few of its least useful idle
/// connections, so connections that hold a slot and trade nothing cannot lock working peers out.
extension ConnectionManager {
    /// What turnover needs to know of `session`'s established connections.
    func turnoverSnapshots(_ connections: some Sequence<PeerConnection>) -> [PeerTurnover<UInt64>.PeerSnapshot] {
        connections.compactMap { connection in
            guard connection.isActive, let machine = connection.machine else { return nil }
            let lastPayload = [connection.lastBlockAt, connection.lastUploadAt].compactMap { $0 }.max()
            return PeerTurnover<UInt64>.PeerSnapshot(
                peer: connection.key, connectedAt: core.instant(connection.createdAt),
                lastPayloadAt: lastPayload.map(core.instant), weAreInterested: machine.amInterested,
                peerInterested: machine.peerInterested,
                priority: Self.priority(of: connection.endpoint, over: connection.channel))
        }
    }

    /// The BEP 40 priority of a connection to `remote` over `channel` (our side: the channel's local address;
    /// 0, the lowest, when the channel cannot say).
    static func priority(of remote: PeerEndpoint, over channel: (any Channel)?) -> UInt32 {
        guard let local = channel?.localAddress, let text = local.ipAddress, let address = IPAddress(text) else {
            return 0
        }
        return PeerPriority.of(PeerEndpoint(address: address, port: UInt16(clamping: local.port ?? 0)), remote)
    }

    /// Drops a connection to make room for a new peer of `session` whose BEP 40 priority is
    /// `newcomerPriority`: one of the torrent's own when the torrent is at its maximum, else one of any
    /// torrent (the client is at its maximum). The least useful idle connection goes first (`uselessPeer`),
    /// else the lowest-priority one when the newcomer's is higher (`tooMany`, as libtorrent says it). False
    /// when no connection may be dropped.
    func makeRoom(for session: TorrentSession, newcomerPriority: UInt32?) -> Bool {
        let pool: [PeerConnection] =
            session.connections.count >= core.maximumPeers(session)
            ? Array(session.connections.values) : Array(byKey.values)
        let snapshots = turnoverSnapshots(pool)
        let now = core.instant(loop.now)
        guard let victim = turnover.victimForNewcomer(among: snapshots, newcomerPriority: newcomerPriority, now: now),
            let connection = byKey[victim]
        else { return false }
        if turnover.ranked(snapshots, now: now).first == victim {
            disconnect(connection, .uselessPeer, detail: "idle: dropped to make room for a new peer")
        } else {
            disconnect(connection, .tooMany, detail: "lowest BEP 40 priority: dropped for a newcomer ranked higher")
        }
        return connection.isClosed
    }

    /// The periodic turnover of `session` when it is due (called from the one-second tick).
    func turnOverIfDue(_ session: TorrentSession, now: NIODeadline) {
        guard now >= session.nextTurnover else { return }
        session.nextTurnover = now + TimeAmount(turnover.configuration.interval)
        let victims = turnover.periodicVictims(
            among: turnoverSnapshots(session.connections.values), maximum: core.maximumPeers(session),
            now: core.instant(now))
        for key in victims {
            guard let connection = byKey[key] else { continue }
            disconnect(connection, .uselessPeer, detail: "idle: periodic peer turnover")
        }
        if !victims.isEmpty { dialCandidates(session) }
    }

    /// An outgoing connection of `session` closed, so a dial slot is free: the next candidates are dialled
    /// in the next loop turn rather than at the next one-second tick. Addresses that refuse at once (a lying
    /// tracker's junk) then cost one connect each, and an honest peer listed after 40,000 of them is reached
    /// in seconds, not after 40,000 / ``ClientConfiguration/maximumPeersPerTorrent`` ticks.
    func slotFreed(by connection: PeerConnection, of session: TorrentSession) {
        guard !connection.isIncoming, !core.isShutDown, !session.candidates.isEmpty else { return }
        loop.execute { [self] in
            guard !core.isShutDown, core.torrents[session.handle.wireInfoHash] === session,
                session.state != .paused, session.state != .failed, session.state != .checking
            else { return }
            dialCandidates(session)
        }
    }
}
