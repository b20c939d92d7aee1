/// Why a peer connection was refused or closed: the seed's `DISCONNECT_*` catalogue plus the engine's own
/// policy reasons.
///
/// A struct with opaque members rather than an enum so that reasons can be added (BTWire will report its
/// own) without breaking exhaustive switches in user code.
public struct DisconnectReason: Hashable, Sendable, CustomStringConvertible {
    /// Stable short name, e.g. `tooMany`.
    public let name: String
    /// A user friendly sentence.
    public let message: String

    package init(_ name: String, _ message: String) {
        self.name = name
        self.message = message
    }

    /// `name: message`.
    public var description: String { "\(name): \(message)" }

    /// The connection was closed by the remote peer for unknown reasons (`DISCONNECT_BY_REMOTE`).
    public static let byRemote = DisconnectReason("byRemote", "connection closed by the remote peer")
    /// We connected to ourselves according to the peer id (`DISCONNECT_LOOPBACK`).
    public static let loopback = DisconnectReason("loopback", "connected to ourselves")
    /// The remote peer asked for a torrent we do not serve (`DISCONNECT_NO_SUCH_TORRENT`).
    public static let noSuchTorrent = DisconnectReason("noSuchTorrent", "no such torrent")
    /// The plaintext handshake named another info-hash than the encrypted one (`DISCONNECT_HANDSHAKE_INFOHASH`).
    public static let handshakeInfoHash = DisconnectReason("handshakeInfoHash", "handshake info-hash mismatch")
    /// A malformed handshake (`DISCONNECT_MALFORMED_HANDSHAKE`).
    public static let malformedHandshake = DisconnectReason("malformedHandshake", "malformed handshake")
    /// A malformed message (`DISCONNECT_MALFORMED_PACKET`).
    public static let malformedPacket = DisconnectReason("malformedPacket", "malformed packet")
    /// Already connected to this peer (`DISCONNECT_PREXISTING`).
    public static let alreadyConnected = DisconnectReason("alreadyConnected", "already connected to this peer")
    /// The global or per-torrent connection limit is reached (`DISCONNECT_TOO_MANY`).
    public static let tooMany = DisconnectReason("tooMany", "too many connections")
    /// The torrent is being hash checked (`DISCONNECT_HASHCHECKING`).
    public static let hashChecking = DisconnectReason("hashChecking", "torrent is being hash checked")
    /// We and the remote peer are both seeds (`DISCONNECT_SEED`).
    public static let bothSeeds = DisconnectReason("bothSeeds", "both ends are seeds")
    /// The handshake did not complete within 30 seconds (`DISCONNECT_TIMEOUT_HANDSHAKE`).
    public static let handshakeTimeout = DisconnectReason("handshakeTimeout", "handshake timed out")
    /// Connected for 3 minutes, neither interested nor interesting (`DISCONNECT_USELESS_PEER`).
    public static let uselessPeer = DisconnectReason("uselessPeer", "neither interested nor interesting")
    /// The MSE handshake could not be synchronised at stage five (`DISCONNECT_HANDSHAKE_SYNC_DH5`).
    public static let handshakeSyncDH5 = DisconnectReason("handshakeSyncDH5", "MSE handshake sync failed")
    /// The address is refused by the static IP filter or the `ip_filter` hook.
    public static let ipFiltered = DisconnectReason("ipFiltered", "address refused by the IP filter")
    /// The peer's reputation fell to the blacklist threshold (seed 001: 50 or below).
    public static let blacklisted = DisconnectReason("blacklisted", "peer is blacklisted for sending corrupt data")
    /// The half-open connection queue is full.
    public static let queueFull = DisconnectReason("queueFull", "connection queue is full")
}
