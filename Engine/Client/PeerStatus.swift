import BTWire

/// A snapshot of one connection of a torrent in a ``Client`` (see ``Client/peers(of:)``).
public struct PeerStatus: Hashable, Sendable {
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
}
