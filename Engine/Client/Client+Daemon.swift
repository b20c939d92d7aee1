import BTMetainfo
import BTTracker

/// One tracker of a torrent as its announce schedule sees it (for remote interfaces such as the daemon's
/// Transmission RPC `trackerStats`).
public struct TrackerStatus: Hashable, Sendable {
    /// The announce URL.
    public var url: String
    /// The tier it belongs to (BEP 12), from 0.
    public var tier: Int
    /// Whether `started` was acknowledged by this tracker.
    public var isStarted: Bool
    /// Consecutive failures.
    public var failures: Int
    /// The last failure, cleared by a success.
    public var lastError: String?
    /// Seeders in the last successful response, when it said.
    public var seeders: Int?
    /// Leechers in the last successful response, when it said.
    public var leechers: Int?
    /// Peers in the last successful response.
    public var lastPeerCount: Int?
    /// The warning of the last successful response.
    public var warning: String?
}

extension Client {
    /// Asks every tracker of a torrent for an early announce, within each tier's `min interval` (the
    /// Transmission RPC's `torrent-reannounce`).
    /// - Throws: ``EngineError`` (`unknownTorrent`, `shutDown`).
    public func reannounce(_ handle: TorrentHandle) async throws(EngineError) {
        try await onLoop { core throws(EngineError) in
            let session = try core.requireSession(handle)
            session.schedule?.reannounce(now: core.loop.now)
            core.announcer.announceDue(session, now: core.loop.now)
        }
    }

    /// The pieces of a torrent that are verified, or nil when it is not in the client.
    public func verifiedPieces(of handle: TorrentHandle) async -> Bitfield? {
        guard let store = try? await onLoop({ core in core.session(handle)?.store }) else { return nil }
        return await store.verifiedPieces
    }

    /// The trackers of a torrent with their announce state, tier by tier; empty when it is not in the client
    /// or has no tracker schedule yet.
    public func trackerStatuses(of handle: TorrentHandle) async -> [TrackerStatus] {
        (try? await onLoop { core in
            guard let schedule = core.session(handle)?.schedule else { return [] }
            return schedule.tiers.enumerated().flatMap { tier, trackers in
                trackers.map { tracker in
                    TrackerStatus(
                        url: tracker.url, tier: tier, isStarted: tracker.isStarted, failures: tracker.failures,
                        lastError: tracker.lastError.map { "\($0)" }, seeders: tracker.lastResponse?.complete,
                        leechers: tracker.lastResponse?.incomplete, lastPeerCount: tracker.lastResponse?.peers.count,
                        warning: tracker.lastResponse?.warning)
                }
            }
        }) ?? []
    }
}

extension Client {
    /// Changes the client-wide upload or download limit while the client runs (both it and each torrent's
    /// own limit hold); the Transmission RPC's `session-set` speed limits.
    /// - Throws: ``EngineError`` (`shutDown`).
    public func setGlobalLimit(_ limit: RateLimit, direction: TransferDirection) async throws(EngineError) {
        try await onLoop { core in
            let now = core.instant(core.loop.now)
            core.rates.setGlobalLimit(limit, direction: direction, now: now)
            core.grant(core.rates.advance(to: now))
        }
        configuration.logger.info("global \(direction) limit: \(limit.bytesPerSecond.map { "\($0) B/s" } ?? "none")")
    }
}

extension Client {
    /// Replaces a torrent's trackers while it runs (the Transmission RPC's `trackerAdd`, `trackerRemove`,
    /// `trackerReplace` and `trackerList`): a new announce schedule over `tiers` (BEP 12; empty URLs and
    /// tiers dropped), due at once unless the torrent is being checked. Trackers that were told `started` and
    /// are no longer listed are told `stopped` (in the background); the ones that stay start over. The
    /// torrent's own `Torrent.announceTiers` are left as they were added (the caller keeps the new list).
    /// Without trackers in the configuration (``ClientConfiguration/usesTrackers``) nothing is announced.
    /// - Throws: ``EngineError`` (`unknownTorrent`, `shutDown`).
    public func setTrackers(_ tiers: [[String]], for handle: TorrentHandle) async throws(EngineError) {
        try await lifecycle.setTrackers(tiers, for: handle)
    }
}
