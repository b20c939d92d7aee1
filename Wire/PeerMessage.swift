import BTMetainfo
import NIOCore

/// A block of piece data (BEP 3 `piece`). ``data`` is a slice of the received bytes, not a copy.
public struct Block: Hashable, Sendable {
    /// Zero-based piece index.
    public var piece: Int
    /// Byte offset inside the piece.
    public var offset: Int
    /// The bytes.
    public var data: ByteBuffer

    /// Creates a block.
    public init(piece: Int, offset: Int, data: ByteBuffer) {
        self.piece = piece
        self.offset = offset
        self.data = data
    }

    /// The address this block answers.
    public var request: BlockRequest { BlockRequest(piece: piece, offset: offset, length: data.readableBytes) }
}

/// A BEP 10 extended message: the sub-id the receiver assigned (0 is the extension handshake) and the payload.
public struct ExtendedMessage: Hashable, Sendable {
    /// Extended message id (0: handshake; others as announced in the receiver's `m` dictionary).
    public var id: UInt8
    /// The payload (bencoded dictionary, possibly followed by raw bytes for ut_metadata data).
    public var payload: ByteBuffer

    /// Creates an extended message.
    public init(id: UInt8, payload: ByteBuffer) {
        self.id = id
        self.payload = payload
    }
}

/// BEP 52 `hash request` and `hash reject`: which hashes of which file's merkle tree.
public struct HashRequest: Hashable, Sendable {
    /// The file's 32-byte `pieces root`.
    public var piecesRoot: [UInt8]
    /// Layer of the requested hashes (0 = 16 KiB leaf blocks).
    public var baseLayer: Int
    /// Index of the first hash in that layer.
    public var index: Int
    /// Number of hashes (a power of two, at least 2 per the BEP).
    public var length: Int
    /// Number of uncle-hash layers to include as proof.
    public var proofLayers: Int

    /// Creates a request; `piecesRoot` must be 32 bytes.
    public init(piecesRoot: [UInt8], baseLayer: Int, index: Int, length: Int, proofLayers: Int) {
        precondition(piecesRoot.count == 32, "a pieces root is 32 bytes")
        self.piecesRoot = piecesRoot
        self.baseLayer = baseLayer
        self.index = index
        self.length = length
        self.proofLayers = proofLayers
    }
}

/// BEP 52 `hashes`: the request it answers and the concatenated 32-byte hashes (base layer then proofs).
public struct HashesMessage: Hashable, Sendable {
    /// The request answered.
    public var request: HashRequest
    /// Concatenated 32-byte hashes (a slice of the received bytes).
    public var hashes: ByteBuffer

    /// Creates a hashes message; `hashes` must be a multiple of 32 bytes.
    public init(request: HashRequest, hashes: ByteBuffer) {
        precondition(hashes.readableBytes % 32 == 0, "hashes are 32 bytes each")
        self.request = request
        self.hashes = hashes
    }
}

/// One peer wire message (everything after the handshake), as a value.
///
/// Each case names the BEP it comes from. ``encode(into:)`` writes the exact wire bytes (4-byte big-endian
/// length, 1-byte id, payload); ``PeerMessageDecoder`` reads them back in any split.
public enum PeerMessage: Hashable, Sendable {
    /// BEP 3: a zero-length message that keeps the connection open.
    case keepAlive
    /// BEP 3 `choke` (id 0).
    case choke
    /// BEP 3 `unchoke` (id 1).
    case unchoke
    /// BEP 3 `interested` (id 2).
    case interested
    /// BEP 3 `not interested` (id 3).
    case notInterested
    /// BEP 3 `have` (id 4): the sender now has `piece`.
    case have(piece: Int)
    /// BEP 3 `bitfield` (id 5): the raw packed bits; see `Bitfield.init(bytes:count:)`.
    case bitfield(ByteBuffer)
    /// BEP 3 `request` (id 6).
    case request(BlockRequest)
    /// BEP 3 `piece` (id 7): a block of data.
    case piece(Block)
    /// BEP 3 `cancel` (id 8).
    case cancel(BlockRequest)
    /// BEP 5 `port` (id 9): the sender's DHT UDP port.
    case port(UInt16)
    /// BEP 6 `suggest piece` (id 0x0D).
    case suggest(piece: Int)
    /// BEP 6 `have all` (id 0x0E).
    case haveAll
    /// BEP 6 `have none` (id 0x0F).
    case haveNone
    /// BEP 6 `reject request` (id 0x10).
    case reject(BlockRequest)
    /// BEP 6 `allowed fast` (id 0x11).
    case allowedFast(piece: Int)
    /// BEP 10 `extended` (id 20).
    case extended(ExtendedMessage)
    /// BEP 52 `hash request` (id 21).
    case hashRequest(HashRequest)
    /// BEP 52 `hashes` (id 22).
    case hashes(HashesMessage)
    /// BEP 52 `hash reject` (id 23).
    case hashReject(HashRequest)
    /// A message with an id this module does not know; kept so it can be logged or ignored (BEP 3 says
    /// unknown messages are ignored).
    case unknown(id: UInt8, payload: ByteBuffer)

    /// Message ids on the wire.
    public enum ID: UInt8, Sendable, CaseIterable {
        /// BEP 3.
        case choke = 0, unchoke = 1, interested = 2, notInterested = 3, have = 4, bitfield = 5, request = 6
        /// BEP 3.
        case piece = 7, cancel = 8
        /// BEP 5.
        case port = 9
        /// BEP 6.
        case suggest = 0x0D, haveAll = 0x0E, haveNone = 0x0F, reject = 0x10, allowedFast = 0x11
        /// BEP 10.
        case extended = 20
        /// BEP 52.
        case hashRequest = 21, hashes = 22, hashReject = 23
    }

    /// The wire id; nil for keep-alive.
    public var id: UInt8? {
        switch self {
        case .keepAlive: nil
        case .choke: ID.choke.rawValue
        case .unchoke: ID.unchoke.rawValue
        case .interested: ID.interested.rawValue
        case .notInterested: ID.notInterested.rawValue
        case .have: ID.have.rawValue
        case .bitfield: ID.bitfield.rawValue
        case .request: ID.request.rawValue
        case .piece: ID.piece.rawValue
        case .cancel: ID.cancel.rawValue
        case .port: ID.port.rawValue
        case .suggest: ID.suggest.rawValue
        case .haveAll: ID.haveAll.rawValue
        case .haveNone: ID.haveNone.rawValue
        case .reject: ID.reject.rawValue
        case .allowedFast: ID.allowedFast.rawValue
        case .extended: ID.extended.rawValue
        case .hashRequest: ID.hashRequest.rawValue
        case .hashes: ID.hashes.rawValue
        case .hashReject: ID.hashReject.rawValue
        case .unknown(let id, _): id
        }
    }

    /// Number of bytes after the 4-byte length prefix.
    public var payloadLength: Int {
        switch self {
        case .keepAlive: 0
        case .choke, .unchoke, .interested, .notInterested, .haveAll, .haveNone: 1
        case .have, .suggest, .allowedFast: 5
        case .bitfield(let bits): 1 + bits.readableBytes
        case .request, .cancel, .reject: 13
        case .piece(let block): 9 + block.data.readableBytes
        case .port: 3
        case .extended(let message): 2 + message.payload.readableBytes
        case .hashRequest, .hashReject: 49
        case .hashes(let message): 49 + message.hashes.readableBytes
        case .unknown(_, let payload): 1 + payload.readableBytes
        }
    }

    /// Appends the exact wire bytes. Indexes, offsets and lengths must fit in 32 bits (checked).
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(payloadLength))
        guard let id else { return }
        buffer.writeInteger(id)
        switch self {
        case .keepAlive, .choke, .unchoke, .interested, .notInterested, .haveAll, .haveNone:
            break
        case .have(let piece), .suggest(let piece), .allowedFast(let piece):
            buffer.writeInteger(Self.u32(piece))
        case .bitfield(let bits):
            buffer.writeImmutableBuffer(bits)
        case .request(let r), .cancel(let r), .reject(let r):
            buffer.writeInteger(Self.u32(r.piece))
            buffer.writeInteger(Self.u32(r.offset))
            buffer.writeInteger(Self.u32(r.length))
        case .piece(let block):
            buffer.writeInteger(Self.u32(block.piece))
            buffer.writeInteger(Self.u32(block.offset))
            buffer.writeImmutableBuffer(block.data)
        case .port(let port):
            buffer.writeInteger(port)
        case .extended(let message):
            buffer.writeInteger(message.id)
            buffer.writeImmutableBuffer(message.payload)
        case .hashRequest(let request), .hashReject(let request):
            Self.write(request, into: &buffer)
        case .hashes(let message):
            Self.write(message.request, into: &buffer)
            buffer.writeImmutableBuffer(message.hashes)
        case .unknown(_, let payload):
            buffer.writeImmutableBuffer(payload)
        }
    }

    /// The wire bytes as an array (tests and logging; the hot path uses ``encode(into:)``).
    public var encoded: [UInt8] {
        var buffer = ByteBufferAllocator().buffer(capacity: 4 + payloadLength)
        encode(into: &buffer)
        return Array(buffer.readableBytesView)
    }

    static func write(_ request: HashRequest, into buffer: inout ByteBuffer) {
        buffer.writeBytes(request.piecesRoot)
        buffer.writeInteger(u32(request.baseLayer))
        buffer.writeInteger(u32(request.index))
        buffer.writeInteger(u32(request.length))
        buffer.writeInteger(u32(request.proofLayers))
    }

    @inline(__always) static func u32(_ value: Int) -> UInt32 {
        precondition(value >= 0 && value <= Int(UInt32.max), "wire integers are unsigned 32-bit")
        return UInt32(truncatingIfNeeded: value)
    }
}
