import NIOCore

/// Per-torrent limits: rate limits through the ``RateLimiter``'s torrent buckets, the peer maximum through
/// the ``ConnectionLimiter``.
extension ClientCore {
    /// The most connections `session` may hold.
    func maximumPeers(_ session: TorrentSession) -> Int {
        session.limits.maximumPeers ?? configuration.maximumPeersPerTorrent
    }

    /// Puts `session.limits` in force: sets the torrent's buckets and maximum, closes the newest
    /// connections beyond a lowered maximum and hands out tokens a raised limit frees.
    func applyLimits(_ session: TorrentSession) {
        let key = session.handle.wireInfoHash
        let now = instant(loop.now)
        rates.setTorrentLimit(session.limits.uploadLimit, for: key, direction: .upload, now: now)
        rates.setTorrentLimit(session.limits.downloadLimit, for: key, direction: .download, now: now)
        limiter.setMaximum(session.limits.maximumPeers, for: key)
        let maximum = maximumPeers(session)
        let excess = session.connections.values.sorted { $0.key > $1.key }.prefix(
            max(0, session.connections.count - maximum))
        for connection in excess {
            disconnect(connection, .tooMany, detail: "the torrent's peer maximum is \(maximum)")
        }
        grant(rates.advance(to: now))
        if session.state == .downloading || session.state == .seeding { dialCandidates(session) }
    }
}
