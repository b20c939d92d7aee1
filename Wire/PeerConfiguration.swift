import BTMetainfo
import NIOCore

/// Everything a ``PeerStateMachine`` needs to know about the torrent, ourselves and its limits.
public struct PeerConfiguration: Sendable {
    /// The torrent's 20-byte wire info-hash.
    public var infoHash: [UInt8]
    /// A hybrid torrent's other 20-byte info-hash, its truncated v2 hash (the wire hash is its v1 hash): a
    /// peer's handshake may name it, as BEP 52's upgrade has a responder that speaks v2 answer a v1 handshake
    /// carrying the v2 bit with it (libtorrent does). Nil for v1-only and v2-only torrents.
    public var alternateInfoHash: [UInt8]?
    /// Our peer id.
    public var localPeerID: PeerID
    /// Our reserved bits (extension protocol and fast extension by default).
    public var localReserved: ReservedBits
    /// Nominal piece length.
    public var pieceLength: Int
    /// Total length of the torrent's linear byte stream.
    public var totalLength: Int64
    /// The pieces we have when the connection starts.
    public var localPieces: Bitfield
    /// The pieces we want (file priorities): automatic interest only counts the peer's pieces that are set
    /// here and missing from ``localPieces``. Nil (the default) wants every piece; a bitfield of another
    /// length than ``localPieces`` is treated as nil.
    public var wantedPieces: Bitfield?
    /// Our extension handshake; `reqq` is set from ``maxServingQueue``. Its `m` is sent as given: name only
    /// the extensions whose ``PeerAction/extensionMessage(_:)`` actions you answer (e.g. `ut_pex`: 1,
    /// `ut_metadata`: 2); none by default.
    public var extensionHandshake: ExtensionHandshake
    /// The connection is encrypted (MSE), as told by the transport (seed 001 `is_encrypted`).
    public var isEncrypted: Bool
    /// The peer's IPv4 address, used to compute the allowed-fast set we grant it (BEP 6); nil grants none.
    public var remoteIPv4: [UInt8]?
    /// Size of the allowed-fast set we grant (BEP 6 suggests 10).
    public var allowedFastCount: Int
    /// Largest block we serve or request (16 KiB unless configured).
    public var maxRequestLength: Int
    /// Largest message accepted from the peer.
    public var maxMessageLength: Int
    /// How many of the peer's requests we queue (our `reqq`).
    public var maxServingQueue: Int
    /// Most requests we keep in flight, whatever the peer's `reqq` and rate.
    public var maxPipelineDepth: Int
    /// Requests in flight before any rate is measured.
    public var initialPipelineDepth: Int
    /// Seconds of download we keep requested ahead (depth = rate × this / block size), like libtorrent's
    /// `request_queue_time`.
    public var requestQueueSeconds: Double
    /// Without any block for this long while requests are out, the peer is snubbed.
    public var requestTimeout: TimeAmount
    /// Handshake must finish within this (seed 002: 30 s).
    public var handshakeTimeout: TimeAmount
    /// Neither side interested for this long ends the connection (seed 002: 3 minutes).
    public var uselessPeerTimeout: TimeAmount
    /// A keep-alive is sent after this long without sending anything.
    public var keepAliveInterval: TimeAmount
    /// After the handshake, a peer that sends nothing at all (not even a keep-alive, which BEP 3 asks for
    /// every two minutes) for this long is disconnected with ``DisconnectReason/inactive`` (libtorrent's
    /// `peer_timeout` is 120 s; 3 minutes tolerates clients that keep alive late). Silent connections
    /// cannot hold slots for ever.
    public var inactivityTimeout: TimeAmount
    /// Invalid requests (for pieces we lack, out of the piece) tolerated from a fast-extension peer, each
    /// rejected, before it is disconnected. A peer without the fast extension is disconnected on its second.
    public var maxInvalidRequests: Int
    /// Budgets on incoming messages that carry no data (redundant haves, cancels, keep-alives, extension
    /// messages); a peer past one is disconnected.
    public var inputLimits: PeerInputLimits
    /// Whether to send `interested` / `not interested` automatically from the two bitfields.
    public var automaticInterest: Bool
    /// Whether to emit a ``PeerEvent/packet(_:)`` event for every packet in and out.
    public var emitsPacketEvents: Bool
    /// The torrent's info dictionary is not known yet (a magnet link, BEP 9): ``pieceLength`` and
    /// ``totalLength`` are placeholders and ``localPieces`` is empty. The machine sends no availability and
    /// keeps the peer's (`bitfield`, `have`, `have all`, `have none`) unchecked until
    /// ``PeerStateMachine/metadataArrived(_:now:)`` gives the real configuration. False by default.
    public var awaitsMetadata: Bool

    /// Creates a configuration with the defaults documented on each property.
    public init(
        infoHash: [UInt8], localPeerID: PeerID, pieceLength: Int, totalLength: Int64, localPieces: Bitfield,
        localReserved: ReservedBits = .local(), extensionHandshake: ExtensionHandshake = ExtensionHandshake(),
        isEncrypted: Bool = false, remoteIPv4: [UInt8]? = nil
    ) {
        precondition(infoHash.count == 20 && pieceLength > 0 && totalLength >= 0)
        self.infoHash = infoHash
        self.alternateInfoHash = nil
        self.localPeerID = localPeerID
        self.localReserved = localReserved
        self.pieceLength = pieceLength
        self.totalLength = totalLength
        self.localPieces = localPieces
        self.extensionHandshake = extensionHandshake
        self.isEncrypted = isEncrypted
        self.remoteIPv4 = remoteIPv4
        self.allowedFastCount = 10
        self.maxRequestLength = 16 * 1024
        self.maxMessageLength = (1 << 20) + 13
        self.maxServingQueue = 250
        self.maxPipelineDepth = 250
        self.initialPipelineDepth = 4
        self.requestQueueSeconds = 3
        self.requestTimeout = .seconds(30)
        self.handshakeTimeout = .seconds(30)
        self.uselessPeerTimeout = .minutes(3)
        self.keepAliveInterval = .seconds(90)
        self.inactivityTimeout = .minutes(3)
        self.maxInvalidRequests = 20
        self.inputLimits = PeerInputLimits()
        self.automaticInterest = true
        self.emitsPacketEvents = true
        self.awaitsMetadata = false
    }

    /// A configuration for `torrent`.
    public init(torrent: Torrent, localPeerID: PeerID, localPieces: Bitfield) {
        self.init(
            infoHash: torrent.infoHashes.wire, localPeerID: localPeerID, pieceLength: torrent.pieceLength,
            totalLength: torrent.layout.totalLength, localPieces: localPieces)
        if torrent.infoHashes.v1 != nil, let v2 = torrent.infoHashes.v2Truncated { alternateInfoHash = v2 }
    }

    /// Number of pieces.
    public var pieceCount: Int { localPieces.count }

    /// Size of piece `index` (the last one may be short).
    public func size(ofPiece index: Int) -> Int {
        if index == pieceCount - 1 { return Int(totalLength - Int64(index) * Int64(pieceLength)) }
        return pieceLength
    }
}
