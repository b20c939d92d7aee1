import BTMetainfo
import NIOCore

/// Where a peer came from (seed 002 `source`).
public enum PeerSource: String, Hashable, Sendable, CaseIterable {
    /// A tracker announce.
    case tracker
    /// The DHT (BEP 5).
    case dht
    /// Peer exchange (BEP 11).
    case pex
    /// The peer connected to us.
    case incoming
    /// Added by the user.
    case user
    /// Local service discovery (BEP 14).
    case lsd
}

/// The connection's phase (seed 000 `queued`, `connecting`, `handshake`).
public enum PeerPhase: Hashable, Sendable {
    /// Waiting for a connection slot (half-open limit).
    case queued
    /// Half-open: the TCP (or uTP) connection is being made.
    case connecting
    /// Connected; waiting for the remote handshake.
    case handshake
    /// Handshake done; messages flow.
    case active
    /// Closed, with the reason.
    case closed(DisconnectReason)
}

/// What the peer has told us about its pieces (seed 001 `bitfield_status`).
public enum BitfieldStatus: Hashable, Sendable {
    /// Nothing yet.
    case unknown
    /// `have all` or a full bitfield.
    case all
    /// `have none` or an empty bitfield.
    case none
    /// Some pieces.
    case partial
}

/// One packet seen on the wire, in or out: the `packet_incoming_*` / `packet_outgoing_*` events of
/// Net::BitTorrent 0.05x (seed 004), with the fields that catalogue lists.
public struct PacketEvent: Hashable, Sendable {
    /// Direction of the packet.
    public enum Direction: String, Hashable, Sendable {
        /// Received from the peer.
        case incoming
        /// Sent to the peer.
        case outgoing
    }

    /// The packet itself.
    public enum Packet: Hashable, Sendable {
        /// The BEP 3 handshake (payload: reserved bytes, info-hash, peer id).
        case handshake(Handshake)
        /// Any later message.
        case message(PeerMessage)
    }

    /// In or out.
    public let direction: Direction
    /// The packet.
    public let packet: Packet

    /// Creates an event.
    public init(_ direction: Direction, _ packet: Packet) {
        self.direction = direction
        self.packet = packet
    }

    /// The seed's event name, e.g. `packet_incoming_block`, `packet_outgoing_have`.
    public var name: String { "packet_\(direction.rawValue)_\(kind)" }

    /// The seed's packet kind: handshake, keepalive, choke, unchoke, interested, not_interested, have,
    /// bitfield, request, block, cancel, extended, plus port, suggest, have_all, have_none, reject,
    /// allowed_fast, hash_request, hashes, hash_reject and unknown.
    public var kind: String {
        guard case .message(let message) = packet else { return "handshake" }
        switch message {
        case .keepAlive: return "keepalive"
        case .choke: return "choke"
        case .unchoke: return "unchoke"
        case .interested: return "interested"
        case .notInterested: return "not_interested"
        case .have: return "have"
        case .bitfield: return "bitfield"
        case .request: return "request"
        case .piece: return "block"
        case .cancel: return "cancel"
        case .port: return "port"
        case .suggest: return "suggest"
        case .haveAll: return "have_all"
        case .haveNone: return "have_none"
        case .reject: return "reject"
        case .allowedFast: return "allowed_fast"
        case .extended: return "extended"
        case .hashRequest: return "hash_request"
        case .hashes: return "hashes"
        case .hashReject: return "hash_reject"
        case .unknown: return "unknown"
        }
    }

    /// `Index`: the piece index of have, request, block, cancel, suggest, reject and allowed fast.
    public var index: Int? {
        guard case .message(let message) = packet else { return nil }
        switch message {
        case .have(let piece), .suggest(let piece), .allowedFast(let piece): return piece
        case .request(let r), .cancel(let r), .reject(let r): return r.piece
        case .piece(let block): return block.piece
        default: return nil
        }
    }

    /// `Offset`: the byte offset inside the piece of request, block, cancel and reject.
    public var offset: Int? {
        guard case .message(let message) = packet else { return nil }
        switch message {
        case .request(let r), .cancel(let r), .reject(let r): return r.offset
        case .piece(let block): return block.offset
        default: return nil
        }
    }

    /// `Length`: bytes requested, sent or cancelled (request, block, cancel, reject).
    public var length: Int? {
        guard case .message(let message) = packet else { return nil }
        switch message {
        case .request(let r), .cancel(let r), .reject(let r): return r.length
        case .piece(let block): return block.data.readableBytes
        default: return nil
        }
    }

    /// `ID`: the extended message id (extended only).
    public var extendedID: UInt8? {
        if case .message(.extended(let message)) = packet { return message.id }
        return nil
    }

    /// `Payload`: the extended payload, the bitfield bytes or the block data.
    public var payload: ByteBuffer? {
        guard case .message(let message) = packet else { return nil }
        switch message {
        case .extended(let m): return m.payload
        case .bitfield(let bits): return bits
        case .piece(let block): return block.data
        case .unknown(_, let payload): return payload
        default: return nil
        }
    }

    /// `Payload` of a handshake: reserved bytes, info-hash, peer id.
    public var handshake: Handshake? {
        if case .handshake(let handshake) = packet { return handshake }
        return nil
    }
}

/// Something that happened to a peer connection, for logs and the client's event stream.
public enum PeerEvent: Hashable, Sendable {
    /// A packet was received or sent.
    case packet(PacketEvent)
    /// The request timeout fired: the peer is snubbed (one request at a time) until it delivers again.
    case snubbed(Bool)
}

/// An extension message received from the peer, decoded when this module knows the extension.
public enum ExtensionPayload: Hashable, Sendable {
    /// BEP 11 peer exchange.
    case pex(PEXMessage)
    /// BEP 9 metadata exchange.
    case metadata(MetadataMessage)
    /// An extension this module does not decode: its name (from our `m` dictionary) and raw payload.
    case other(name: String, payload: ByteBuffer)
}

/// A change of what the peer has, as ``PeerAction/peerHas(_:)`` reports it.
public enum PeerAvailability: Hashable, Sendable {
    /// The peer has one more piece (`have`).
    case piece(Int)
    /// The peer's pieces are now these (a `bitfield`, merged with earlier `have`s as libtorrent tolerates).
    case pieces(Bitfield)
    /// The peer has every piece (`have all`).
    case all
    /// The peer has no piece (`have none`).
    case none
}

/// What the caller must do after feeding the state machine an input. Actions are in order.
public enum PeerAction: Hashable, Sendable {
    /// Write this handshake to the connection.
    case sendHandshake(Handshake)
    /// Write this message to the connection.
    case send(PeerMessage)
    /// A requested block arrived: store it (hash checking is the caller's job).
    case deliver(Block)
    /// The peer asked for this block and it was accepted (it joined the serving queue): read it from storage
    /// and call ``PeerStateMachine/blockRead(_:data:now:)``, at once or, for a driver that holds reads back,
    /// when it claims the request with ``PeerStateMachine/claimNextRequest()``.
    case readBlock(BlockRequest)
    /// These requests are no longer in flight (refused, rejected, choked, timed out or connection closed):
    /// the piece picker may hand them to another peer.
    case requestsReturned([BlockRequest])
    /// An extension message arrived.
    case extensionMessage(ExtensionPayload)
    /// A message the state machine does not act on (BEP 52 hash messages, `port`, unknown ids) for the caller.
    case forward(PeerMessage)
    /// What the peer has changed (BEP 3 `have`/`bitfield`, BEP 6 `have all`/`have none`): a piece
    /// picker's availability follows these, not the packet events.
    case peerHas(PeerAvailability)
    /// The peer choked (true) or unchoked (false) us.
    case peerChoked(Bool)
    /// The peer became interested (true) or not interested (false) in our pieces.
    case peerInterested(Bool)
    /// The peer cancelled a request we had accepted and not answered yet (it left the serving queue; with
    /// the fast extension the `reject` BEP 6 asks for is already sent): a read not started need not start.
    case requestCancelled(BlockRequest)
    /// Report this event (for observers: every decision the caller takes comes from the other actions).
    case event(PeerEvent)
    /// Close the connection for this reason (the state machine is now closed); `detail` says what happened.
    case disconnect(DisconnectReason, detail: String)
}
