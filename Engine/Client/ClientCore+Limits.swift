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
        connections.limiter.setMaximum(session.limits.maximumPeers, for: key)
        let maximum = maximumPeers(session)
        let excess = session.connections.values.sorted { $0.key > $1.key }.prefix(
            max(0, session.connections.count - maximum))
        for connection in excess {
            connections.disconnect(connection, .tooMany, detail: "the torrent's peer maximum is \(maximum)")
        }
        grant(rates.advance(to: now))
        superSeeds.apply(session)
        if session.state == .downloading || session.state == .seeding { connections.dialCandidates(session) }
    }

    /// Hands out tokens the rate limiter granted: upload tokens release blocks waiting to be read, download
    /// tokens pay off the debt that holds back requests (a web seed's debt holds back its next GET).
    func grant(_ grants: [RateLimiter<[UInt8], UInt64>.Grant]) {
        for grant in grants {
            if grant.peer >= WebSeedSource.firstKey {
                webSeeds.granted(grant.bytes, to: grant.peer)
                continue
            }
            guard let connection = connections.byKey[grant.peer], connection.session != nil else { continue }
            switch grant.direction {
            case .upload:
                uploads.uploadTokensGranted(grant.bytes, to: connection)
            case .download:
                connection.downloadDebt -= grant.bytes
                if connection.downloadDebt <= 0 { downloads.fillRequests(connection) }
            }
        }
    }
}
