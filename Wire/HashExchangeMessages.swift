import BTMetainfo
import NIOCore

/// Payload codecs and checks for the BEP 52 hash exchange: `hash request` (id 21), `hashes` (id 22) and
/// `hash reject` (id 23, the same payload as the request it refuses).
///
/// ``PeerMessageDecoder`` frames these messages into ``PeerMessage/hashRequest(_:)``,
/// ``PeerMessage/hashes(_:)`` and ``PeerMessage/hashReject(_:)`` and checks only their lengths; the codecs
/// here read a payload on its own (after the id byte) with every field checked, and
/// ``HashRequest/validated()`` / ``HashesMessage/validated()`` apply the same checks to what the decoder gave.
/// ``PieceLayerFetch`` and ``PieceLayerServe`` consume these values.
extension HashRequest {
    /// Payload length of a request or a reject: the 32-byte root, then base layer, index, length and proof
    /// layers as big-endian 32-bit integers.
    public static let payloadLength = 48
    /// Largest `length` accepted (libtorrent answers at most 8192 hashes in one message).
    public static let maxLength = 8192

    /// Decodes a `hash request` or `hash reject` payload (without the id byte), fully checked.
    /// - Throws: ``WireError``: `.invalidMessageLength` unless it is 48 bytes, `.unencodable` for a field
    ///   above 2^31-1, `.extensionLimitExceeded` for a `length` that is zero, not a power of two or above
    ///   ``maxLength``, an `index` that is not a multiple of it, or a layer count above 63.
    public init(decoding payload: some Collection<UInt8>) throws(WireError) {
        let bytes = Array(payload)
        guard bytes.count == Self.payloadLength else {
            throw WireError(.invalidMessageLength, "hash request/reject of \(bytes.count) bytes, expected 48")
        }
        func word(_ at: Int) throws(WireError) -> Int {
            let value =
                UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8
                | UInt32(bytes[at + 3])
            guard value <= UInt32(Int32.max) else {
                throw WireError(.unencodable, "hash message field \(value) is above 2^31-1")
            }
            return Int(value)
        }
        self.init(
            piecesRoot: Array(bytes[0..<32]), baseLayer: try word(32), index: try word(36), length: try word(40),
            proofLayers: try word(44))
        _ = try validated()
    }

    /// The payload (without the id byte).
    public func encoded() -> [UInt8] {
        var out = piecesRoot
        for value in [baseLayer, index, length, proofLayers] {
            let word = UInt32(truncatingIfNeeded: value)
            out += [
                UInt8(word >> 24), UInt8(truncatingIfNeeded: word >> 16), UInt8(truncatingIfNeeded: word >> 8),
                UInt8(truncatingIfNeeded: word),
            ]
        }
        return out
    }

    /// The number of uncle hashes a `hashes` answer carries after the `length` base hashes
    /// (`MerkleTree` rule, as libtorrent counts them).
    public var proofHashCount: Int { MerkleTree.proofHashCount(length: length, proofLayers: proofLayers) }

    /// The request itself when its fields are sane (see ``init(decoding:)``).
    /// - Throws: ``WireError`` `.extensionLimitExceeded` or `.unencodable`.
    public func validated() throws(WireError) -> HashRequest {
        guard [baseLayer, index, length, proofLayers].allSatisfy({ $0 >= 0 && $0 <= Int(Int32.max) }) else {
            throw WireError(.unencodable, "hash message field out of 0...2^31-1")
        }
        guard length > 0, length.nonzeroBitCount == 1, length <= Self.maxLength, index % length == 0,
            baseLayer < 64, proofLayers < 64
        else {
            throw WireError(
                .extensionLimitExceeded,
                "hash request for \(length) hashes at \(index) of layer \(baseLayer) with \(proofLayers) proof layers")
        }
        return self
    }
}

extension HashesMessage {
    /// Creates a `hashes` message from its base-layer hashes and uncle hashes (flat, 32 bytes each).
    public init(request: HashRequest, baseHashes: [UInt8], uncles: [UInt8]) {
        self.init(request: request, hashes: ByteBuffer(bytes: baseHashes + uncles))
    }

    /// Decodes a `hashes` payload (without the id byte), fully checked.
    /// - Throws: ``WireError`` for a bad header (see ``HashRequest/init(decoding:)``), or a hash count other
    ///   than `length` plus the proof's (`.invalidMessageLength`).
    public init(decoding payload: some Collection<UInt8>) throws(WireError) {
        let bytes = Array(payload)
        guard bytes.count >= HashRequest.payloadLength else {
            throw WireError(.invalidMessageLength, "hashes message of \(bytes.count) bytes")
        }
        let request = try HashRequest(decoding: bytes[0..<HashRequest.payloadLength])
        let rest = bytes.count - HashRequest.payloadLength
        guard rest % 32 == 0 else {
            throw WireError(.invalidMessageLength, "hashes carries \(rest) bytes of hashes, not 32n")
        }
        self.init(request: request, hashes: ByteBuffer(bytes: bytes[HashRequest.payloadLength...]))
        _ = try validated()
    }

    /// The payload (without the id byte).
    public func encoded() -> [UInt8] { request.encoded() + Array(hashes.readableBytesView) }

    /// The `length` base-layer hashes, flat (empty if the message carries fewer).
    public var baseHashes: [UInt8] {
        let count = request.length * 32
        guard count <= hashes.readableBytes else { return [] }
        return Array(hashes.readableBytesView.prefix(count))
    }

    /// The uncle hashes after the base hashes, flat, lowest layer first.
    public var uncles: [UInt8] {
        let count = request.length * 32
        guard count <= hashes.readableBytes else { return [] }
        return Array(hashes.readableBytesView.dropFirst(count))
    }

    /// The message itself when its request is sane and it carries exactly `length` base hashes plus
    /// ``HashRequest/proofHashCount`` uncles.
    /// - Throws: ``WireError``.
    public func validated() throws(WireError) -> HashesMessage {
        _ = try request.validated()
        let expected = (request.length + request.proofHashCount) * 32
        guard hashes.readableBytes == expected else {
            throw WireError(
                .invalidMessageLength, "hashes carries \(hashes.readableBytes) bytes of hashes, expected \(expected)")
        }
        return self
    }
}
