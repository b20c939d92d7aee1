import BTMetainfo
import BTWire

/// Everything the client reports, typed: the seed's event catalogue (Net::BitTorrent 0.05x `on_event`
/// names) plus ``torrentFinished(_:)``.
///
/// Each case carries the arguments the seed lists for it. Wire messages are BTWire's own
/// (`PacketEvent.Packet`: the handshake or a `PeerMessage`), one vocabulary for the wire and its observers;
/// ``kind`` gives the seed's event name, for ``EventBus/on(_:_:)``.
public enum ClientEvent: Hashable, Sendable {
    /// A torrent, as events name it.
    public struct TorrentInfo: Hashable, Sendable {
        /// The torrent's info-hashes.
        public var infoHashes: InfoHashes
        /// The torrent's name.
        public var name: String

        /// Creates a torrent reference.
        public init(infoHashes: InfoHashes, name: String) {
            self.infoHashes = infoHashes
            self.name = name
        }
    }

    /// A remote peer, as events name it.
    public struct PeerInfo: Hashable, Sendable {
        /// Where the peer is.
        public var endpoint: PeerEndpoint
        /// The 20-byte peer id, once its handshake arrived.
        public var peerID: [UInt8]?
        /// The torrent the connection is for, once known.
        public var torrent: TorrentInfo?
        /// The peer connected to us (rather than we to it).
        public var isIncoming: Bool
        /// The info-hash the peer's handshake named, once it arrived: for a connection refused with
        /// `DisconnectReason/noSuchTorrent` (seed 002: "this will also provide an Infohash parameter"), the
        /// torrent it asked for, which ``torrent`` cannot name.
        public var infoHash: [UInt8]?

        /// Creates a peer reference.
        public init(
            endpoint: PeerEndpoint, peerID: [UInt8]? = nil, torrent: TorrentInfo? = nil, isIncoming: Bool,
            infoHash: [UInt8]? = nil
        ) {
            self.endpoint = endpoint
            self.peerID = peerID
            self.torrent = torrent
            self.isIncoming = isIncoming
            self.infoHash = infoHash
        }
    }

    /// A file of a torrent, as events name it.
    public struct FileInfo: Hashable, Sendable {
        /// The torrent the file belongs to.
        public var torrent: TorrentInfo
        /// Index into the torrent's `PieceLayout/files`.
        public var index: Int
        /// Path components below the torrent's folder.
        public var path: [String]

        /// Creates a file reference.
        public init(torrent: TorrentInfo, index: Int, path: [String]) {
            self.torrent = torrent
            self.index = index
            self.path = path
        }
    }

    /// A tracker of a torrent, as events name it.
    public struct TrackerInfo: Hashable, Sendable {
        /// The torrent announced.
        public var torrent: TorrentInfo
        /// The announce URL (`http://`, `https://` or `udp://`).
        public var url: String

        /// Creates a tracker reference.
        public init(torrent: TorrentInfo, url: String) {
            self.torrent = torrent
            self.url = url
        }
    }

    /// How a file was opened (the seed's `Mode`: `r` or `w`).
    public enum FileAccess: String, Hashable, Sendable {
        /// Opened for reading.
        case read = "r"
        /// Opened for writing.
        case write = "w"
    }

    /// Why we contact a tracker (BEP 3 `event`).
    public enum AnnounceKind: String, Hashable, Sendable {
        /// First announce.
        case started
        /// The download completed.
        case completed
        /// We stop.
        case stopped
    }

    /// The useful part of a successful announce (the seed's `Payload`).
    public struct AnnounceSummary: Hashable, Sendable {
        /// Seeds in the swarm, per the tracker.
        public var complete: Int?
        /// Leechers in the swarm, per the tracker.
        public var incomplete: Int?
        /// Peers returned.
        public var peers: [PeerEndpoint]
        /// Time until the next regular announce.
        public var interval: Duration?
        /// Least time before announcing again.
        public var minInterval: Duration?

        /// Creates a summary.
        public init(
            complete: Int? = nil, incomplete: Int? = nil, peers: [PeerEndpoint] = [], interval: Duration? = nil,
            minInterval: Duration? = nil
        ) {
            self.complete = complete
            self.incomplete = incomplete
            self.peers = peers
            self.interval = interval
            self.minInterval = minInterval
        }
    }

    /// The seed's `ip_filter`: an address was checked before anything was sent to it.
    case ipFilter(PeerEndpoint, allowed: Bool)
    /// `peer_connect`: handshakes were exchanged.
    case peerConnect(PeerInfo)
    /// `peer_disconnect`: the connection ended.
    case peerDisconnect(PeerInfo, reason: DisconnectReason)
    /// `peer_read`: bytes received from the peer.
    case peerRead(PeerInfo, length: Int)
    /// `peer_write`: bytes sent to the peer.
    case peerWrite(PeerInfo, length: Int)
    /// `packet_incoming_*`: the peer sent us a message.
    case packetIncoming(PeerInfo, PacketEvent.Packet)
    /// `packet_outgoing_*`: we sent the peer a message.
    case packetOutgoing(PeerInfo, PacketEvent.Packet)
    /// `file_open`.
    case fileOpen(FileInfo, mode: FileAccess)
    /// `file_close`.
    case fileClose(FileInfo)
    /// `file_read`: bytes read from the file.
    case fileRead(FileInfo, length: Int)
    /// `file_write`: bytes written to the file.
    case fileWrite(FileInfo, length: Int)
    /// `file_error`.
    case fileError(FileInfo, message: String)
    /// `tracker_connect`: an announce starts (`event` as in BEP 3, nil for a regular announce).
    case trackerConnect(TrackerInfo, event: AnnounceKind?)
    /// `tracker_disconnect`.
    case trackerDisconnect(TrackerInfo)
    /// `tracker_success`: an announce succeeded.
    case trackerSuccess(TrackerInfo, AnnounceSummary)
    /// `tracker_failure`: an announce failed, with the tracker's or the socket's reason.
    case trackerFailure(TrackerInfo, reason: String)
    /// `tracker_write`: bytes sent to the tracker.
    case trackerWrite(TrackerInfo, length: Int)
    /// `tracker_read`: bytes received from the tracker.
    case trackerRead(TrackerInfo, length: Int)
    /// `piece_hash_pass`: a missing piece verified.
    case pieceHashPass(TorrentInfo, index: Int)
    /// `piece_hash_fail`: a piece did not match its hash.
    case pieceHashFail(TorrentInfo, index: Int)
    /// Every wanted piece of the torrent is verified (not in the seed; users asked for it).
    case torrentFinished(TorrentInfo)

    /// The event's name in the seed's catalogue.
    public var kind: Kind {
        switch self {
        case .ipFilter: return .ipFilter
        case .peerConnect: return .peerConnect
        case .peerDisconnect: return .peerDisconnect
        case .peerRead: return .peerRead
        case .peerWrite: return .peerWrite
        case .packetIncoming(_, let packet): return Kind(rawValue: PacketEvent(.incoming, packet).name)!
        case .packetOutgoing(_, let packet): return Kind(rawValue: PacketEvent(.outgoing, packet).name)!
        case .fileOpen: return .fileOpen
        case .fileClose: return .fileClose
        case .fileRead: return .fileRead
        case .fileWrite: return .fileWrite
        case .fileError: return .fileError
        case .trackerConnect: return .trackerConnect
        case .trackerDisconnect: return .trackerDisconnect
        case .trackerSuccess: return .trackerSuccess
        case .trackerFailure: return .trackerFailure
        case .trackerWrite: return .trackerWrite
        case .trackerRead: return .trackerRead
        case .pieceHashPass: return .pieceHashPass
        case .pieceHashFail: return .pieceHashFail
        case .torrentFinished: return .torrentFinished
        }
    }

    /// Event names, as the seed spells them (raw values), for subscribing to one kind.
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        /// `ip_filter`
        case ipFilter = "ip_filter"
        /// `peer_connect`
        case peerConnect = "peer_connect"
        /// `peer_disconnect`
        case peerDisconnect = "peer_disconnect"
        /// `peer_read`
        case peerRead = "peer_read"
        /// `peer_write`
        case peerWrite = "peer_write"
        /// `packet_incoming_handshake`
        case packetIncomingHandshake = "packet_incoming_handshake"
        /// `packet_outgoing_handshake`
        case packetOutgoingHandshake = "packet_outgoing_handshake"
        /// `packet_incoming_keepalive`
        case packetIncomingKeepalive = "packet_incoming_keepalive"
        /// `packet_outgoing_keepalive`
        case packetOutgoingKeepalive = "packet_outgoing_keepalive"
        /// `packet_incoming_choke`
        case packetIncomingChoke = "packet_incoming_choke"
        /// `packet_outgoing_choke`
        case packetOutgoingChoke = "packet_outgoing_choke"
        /// `packet_incoming_unchoke`
        case packetIncomingUnchoke = "packet_incoming_unchoke"
        /// `packet_outgoing_unchoke`
        case packetOutgoingUnchoke = "packet_outgoing_unchoke"
        /// `packet_incoming_interested`
        case packetIncomingInterested = "packet_incoming_interested"
        /// `packet_outgoing_interested`
        case packetOutgoingInterested = "packet_outgoing_interested"
        /// `packet_incoming_not_interested`
        case packetIncomingNotInterested = "packet_incoming_not_interested"
        /// `packet_outgoing_not_interested`
        case packetOutgoingNotInterested = "packet_outgoing_not_interested"
        /// `packet_incoming_have`
        case packetIncomingHave = "packet_incoming_have"
        /// `packet_outgoing_have`
        case packetOutgoingHave = "packet_outgoing_have"
        /// `packet_incoming_bitfield`
        case packetIncomingBitfield = "packet_incoming_bitfield"
        /// `packet_outgoing_bitfield`
        case packetOutgoingBitfield = "packet_outgoing_bitfield"
        /// `packet_incoming_request`
        case packetIncomingRequest = "packet_incoming_request"
        /// `packet_outgoing_request`
        case packetOutgoingRequest = "packet_outgoing_request"
        /// `packet_incoming_block`
        case packetIncomingBlock = "packet_incoming_block"
        /// `packet_outgoing_block`
        case packetOutgoingBlock = "packet_outgoing_block"
        /// `packet_incoming_cancel`
        case packetIncomingCancel = "packet_incoming_cancel"
        /// `packet_outgoing_cancel`
        case packetOutgoingCancel = "packet_outgoing_cancel"
        /// `packet_incoming_port` (BEP 5)
        case packetIncomingPort = "packet_incoming_port"
        /// `packet_outgoing_port` (BEP 5)
        case packetOutgoingPort = "packet_outgoing_port"
        /// `packet_incoming_suggest` (BEP 6)
        case packetIncomingSuggest = "packet_incoming_suggest"
        /// `packet_outgoing_suggest` (BEP 6)
        case packetOutgoingSuggest = "packet_outgoing_suggest"
        /// `packet_incoming_have_all` (BEP 6)
        case packetIncomingHaveAll = "packet_incoming_have_all"
        /// `packet_outgoing_have_all` (BEP 6)
        case packetOutgoingHaveAll = "packet_outgoing_have_all"
        /// `packet_incoming_have_none` (BEP 6)
        case packetIncomingHaveNone = "packet_incoming_have_none"
        /// `packet_outgoing_have_none` (BEP 6)
        case packetOutgoingHaveNone = "packet_outgoing_have_none"
        /// `packet_incoming_reject` (BEP 6)
        case packetIncomingReject = "packet_incoming_reject"
        /// `packet_outgoing_reject` (BEP 6)
        case packetOutgoingReject = "packet_outgoing_reject"
        /// `packet_incoming_allowed_fast` (BEP 6)
        case packetIncomingAllowedFast = "packet_incoming_allowed_fast"
        /// `packet_outgoing_allowed_fast` (BEP 6)
        case packetOutgoingAllowedFast = "packet_outgoing_allowed_fast"
        /// `packet_incoming_extended` (BEP 10)
        case packetIncomingExtended = "packet_incoming_extended"
        /// `packet_outgoing_extended` (BEP 10)
        case packetOutgoingExtended = "packet_outgoing_extended"
        /// `packet_incoming_hash_request` (BEP 52)
        case packetIncomingHashRequest = "packet_incoming_hash_request"
        /// `packet_outgoing_hash_request` (BEP 52)
        case packetOutgoingHashRequest = "packet_outgoing_hash_request"
        /// `packet_incoming_hashes` (BEP 52)
        case packetIncomingHashes = "packet_incoming_hashes"
        /// `packet_outgoing_hashes` (BEP 52)
        case packetOutgoingHashes = "packet_outgoing_hashes"
        /// `packet_incoming_hash_reject` (BEP 52)
        case packetIncomingHashReject = "packet_incoming_hash_reject"
        /// `packet_outgoing_hash_reject` (BEP 52)
        case packetOutgoingHashReject = "packet_outgoing_hash_reject"
        /// `packet_incoming_unknown`: a message of an id no extension we speak defines
        case packetIncomingUnknown = "packet_incoming_unknown"
        /// `packet_outgoing_unknown` (never sent; listed so every message name has both directions)
        case packetOutgoingUnknown = "packet_outgoing_unknown"
        /// `file_open`
        case fileOpen = "file_open"
        /// `file_close`
        case fileClose = "file_close"
        /// `file_read`
        case fileRead = "file_read"
        /// `file_write`
        case fileWrite = "file_write"
        /// `file_error`
        case fileError = "file_error"
        /// `tracker_connect`
        case trackerConnect = "tracker_connect"
        /// `tracker_disconnect`
        case trackerDisconnect = "tracker_disconnect"
        /// `tracker_success`
        case trackerSuccess = "tracker_success"
        /// `tracker_failure`
        case trackerFailure = "tracker_failure"
        /// `tracker_write`
        case trackerWrite = "tracker_write"
        /// `tracker_read`
        case trackerRead = "tracker_read"
        /// `piece_hash_pass`
        case pieceHashPass = "piece_hash_pass"
        /// `piece_hash_fail`
        case pieceHashFail = "piece_hash_fail"
        /// `torrent_finished` (ours)
        case torrentFinished = "torrent_finished"
    }
}
