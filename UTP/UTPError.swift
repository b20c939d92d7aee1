/// Why a datagram could not be decoded as a uTP packet, a packet could not be encoded, or a uTP stream
/// channel failed.
///
/// A struct with an opaque ``Code`` (new cases can be added without breaking users), a human reason and
/// the byte offset where decoding stopped, like `BTBencode/BencodeError`. The packet decoder throws it;
/// a driver drops the datagram (a malformed datagram is never a reason to crash or to reset a connection).
public struct UTPError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure; compare against the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        init(_ name: String) { self.name = name }
        public var description: String { name }

        /// Fewer bytes than the 20-byte header, or an extension that runs past the end (BEP 29).
        public static let truncated = Code("truncated")
        /// The version nibble is not 1 (BEP 29 defines only version 1).
        public static let unsupportedVersion = Code("unsupportedVersion")
        /// The type nibble is not one of ST_DATA, ST_FIN, ST_STATE, ST_RESET, ST_SYN (BEP 29).
        public static let unknownType = Code("unknownType")
        /// An extension chain longer than ``UTPPacket/maximumExtensionCount``, a zero-length selective ACK,
        /// or two selective ACKs in one packet.
        public static let invalidExtension = Code("invalidExtension")
        /// A datagram larger than ``UTPPacket/maximumDatagramSize``.
        public static let datagramTooLarge = Code("datagramTooLarge")
        /// A value that cannot be encoded (an extension body longer than 255 bytes).
        public static let unencodable = Code("unencodable")
        /// A dial could not start: the socket's connection table is full or its channel is not open.
        public static let cannotConnect = Code("cannotConnect")
        /// A uTP connection ended before its handshake completed, or was reset or timed out while open; the
        /// reason names the ``UTPCloseReason``.
        public static let connectionFailed = Code("connectionFailed")
        /// A stream channel's reader left more than ``UTPStreamChannel/maximumUnreadBytes`` unread (auto-read
        /// off and no `read()`): the connection is reset rather than buffering without bound.
        public static let unreadBytesExceeded = Code("unreadBytesExceeded")
        /// A stream channel was given something other than a `ByteBuffer` to write.
        public static let unsupportedWrite = Code("unsupportedWrite")
    }

    /// What went wrong.
    public let code: Code
    /// A human readable explanation.
    public let reason: String
    /// The offset in the datagram where decoding stopped (0 for encoding errors).
    public let offset: Int

    /// Creates an error.
    public init(_ code: Code, _ reason: String, offset: Int = 0) {
        self.code = code
        self.reason = reason
        self.offset = offset
    }

    public var description: String { "uTP error \(code) at byte \(offset): \(reason)" }
}
