/// One tracker of a torrent as the RPC shows it.
public struct TrackerSnapshot: Sendable, Hashable {
    /// Its announce URL.
    public var announce: String
    /// Its tier.
    public var tier: Int
    /// Its id within the torrent.
    public var id: Int
    /// Whether an announce was answered.
    public var hasAnnounced: Bool
    /// Whether the last announce succeeded.
    public var lastAnnounceSucceeded: Bool
    /// The last announce's result for people.
    public var lastAnnounceResult: String
    /// Peers in the last answer.
    public var lastAnnouncePeerCount: Int
    /// Seeders it reported (-1 unknown).
    public var seederCount: Int
    /// Leechers it reported (-1 unknown).
    public var leecherCount: Int

    /// A tracker.
    public init(
        announce: String, tier: Int, id: Int, hasAnnounced: Bool, lastAnnounceSucceeded: Bool,
        lastAnnounceResult: String, lastAnnouncePeerCount: Int, seederCount: Int, leecherCount: Int
    ) {
        self.announce = announce
        self.tier = tier
        self.id = id
        self.hasAnnounced = hasAnnounced
        self.lastAnnounceSucceeded = lastAnnounceSucceeded
        self.lastAnnounceResult = lastAnnounceResult
        self.lastAnnouncePeerCount = lastAnnouncePeerCount
        self.seederCount = seederCount
        self.leecherCount = leecherCount
    }
}
