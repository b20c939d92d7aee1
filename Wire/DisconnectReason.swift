/// Why a peer connection ended or was refused, with a stable numeric code (for logs, metrics and other
/// languages), a stable short ``name`` and a human text.
///
/// The one reason type of NetBitTorrent: the wire state machine, the connection limits and the client's
/// `peerDisconnect` event all use it. Covers every `DISCONNECT_*` reason of Net::BitTorrent::Peer 0.049
/// (seed 002, codes 1–13 in the seed's order; ``seedConstant`` gives the seed's keyword) plus those the
/// protocol and the client's policy need. Codes never change meaning; new reasons get new codes.
public enum DisconnectReason: Int, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// The remote peer closed the connection.
    case byRemote = 1
    /// We connected to ourselves (same peer id).
    case loopback = 2
    /// The remote peer asked for a torrent we are not serving.
    case noSuchTorrent = 3
    /// The handshake's info-hash is not the one implied (by the encrypted handshake or the dialled torrent).
    case handshakeInfoHashMismatch = 4
    /// The plaintext handshake is malformed (or an encrypted handshake arrived with encryption disabled).
    case malformedHandshake = 5
    /// A message could not be decoded or broke a hard limit (length, bitfield size, request size, index).
    case malformedPacket = 6
    /// We are already connected to this peer id.
    case preexisting = 7
    /// The global or per-torrent connection limit is reached.
    case tooMany = 8
    /// The torrent is busy being hash checked.
    case hashChecking = 9
    /// Both sides are seeds: nothing to exchange.
    case bothSeeds = 10
    /// The plaintext or encrypted handshake did not complete within 30 s.
    case handshakeTimeout = 11
    /// Connected for 3 minutes and neither side is interested in the other.
    case uselessPeer = 12
    /// The MSE handshake could not be synchronised at stage five (encryption handshake failure).
    case mseSyncFailure = 13
    /// The peer broke the protocol (unrequested block, fast-extension message without the extension, ...).
    case protocolViolation = 14
    /// The peer's reputation fell to 50 or below (corrupt pieces).
    case reputation = 15
    /// The peer is on the blacklist.
    case blacklisted = 16
    /// Reading from or writing to the connection failed.
    case ioError = 17
    /// The peer sent far more requests than we allow in our queue.
    case requestFlood = 18
    /// Closed on our side by the user or the engine (torrent stopped, choker, shutdown).
    case local = 19
    /// The address is refused by the IP filter or the `ipFilter` hook (checked before anything is sent).
    case ipFiltered = 20
    /// The queue of connections waiting for a half-open slot is full.
    case queueFull = 21
    /// The peer does not read what we send: the bytes queued for it passed the per-peer bound.
    case sendBufferFull = 22
    /// The peer sent nothing at all, not even a keep-alive, for the inactivity timeout (3 minutes).
    case inactive = 23

    /// The stable short name, the case's own (`preexisting`, `ipFiltered`): metrics label disconnects with it.
    public var name: String {
        switch self {
        case .byRemote: "byRemote"
        case .loopback: "loopback"
        case .noSuchTorrent: "noSuchTorrent"
        case .handshakeInfoHashMismatch: "handshakeInfoHashMismatch"
        case .malformedHandshake: "malformedHandshake"
        case .malformedPacket: "malformedPacket"
        case .preexisting: "preexisting"
        case .tooMany: "tooMany"
        case .hashChecking: "hashChecking"
        case .bothSeeds: "bothSeeds"
        case .handshakeTimeout: "handshakeTimeout"
        case .uselessPeer: "uselessPeer"
        case .mseSyncFailure: "mseSyncFailure"
        case .protocolViolation: "protocolViolation"
        case .reputation: "reputation"
        case .blacklisted: "blacklisted"
        case .ioError: "ioError"
        case .requestFlood: "requestFlood"
        case .local: "local"
        case .ipFiltered: "ipFiltered"
        case .queueFull: "queueFull"
        case .sendBufferFull: "sendBufferFull"
        case .inactive: "inactive"
        }
    }

    /// The seed's keyword for the reasons Net::BitTorrent::Peer 0.049 lists (`DISCONNECT_PREXISTING`); nil
    /// for the reasons it does not have.
    public var seedConstant: String? {
        switch self {
        case .byRemote: "DISCONNECT_BY_REMOTE"
        case .loopback: "DISCONNECT_LOOPBACK"
        case .noSuchTorrent: "DISCONNECT_NO_SUCH_TORRENT"
        case .handshakeInfoHashMismatch: "DISCONNECT_HANDSHAKE_INFOHASH"
        case .malformedHandshake: "DISCONNECT_MALFORMED_HANDSHAKE"
        case .malformedPacket: "DISCONNECT_MALFORMED_PACKET"
        case .preexisting: "DISCONNECT_PREXISTING"
        case .tooMany: "DISCONNECT_TOO_MANY"
        case .hashChecking: "DISCONNECT_HASHCHECKING"
        case .bothSeeds: "DISCONNECT_SEED"
        case .handshakeTimeout: "DISCONNECT_TIMEOUT_HANDSHAKE"
        case .uselessPeer: "DISCONNECT_USELESS_PEER"
        case .mseSyncFailure: "DISCONNECT_HANDSHAKE_SYNC_DH5"
        default: nil
        }
    }

    /// The stable numeric code.
    public var code: Int { rawValue }

    /// A short human text.
    public var description: String {
        switch self {
        case .byRemote: "connection closed by the remote peer"
        case .loopback: "connected to ourselves (same peer id)"
        case .noSuchTorrent: "remote peer asked for a torrent we are not serving"
        case .handshakeInfoHashMismatch: "handshake info-hash does not match the expected torrent"
        case .malformedHandshake: "malformed handshake"
        case .malformedPacket: "malformed or oversized message"
        case .preexisting: "already connected to this peer"
        case .tooMany: "too many connections"
        case .hashChecking: "torrent is being hash checked"
        case .bothSeeds: "both peers are seeds"
        case .handshakeTimeout: "handshake not completed within 30 seconds"
        case .uselessPeer: "neither interested nor interesting for 3 minutes"
        case .mseSyncFailure: "encryption handshake failed to synchronise (stage 5)"
        case .protocolViolation: "protocol violation"
        case .reputation: "reputation fell to 50 or below"
        case .blacklisted: "peer is blacklisted"
        case .ioError: "I/O error on the connection"
        case .requestFlood: "too many outstanding requests from the peer"
        case .local: "closed locally"
        case .ipFiltered: "address refused by the IP filter"
        case .queueFull: "connection queue is full"
        case .sendBufferFull: "the peer does not read what it is sent"
        case .inactive: "nothing received from the peer for 3 minutes"
        }
    }
}
