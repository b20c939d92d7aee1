/// Why bytes from a peer could not be decoded, or a message could not be built.
///
/// A struct with an opaque ``Code`` (new cases can be added without breaking users) and a human reason,
/// like `BTBencode/BencodeError`. Decoders throw it; the per-peer state machine turns it into a
/// ``DisconnectReason`` (a peer's misbehaviour ends the connection, it does not unwind the engine).
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure; compare against the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The handshake does not start with `\u{13}BitTorrent protocol` (BEP 3).
        public static let invalidProtocolString = Code("invalidProtocolString")
        /// A message's length prefix exceeds ``PeerMessageDecoder/Limits/maxMessageLength``, or what its id
        /// allows (a `piece` longer than a block, an extension or unknown message past its limit).
        public static let messageTooLong = Code("messageTooLong")
        /// A message's payload length does not fit its type (e.g. `have` that is not 4 bytes).
        public static let invalidMessageLength = Code("invalidMessageLength")
        /// A bitfield with the wrong length for the piece count, or with spare bits set (BEP 3).
        public static let invalidBitfield = Code("invalidBitfield")
        /// A piece index at or beyond the torrent's piece count.
        public static let pieceIndexOutOfRange = Code("pieceIndexOutOfRange")
        /// A request (or cancel, reject) asking for more than ``PeerMessageDecoder/Limits/maxRequestLength``
        /// bytes, or for zero bytes.
        public static let invalidRequestLength = Code("invalidRequestLength")
        /// A bencoded extension payload that is not valid bencode or has the wrong shape (BEP 10, 9, 11).
        public static let invalidExtensionPayload = Code("invalidExtensionPayload")
        /// An extension dictionary, PEX list or metadata piece beyond the configured bound.
        public static let extensionLimitExceeded = Code("extensionLimitExceeded")
        /// A value that cannot be encoded (e.g. an index above 2^32-1 or an address of the wrong size).
        public static let unencodable = Code("unencodable")
    }

    /// What went wrong.
    public let code: Code
    /// A human readable explanation.
    public let reason: String

    /// Creates an error.
    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "wire error \(code): \(reason)" }
}
