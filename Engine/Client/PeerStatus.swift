import BTMetainfo
import BTWire

/// A snapshot of one connection of a torrent in a ``Client`` (see ``Client/peers(of:)``).
public struct PeerStatus: Hashable, Sendable {
    /// How far the connection got (the seed's `queued`, `connecting`, `handshake` states).
    public enum Phase: String, Hashable, Sendable {
        /// Waiting for a slot under ``ClientConfiguration/maximumHalfOpen``.
        case queued
        /// The connection is being made.
        case connecting
        /// Connected; handshakes are being exchanged.
        case handshaking
        /// Handshakes are done and messages flow.
        case connected
    }

    /// The peer's address and port.
    public var endpoint: PeerEndpoint
    /// The peer's id, once its handshake arrived.
    public var peerID: [UInt8]?
    /// The peer connected to us.
    public var isIncoming: Bool
    /// Handshakes are done and messages flow.
    public var isActive: Bool
    /// Block payload received from the peer.
    public var downloadedBytes: Int64
    /// Block payload sent to the peer.
    public var uploadedBytes: Int64
    /// Download rate from the peer, bytes per second.
    public var downloadRate: Double
    /// Upload rate to the peer, bytes per second.
    public var uploadRate: Double
    /// The peer's requests we hold (at most ``ClientConfiguration/maximumQueuedRequestsPerPeer``).
    public var queuedRequests: Int
    /// Of those, requests waiting because the peer's queued upload bytes are at the cap.
    public var deferredRequests: Int
    /// Upload bytes queued in this process for the peer: blocks being read plus `piece` messages not yet
    /// written to its socket (at most ``ClientConfiguration/maximumQueuedUploadBytesPerPeer``).
    public var queuedUploadBytes: Int
    /// We choke the peer.
    public var amChoking: Bool
    /// The peer chokes us.
    public var peerChoking: Bool
    /// The peer has every piece.
    public var isSeed: Bool
    /// How far the connection got.
    public var phase: Phase = .connecting
    /// We are interested in the peer's pieces.
    public var amInterested = false
    /// The peer is interested in ours.
    public var peerInterested = false
    /// A request timed out: the peer gets one request at a time until it delivers again.
    public var isSnubbed = false
    /// The peer took part in a corrupt piece and has not proven itself since.
    public var isOnParole = false
    /// The peer holds the choker's optimistic unchoke slot.
    public var isOptimisticUnchoke = false
    /// The peer only uploads (a seed, or BEP 21 `upload_only`).
    public var isUploadOnly = false
    /// The connection is encrypted.
    public var isEncrypted = false
    /// The peer's reputation (starts at 100; blacklisted at 50 or below).
    public var reputation = 100
    /// Both ends support the BEP 10 extension protocol.
    public var supportsExtensions = false
    /// Both ends support the BEP 6 fast extension.
    public var supportsFastExtension = false
    /// Pieces the peer has.
    public var peerPieceCount = 0
    /// The peer's client: its extension handshake's `v`, else the name its peer id encodes.
    public var client: String?
}
