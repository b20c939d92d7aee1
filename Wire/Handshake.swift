import BTMetainfo
import NIOCore

/// The 8 reserved bytes of the handshake, with the feature bits clients agree on.
///
/// Unknown bits are kept as they arrived (``bytes``), so a handshake re-encodes byte for byte.
public struct ReservedBits: Hashable, Sendable, CustomStringConvertible {
    /// The 8 bytes as sent.
    public private(set) var bytes: [UInt8]

    /// All bits clear.
    public init() { bytes = [UInt8](repeating: 0, count: 8) }

    /// Wraps 8 bytes; nil for any other length.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 8 else { return nil }
        self.bytes = Array(bytes)
    }

    /// A reserved feature bit: byte index and mask.
    public struct Feature: Hashable, Sendable {
        let byte: Int
        let mask: UInt8
        /// BEP 10 extension protocol: byte 5, bit 0x10.
        public static let extensionProtocol = Feature(byte: 5, mask: 0x10)
        /// BEP 6 fast extension: byte 7, bit 0x04.
        public static let fast = Feature(byte: 7, mask: 0x04)
        /// BEP 5 DHT (the peer will send a `port` message): byte 7, bit 0x01.
        public static let dht = Feature(byte: 7, mask: 0x01)
        /// BEP 52 upgrade to the v2 protocol (hybrid torrents): byte 7, bit 0x10.
        public static let v2Upgrade = Feature(byte: 7, mask: 0x10)
    }

    /// Whether `feature` is set.
    public subscript(feature: Feature) -> Bool {
        get { bytes[feature.byte] & feature.mask != 0 }
        set {
            if newValue { bytes[feature.byte] |= feature.mask } else { bytes[feature.byte] &= ~feature.mask }
        }
    }

    /// The bits this client sets: extension protocol and fast extension (plus DHT when asked).
    public static func local(dht: Bool = false, v2: Bool = false) -> ReservedBits {
        // The usual bits are one shared value (copy-on-write): every connection's configuration holds them.
        if !dht && !v2 { return plainLocal }
        return makeLocal(dht: dht, v2: v2)
    }

    /// ``local(dht:v2:)`` without DHT and v2.
    private static let plainLocal = makeLocal(dht: false, v2: false)

    private static func makeLocal(dht: Bool, v2: Bool) -> ReservedBits {
        var bits = ReservedBits()
        bits[.extensionProtocol] = true
        bits[.fast] = true
        bits[.dht] = dht
        bits[.v2Upgrade] = v2
        return bits
    }

    /// Hex of the 8 bytes.
    public var description: String { NetBitTorrentHex.encode(bytes) }
}

/// The BEP 3 handshake: `\u{13}BitTorrent protocol`, 8 reserved bytes, 20-byte info-hash, 20-byte peer id.
public struct Handshake: Hashable, Sendable {
    /// The protocol string, length-prefixed, as the handshake's first 20 bytes.
    public static let protocolPrefix: [UInt8] = [19] + Array("BitTorrent protocol".utf8)
    /// Length of an encoded handshake.
    public static let length = 68

    /// Feature bits.
    public var reserved: ReservedBits
    /// The torrent's 20-byte wire info-hash (`InfoHashes.wire`).
    public var infoHash: [UInt8]
    /// The sender's peer id.
    public var peerID: PeerID

    /// Creates a handshake; `infoHash` must be 20 bytes.
    public init(reserved: ReservedBits, infoHash: [UInt8], peerID: PeerID) {
        precondition(infoHash.count == 20, "the wire info-hash is 20 bytes")
        self.reserved = reserved
        self.infoHash = infoHash
        self.peerID = peerID
    }

    /// Appends the 68 bytes to `buffer`.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeBytes(Self.protocolPrefix)
        buffer.writeBytes(reserved.bytes)
        buffer.writeBytes(infoHash)
        buffer.writeBytes(peerID.bytes)
    }

    /// The 68 bytes.
    public var encoded: [UInt8] { Self.protocolPrefix + reserved.bytes + infoHash + peerID.bytes }

    /// Reads a handshake from the front of `buffer`. Returns nil and consumes nothing while fewer than 68
    /// bytes are there; throws as soon as the bytes seen cannot be a handshake (so a peer speaking another
    /// protocol is dropped without waiting for 68 bytes).
    public static func decode(from buffer: inout ByteBuffer) throws(WireError) -> Handshake? {
        let available = min(buffer.readableBytes, protocolPrefix.count)
        if let seen = buffer.getBytes(at: buffer.readerIndex, length: available),
            !seen.elementsEqual(protocolPrefix[0..<available])
        {
            throw WireError(.invalidProtocolString, "the handshake does not begin with \\x13BitTorrent protocol")
        }
        guard buffer.readableBytes >= length, let bytes = buffer.readBytes(length: length) else { return nil }
        return Handshake(
            reserved: ReservedBits(bytes: bytes[20..<28])!, infoHash: Array(bytes[28..<48]),
            peerID: PeerID(bytes: bytes[48..<68])!)
    }

    /// Decodes exactly one handshake from `bytes`.
    public init(decoding bytes: some Collection<UInt8>) throws(WireError) {
        var buffer = ByteBuffer(bytes: bytes)
        guard let handshake = try Self.decode(from: &buffer), buffer.readableBytes == 0 else {
            throw WireError(.invalidMessageLength, "a handshake is exactly \(Self.length) bytes")
        }
        self = handshake
    }
}
