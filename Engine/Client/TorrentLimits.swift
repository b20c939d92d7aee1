import BTMSE

/// Bandwidth, connection and encryption limits of one torrent in a ``Client``, on top of the client-wide ones
/// (``ClientConfiguration/uploadLimit``, ``ClientConfiguration/downloadLimit``,
/// ``ClientConfiguration/maximumPeersPerTorrent``): both the torrent's and the global limit hold at once.
public struct TorrentLimits: Hashable, Sendable {
    /// Upload limit of the torrent (block payload sent).
    public var uploadLimit: RateLimit
    /// Download limit of the torrent (block payload requested).
    public var downloadLimit: RateLimit
    /// Most connections of the torrent; nil uses ``ClientConfiguration/maximumPeersPerTorrent``. Lowering it
    /// below the current count closes the newest connections (reason `tooMany`).
    public var maximumPeers: Int?
    /// The torrent's own message stream encryption policy; nil uses ``ClientConfiguration/encryption``. It
    /// decides how the torrent's peers are dialled, and which incoming connections it keeps once their
    /// handshake names it (`required`: RC4 only; `none`: no MSE). A client whose own policy is `none` still
    /// answers incoming MSE while a torrent's policy asks for it, and refuses it for the other torrents.
    public var encryption: EncryptionPolicy?
    /// Whether the torrent is looked up and announced on the DHT (on by default). It takes effect only when the
    /// client runs a DHT node (``ClientConfiguration/dht``, the global switch: `nbt --no-dht`), and a private
    /// torrent (BEP 27) stays off the DHT whatever it says. Turning it on again looks the torrent up at the
    /// next tick.
    public var usesDHT: Bool
    /// Super-seeding (BEP 16): once the torrent is complete, each new connection is shown no pieces and offered
    /// one or two at a time (``SuperSeeding``), so peers spread the pieces among themselves. Switching it off
    /// announces every piece to each connection; switching it on applies to connections made afterwards.
    public var superSeeding: Bool

    /// Limits; unlimited rates, the client's peer maximum and the client's encryption policy unless given; the
    /// DHT on, super-seeding off.
    public init(
        uploadLimit: RateLimit = .unlimited, downloadLimit: RateLimit = .unlimited, maximumPeers: Int? = nil,
        encryption: EncryptionPolicy? = nil, usesDHT: Bool = true, superSeeding: Bool = false
    ) {
        self.usesDHT = usesDHT
        self.uploadLimit = uploadLimit
        self.downloadLimit = downloadLimit
        self.maximumPeers = maximumPeers.map { max(0, $0) }
        self.encryption = encryption
        self.superSeeding = superSeeding
    }
}
