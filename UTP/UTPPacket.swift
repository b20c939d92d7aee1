import NIOCore

/// One uTP packet (BEP 29, version 1): the 20-byte header, its extension chain and the payload.
///
/// ```
/// 0       4       8               16              24              32
/// +-------+-------+---------------+---------------+---------------+
/// | type  | ver   | extension     | connection_id                 |
/// | timestamp_microseconds                                        |
/// | timestamp_difference_microseconds                             |
/// | wnd_size                                                      |
/// | seq_nr                        | ack_nr                        |
/// +---------------------------------------------------------------+
/// ```
///
/// Decoding is strict and bounded: version 1 only, a known type, at most ``maximumExtensionCount``
/// extensions each inside the datagram, at most one selective ACK, and a datagram of at most
/// ``maximumDatagramSize`` bytes. Unknown extensions are kept verbatim so that encoding a decoded packet
/// gives its bytes back (libtorrent sends type 3, a close reason; libutp type 2, extension bits).
public struct UTPPacket: Hashable, Sendable {
    /// An entry of the extension chain.
    public enum Extension: Hashable, Sendable {
        /// Type 1, selective ACK.
        case selectiveAck(SelectiveAck)
        /// Any other type, kept verbatim (ignored by ``UTPConnection``).
        case other(type: UInt8, bytes: [UInt8])

        /// The extension's type byte.
        public var type: UInt8 {
            switch self {
            case .selectiveAck: 1
            case .other(let type, _): type
            }
        }
    }

    /// The size of the fixed header.
    public static let headerSize = 20
    /// The largest datagram accepted: the largest UDP payload over IPv4.
    public static let maximumDatagramSize = 65_507
    /// The longest extension chain accepted; real peers send at most two (SACK and close reason).
    public static let maximumExtensionCount = 8
    /// The extension type of the padding of path MTU probes (``PathMTUSearch``): zeros that receivers skip. No
    /// BEP or implementation gives this type a meaning; libutp (which reads type 2) and libtorrent (type 3)
    /// skip types they do not know, and so does ``UTPConnection``.
    public static let paddingExtensionType: UInt8 = 0x7f

    /// The packet type.
    public var type: UTPPacketType
    /// The connection id: the receiver's receive id (for ST_SYN, the initiator's receive id).
    public var connectionID: UInt16
    /// The sender's clock when sending, in microseconds, wrapping at 2^32.
    public var timestampMicroseconds: UInt32
    /// The sender's clock minus the timestamp of the last packet it received, in microseconds: the one-way
    /// delay of the path towards the sender, plus the clocks' offset. LEDBAT's input.
    public var timestampDifferenceMicroseconds: UInt32
    /// The sender's free receive buffer, in bytes.
    public var windowSize: UInt32
    /// The sequence number (ST_STATE carries the next one without consuming it).
    public var sequenceNumber: UInt16
    /// The last sequence number the sender received in order.
    public var ackNumber: UInt16
    /// The extension chain, in wire order.
    public var extensions: [Extension]
    /// The payload (ST_DATA only, in practice).
    public var payload: ByteBuffer

    /// Creates a packet.
    public init(
        type: UTPPacketType, connectionID: UInt16, timestampMicroseconds: UInt32 = 0,
        timestampDifferenceMicroseconds: UInt32 = 0, windowSize: UInt32 = 0, sequenceNumber: UInt16,
        ackNumber: UInt16, extensions: [Extension] = [], payload: ByteBuffer = ByteBuffer()
    ) {
        self.type = type
        self.connectionID = connectionID
        self.timestampMicroseconds = timestampMicroseconds
        self.timestampDifferenceMicroseconds = timestampDifferenceMicroseconds
        self.windowSize = windowSize
        self.sequenceNumber = sequenceNumber
        self.ackNumber = ackNumber
        self.extensions = extensions
        self.payload = payload
    }

    /// The selective ACK extension, if the packet has one.
    public var selectiveAck: SelectiveAck? {
        for case .selectiveAck(let sack) in extensions { return sack }
        return nil
    }

    /// Decodes one datagram. The payload is a slice of `datagram` (no copy).
    public init(decoding datagram: ByteBuffer) throws(UTPError) {
        let size = datagram.readableBytes
        guard size <= Self.maximumDatagramSize else {
            throw UTPError(.datagramTooLarge, "\(size) bytes exceed \(Self.maximumDatagramSize)")
        }
        guard size >= Self.headerSize else {
            throw UTPError(.truncated, "\(size) bytes are fewer than the 20-byte header", offset: size)
        }
        var buffer = datagram
        let typeAndVersion = buffer.readInteger(as: UInt8.self)!
        guard typeAndVersion & 0x0f == 1 else {
            throw UTPError(.unsupportedVersion, "version \(typeAndVersion & 0x0f)", offset: 0)
        }
        guard let type = UTPPacketType(rawValue: typeAndVersion >> 4) else {
            throw UTPError(.unknownType, "type \(typeAndVersion >> 4)", offset: 0)
        }
        var nextExtension = buffer.readInteger(as: UInt8.self)!
        self.type = type
        self.connectionID = buffer.readInteger(as: UInt16.self)!
        self.timestampMicroseconds = buffer.readInteger(as: UInt32.self)!
        self.timestampDifferenceMicroseconds = buffer.readInteger(as: UInt32.self)!
        self.windowSize = buffer.readInteger(as: UInt32.self)!
        self.sequenceNumber = buffer.readInteger(as: UInt16.self)!
        self.ackNumber = buffer.readInteger(as: UInt16.self)!
        var extensions: [Extension] = []
        while nextExtension != 0 {
            let offset = size - buffer.readableBytes
            guard extensions.count < Self.maximumExtensionCount else {
                throw UTPError(.invalidExtension, "more than \(Self.maximumExtensionCount) extensions", offset: offset)
            }
            guard let following = buffer.readInteger(as: UInt8.self), let length = buffer.readInteger(as: UInt8.self)
            else {
                throw UTPError(.truncated, "extension header past the end", offset: offset)
            }
            guard let body = buffer.readBytes(length: Int(length)) else {
                throw UTPError(.truncated, "extension of \(length) bytes past the end", offset: offset)
            }
            if nextExtension == 1 {
                // libutp and libtorrent read only the first SACK; a second one is malformed, not a choice.
                guard let sack = SelectiveAck(bytes: body) else {
                    throw UTPError(.invalidExtension, "selective ACK of length 0", offset: offset)
                }
                guard !extensions.contains(where: { $0.type == 1 }) else {
                    throw UTPError(.invalidExtension, "two selective ACKs", offset: offset)
                }
                extensions.append(.selectiveAck(sack))
            } else {
                extensions.append(.other(type: nextExtension, bytes: body))
            }
            nextExtension = following
        }
        self.extensions = extensions
        self.payload = buffer
    }

    /// The encoded size in bytes.
    public var encodedSize: Int {
        Self.headerSize + payload.readableBytes
            + extensions.reduce(0) { total, ext in
                switch ext {
                case .selectiveAck(let sack): total + 2 + sack.bytes.count
                case .other(_, let bytes): total + 2 + bytes.count
                }
            }
    }

    /// Appends the packet's bytes to `buffer`.
    ///
    /// - Throws: ``UTPError/Code/unencodable`` if an extension body exceeds 255 bytes or its type is 0.
    public func encode(into buffer: inout ByteBuffer) throws(UTPError) {
        for ext in extensions {
            if case .other(let type, let bytes) = ext, bytes.count > 255 || type == 0 {
                throw UTPError(.unencodable, "extension type \(type) with \(bytes.count) bytes")
            }
        }
        buffer.reserveCapacity(minimumWritableBytes: encodedSize)
        buffer.writeInteger(type.rawValue << 4 | 1)
        buffer.writeInteger(extensions.first?.type ?? 0)
        buffer.writeInteger(connectionID)
        buffer.writeInteger(timestampMicroseconds)
        buffer.writeInteger(timestampDifferenceMicroseconds)
        buffer.writeInteger(windowSize)
        buffer.writeInteger(sequenceNumber)
        buffer.writeInteger(ackNumber)
        for (index, ext) in extensions.enumerated() {
            buffer.writeInteger(index + 1 < extensions.count ? extensions[index + 1].type : 0)
            switch ext {
            case .selectiveAck(let sack):
                buffer.writeInteger(UInt8(sack.bytes.count))
                buffer.writeBytes(sack.bytes)
            case .other(_, let bytes):
                buffer.writeInteger(UInt8(bytes.count))
                buffer.writeBytes(bytes)
            }
        }
        var payload = payload
        buffer.writeBuffer(&payload)
    }

    /// The packet's bytes.
    public func encoded() throws(UTPError) -> ByteBuffer {
        var buffer = ByteBuffer()
        try encode(into: &buffer)
        return buffer
    }
}

extension UTPPacket: CustomStringConvertible {
    public var description: String {
        "\(type) id=\(connectionID) seq=\(sequenceNumber) ack=\(ackNumber) wnd=\(windowSize)"
            + (selectiveAck.map { " sack=\($0.bytes.count)B" } ?? "") + " len=\(payload.readableBytes)"
    }
}
