import BTMetainfo
import NIOCore

/// Turns a byte stream (after the handshake) into ``PeerMessage`` values, whatever way the stream is split.
///
/// Reads are transactional: a partial message stays buffered and nothing is consumed. Block data, bitfields
/// and extension payloads are slices of the received buffers, not copies. Every length is checked against
/// ``Limits`` before anything is buffered for it, so a peer announcing a 4 GiB message is rejected at once.
///
/// ```swift
/// var decoder = PeerMessageDecoder(limits: .init(pieceCount: torrent.pieceCount))
/// decoder.append(bytesFromSocket)
/// while let message = try decoder.next() { handle(message) }
/// ```
public struct PeerMessageDecoder: Sendable {
    /// Hard limits applied while decoding.
    public struct Limits: Hashable, Sendable {
        /// Largest accepted length prefix (bytes after the prefix). Default 1 MiB + 13: enough for a bitfield
        /// of 8 million pieces and for any block up to ``maxRequestLength``.
        public var maxMessageLength: Int
        /// Largest accepted `request`, `cancel` or `reject` length. Default 16 KiB, as every client sends.
        public var maxRequestLength: Int
        /// The torrent's piece count, when known: bitfields must match it exactly (spare bits zero) and
        /// `have`, `request`, `piece`, `cancel` and `reject` indexes must be below it.
        public var pieceCount: Int?
        /// Largest accepted extension message (BEP 10, id 20), its extended id included. Default 64 KiB: the
        /// largest an honest peer sends is a `ut_metadata` piece (16 KiB and its dictionary); libtorrent refuses
        /// `ut_metadata` messages above 272 KiB and extension ids it does not know outright.
        public var maxExtensionMessageLength: Int
        /// Largest accepted message of an id we do not know (they are ignored). Default 16 KiB: such a message
        /// carries nothing we use, and libtorrent disconnects at the first byte of one, whatever its size.
        public var maxUnknownMessageLength: Int

        /// Creates limits.
        public init(
            maxMessageLength: Int = (1 << 20) + 13, maxRequestLength: Int = 16 * 1024, pieceCount: Int? = nil,
            maxExtensionMessageLength: Int = 64 * 1024, maxUnknownMessageLength: Int = 16 * 1024
        ) {
            self.maxMessageLength = maxMessageLength
            self.maxRequestLength = maxRequestLength
            self.pieceCount = pieceCount
            self.maxExtensionMessageLength = maxExtensionMessageLength
            self.maxUnknownMessageLength = maxUnknownMessageLength
        }
    }

    /// The limits in force; may be changed between messages (e.g. once metadata arrives).
    public var limits: Limits
    /// The buffer being decoded: a received buffer read in place, or the decoder's own assembly buffer.
    private var current: ByteBuffer?
    /// Whether `current` is the decoder's own buffer holding the start of one message split across received
    /// buffers (and nothing else). The rest of that message is appended to it in place as it arrives, so a
    /// message trickled in any number of pieces is copied about once, not once per piece.
    private var assembling = false
    /// Buffers received after `current`, untouched until needed.
    private var queued = CircularBuffer<ByteBuffer>()
    /// Readable bytes in `queued`.
    private var queuedBytes = 0
    /// Bytes copied so far into assembly buffers, counting each reallocation as a copy of what it held:
    /// the decoder's whole copying cost (messages that arrive inside one buffer are read in place).
    package private(set) var copiedBytes = 0
    /// Assembly buffers allocated or grown so far.
    package private(set) var assemblyAllocations = 0

    /// Creates a decoder.
    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Number of bytes received and not yet decoded.
    public var bufferedBytes: Int { (current?.readableBytes ?? 0) + queuedBytes }

    /// Bytes of buffer storage the decoder keeps alive: the whole read buffers its unread bytes are slices of.
    package var retainedStorageBytes: Int {
        (current?.storageCapacity ?? 0) + queued.reduce(0) { $0 + $1.storageCapacity }
    }

    /// Copies unread bytes that are a small part of a large read buffer (a message's first bytes at the end of
    /// a 1 MiB read) into a buffer of their own, so a peer that goes quiet mid-message does not keep the whole
    /// read buffer alive. Called from the state machine's tick, not per read: the data path copies nothing more.
    package mutating func compact() {
        func compacted(_ buffer: ByteBuffer) -> ByteBuffer {
            guard buffer.storageCapacity > 2 * buffer.readableBytes + Self.compactionSlack else { return buffer }
            var copy = ByteBufferAllocator().buffer(capacity: buffer.readableBytes)
            copy.writeImmutableBuffer(buffer)
            return copy
        }
        if let buffer = current {
            current = nil
            if buffer.readableBytes == 0 {
                assembling = false
            } else {
                // A compacted assembly buffer is still the decoder's own: `assembling` stays as it is.
                current = compacted(buffer)
            }
        }
        for index in queued.indices { queued[index] = compacted(queued[index]) }
    }

    /// Storage beyond twice the unread bytes that ``compact()`` leaves alone (a copy would save less).
    static let compactionSlack = 1024

    /// First capacity of an assembly buffer when more is already known to be coming: enough for a whole
    /// 16 KiB block message, so the common split (a block across two reads) allocates once. Larger messages
    /// grow it by doubling, so a peer announcing 1 MiB and sending a few bytes does not get 1 MiB reserved.
    static let initialAssemblyCapacity = 32 * 1024

    /// Adds received bytes. Buffers are kept as they are (no copy); only a message split across buffers is
    /// copied, once, into a buffer of its own.
    public mutating func append(_ bytes: ByteBuffer) {
        guard bytes.readableBytes > 0 else { return }
        if queued.isEmpty && (current?.readableBytes ?? 0) == 0 {
            current = bytes
            assembling = false
        } else {
            queued.append(bytes)
            queuedBytes += bytes.readableBytes
        }
    }

    /// Adds received bytes given as an array (copied once into a buffer).
    public mutating func append(_ bytes: some Collection<UInt8>) {
        append(ByteBuffer(bytes: bytes))
    }

    /// The next complete message, or nil when more bytes are needed.
    ///
    /// Costs O(size of the messages returned) however the stream was split: a message split across received
    /// buffers is gathered once into an assembly buffer that later pieces are appended to.
    /// - Throws: ``WireError`` when the stream breaks a limit or a message is malformed; the connection
    ///   must then be closed (the decoder's position is unspecified afterwards).
    public mutating func next() throws(WireError) -> PeerMessage? {
        while true {
            if (current?.readableBytes ?? 0) == 0 {
                assembling = false
                guard let buffer = queued.popFirst() else {
                    current = nil
                    return nil
                }
                queuedBytes -= buffer.readableBytes
                current = buffer
            }
            var pending = current!
            current = nil  // keep the storage uniquely referenced while reading and writing
            let message: PeerMessage?
            do throws(WireError) {
                message = try Self.decode(from: &pending, limits: limits)
            } catch {
                current = pending
                throw error
            }
            if let message {
                current = pending
                return message
            }
            guard !queued.isEmpty else {
                current = pending
                return nil
            }
            // The message continues in the next buffer. Gather it (its start, then the missing bytes as they
            // arrive) in a buffer of its own; everything after it is still read in place.
            if !assembling {
                var assembly = ByteBufferAllocator().buffer(
                    capacity: min(
                        Self.messageEnd(of: pending) ?? 16,
                        max(pending.readableBytes + queuedBytes, Self.initialAssemblyCapacity)))
                copiedBytes += pending.readableBytes
                assemblyAllocations += 1
                assembly.writeBuffer(&pending)
                pending = assembly
                assembling = true
            }
            gatherMissingBytes(into: &pending)
            current = pending
        }
    }

    /// Total bytes (prefix included) of the message starting at `buffer`'s reader index, when its prefix is in.
    private static func messageEnd(of buffer: ByteBuffer) -> Int? {
        buffer.getInteger(at: buffer.readerIndex, as: UInt32.self).map { 4 + Int($0) }
    }

    /// Moves bytes from the queued buffers to the end of the assembly buffer, up to the end of the message
    /// it holds (or of its length prefix, while that is incomplete). Grows the buffer by doubling, so the
    /// copies made by growth add up to at most the message's size.
    private mutating func gatherMissingBytes(into assembly: inout ByteBuffer) {
        while !queued.isEmpty {
            let end = Self.messageEnd(of: assembly) ?? 4
            let missing = end - assembly.readableBytes
            guard missing > 0 else { return }
            var next = queued.removeFirst()
            queuedBytes -= next.readableBytes
            var part = next.readSlice(length: min(missing, next.readableBytes))!
            if assembly.writableBytes < part.readableBytes {
                let needed = assembly.writerIndex + part.readableBytes
                let end = Self.messageEnd(of: assembly) ?? needed
                let doubled = max(needed, 2 * assembly.capacity, Self.initialAssemblyCapacity)
                assembly.reserveCapacity(min(max(end, needed), doubled))
                copiedBytes += assembly.readableBytes
                assemblyAllocations += 1
            }
            copiedBytes += part.readableBytes
            assembly.writeBuffer(&part)
            if next.readableBytes > 0 {
                queued.prepend(next)
                queuedBytes += next.readableBytes
            }
        }
    }

    /// Decodes one message from the front of `buffer`: nil (nothing consumed) when incomplete.
    public static func decode(from buffer: inout ByteBuffer, limits: Limits) throws(WireError) -> PeerMessage? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        let size = Int(length)
        guard size <= limits.maxMessageLength else {
            throw WireError(
                .messageTooLong, "message of \(size) bytes exceeds the limit of \(limits.maxMessageLength)")
        }
        if size > 0, let id = buffer.getInteger(at: buffer.readerIndex + 4, as: UInt8.self) {
            try checkLength(size, id: id, limits: limits)
        }
        guard buffer.readableBytes >= 4 + size else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        if size == 0 { return .keepAlive }
        var body = buffer.readSlice(length: size)!
        let id: UInt8 = body.readInteger()!
        return try decodeBody(id: id, body: &body, limits: limits)
    }

    /// Checks a message's length (`size`: its id and payload) against what its id allows, as soon as the id has
    /// arrived and before the rest is waited for, so a message no honest peer sends is refused at its header,
    /// not after its bytes were trickled in (libtorrent likewise refuses a `piece` longer than a block at its
    /// first byte and an unknown id at once). Lengths that need the payload (a `hashes` message's shape) are
    /// checked when it is complete.
    static func checkLength(_ size: Int, id: UInt8, limits: Limits) throws(WireError) {
        let maximum: Int
        var exact = true
        switch PeerMessage.ID(rawValue: id) {
        case .choke, .unchoke, .interested, .notInterested, .haveAll, .haveNone: maximum = 1
        case .have, .suggest, .allowedFast: maximum = 5
        case .request, .cancel, .reject: maximum = 13
        case .port: maximum = 3
        case .hashRequest, .hashReject: maximum = 49
        case .bitfield:
            guard let count = limits.pieceCount else { return }
            guard size == 1 + (count + 7) / 8 else {
                throw WireError(
                    .invalidBitfield, "bitfield of \(size - 1) bytes for \(count) pieces (\((count + 7) / 8))")
            }
            return
        case .piece:
            maximum = 9 + max(limits.maxRequestLength, Self.blockLength)
            exact = false
        case .hashes:
            maximum = 49 + 32 * (HashRequest.maxLength + 64)
            exact = false
        case .extended:
            maximum = 1 + limits.maxExtensionMessageLength
            exact = false
        case nil:
            maximum = limits.maxUnknownMessageLength
            exact = false
        }
        guard exact ? size != maximum : size > maximum else { return }
        let name = PeerMessage.ID(rawValue: id).map { "\($0)" } ?? "unknown id \(id)"
        if exact {
            throw WireError(.invalidMessageLength, "\(name) message of \(size) bytes instead of \(maximum)")
        }
        throw WireError(.messageTooLong, "\(name) message of \(size) bytes exceeds the limit of \(maximum)")
    }

    /// The block size every client requests (BEP 52's 16 KiB): the longest `piece` payload we ask for.
    static let blockLength = 16 * 1024

    private static func decodeBody(id: UInt8, body: inout ByteBuffer, limits: Limits) throws(WireError) -> PeerMessage {
        // `checkLength` has already held the message to its id's size (exact for the fixed-size ids and for a
        // bitfield once the piece count is known): the reads below rely on it.
        let length = body.readableBytes
        func piece(_ name: String) throws(WireError) -> Int {
            let value = Int(body.readInteger(as: UInt32.self)!)
            if let count = limits.pieceCount, value >= count {
                throw WireError(.pieceIndexOutOfRange, "\(name) for piece \(value) of a \(count)-piece torrent")
            }
            return value
        }
        func blockRequest(_ name: String) throws(WireError) -> BlockRequest {
            let index = try piece(name)
            let offset = Int(body.readInteger(as: UInt32.self)!)
            let size = Int(body.readInteger(as: UInt32.self)!)
            guard size > 0 && size <= limits.maxRequestLength else {
                throw WireError(
                    .invalidRequestLength, "\(name) of \(size) bytes (limit \(limits.maxRequestLength))")
            }
            return BlockRequest(piece: index, offset: offset, length: size)
        }
        func hashRequest(_ name: String) throws(WireError) -> HashRequest {
            let root = body.readBytes(length: 32)!
            let values = (0..<4).map { _ in Int(body.readInteger(as: UInt32.self)!) }
            return HashRequest(
                piecesRoot: root, baseLayer: values[0], index: values[1], length: values[2], proofLayers: values[3])
        }

        guard let known = PeerMessage.ID(rawValue: id) else { return .unknown(id: id, payload: body) }
        switch known {
        case .choke:
            return .choke
        case .unchoke:
            return .unchoke
        case .interested:
            return .interested
        case .notInterested:
            return .notInterested
        case .haveAll:
            return .haveAll
        case .haveNone:
            return .haveNone
        case .have:
            return .have(piece: try piece("have"))
        case .suggest:
            // Out-of-range suggestions are tolerated here (the state machine ignores them), as libtorrent does.
            return .suggest(piece: Int(body.readInteger(as: UInt32.self)!))
        case .allowedFast:
            return .allowedFast(piece: Int(body.readInteger(as: UInt32.self)!))
        case .bitfield:
            if let count = limits.pieceCount {
                if count % 8 != 0, length > 0,
                    body.getInteger(at: body.writerIndex - 1, as: UInt8.self)!
                        & (0xff >> UInt8(count % 8)) != 0
                {
                    throw WireError(.invalidBitfield, "bitfield has spare bits set past piece \(count - 1)")
                }
            }
            return .bitfield(body)
        case .request:
            return .request(try blockRequest("request"))
        case .cancel:
            return .cancel(try blockRequest("cancel"))
        case .reject:
            return .reject(try blockRequest("reject request"))
        case .piece:
            guard length >= 8 else {
                throw WireError(.invalidMessageLength, "piece carries \(length) payload bytes, fewer than 8")
            }
            let index = try piece("piece")
            let offset = Int(body.readInteger(as: UInt32.self)!)
            return .piece(Block(piece: index, offset: offset, data: body))
        case .port:
            return .port(body.readInteger(as: UInt16.self)!)
        case .extended:
            guard length >= 1 else { throw WireError(.invalidMessageLength, "extended message without an id") }
            let extendedID: UInt8 = body.readInteger()!
            return .extended(ExtendedMessage(id: extendedID, payload: body))
        case .hashRequest:
            return .hashRequest(try hashRequest("hash request"))
        case .hashReject:
            return .hashReject(try hashRequest("hash reject"))
        case .hashes:
            guard length >= 48, (length - 48) % 32 == 0 else {
                throw WireError(.invalidMessageLength, "hashes carries \(length) bytes, not 48 + 32n")
            }
            let request = try hashRequest("hashes")
            return .hashes(HashesMessage(request: request, hashes: body))
        }
    }
}
