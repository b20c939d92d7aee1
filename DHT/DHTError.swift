/// An error raised by the DHT module: a malformed KRPC message, a state file that cannot be loaded, or an
/// argument out of range.
///
/// Modelled on swift-asn1's error type: a struct with an opaque ``Code`` so that new cases can be added
/// without breaking users, and a human ``reason``.
public struct DHTError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure. Compare against the static members (`.malformedMessage`, `.limitExceeded`, ...).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The bytes are not valid bencode.
        public static let invalidBencode = Code("invalidBencode")
        /// Valid bencode that is not a well-formed KRPC message (missing or mistyped key).
        public static let malformedMessage = Code("malformedMessage")
        /// A length or count above the module's explicit maximum.
        public static let limitExceeded = Code("limitExceeded")
        /// A persisted routing table that cannot be read back.
        public static let invalidState = Code("invalidState")
        /// An argument outside what the call accepts.
        public static let invalidArgument = Code("invalidArgument")
        /// The channel of a ``DHTSocketHandler`` closed (or it was never added to one) before a lookup ended.
        public static let channelClosed = Code("channelClosed")
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

    public var description: String { "DHTError.\(code): \(reason)" }
}
