/// An error raised while decoding or encoding bencode.
///
/// Modelled on swift-asn1's error type: a struct with an opaque ``Code`` so that new cases can be added
/// without breaking users, a byte ``offset`` into the input and a human ``reason``.
public struct BencodeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure. Compare against the static members (`.leadingZero`, `.unsortedKeys`, ...).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The input ended before the value did.
        public static let unexpectedEnd = Code("unexpectedEnd")
        /// A byte that cannot start or continue a value at this position.
        public static let unexpectedByte = Code("unexpectedByte")
        /// An integer or string length with a superfluous leading zero (`i03e`, `03:abc`).
        public static let leadingZero = Code("leadingZero")
        /// The integer `i-0e`, which bencode forbids.
        public static let negativeZero = Code("negativeZero")
        /// An integer with no digits, or a non-digit where a digit was required.
        public static let invalidInteger = Code("invalidInteger")
        /// An integer outside the range of `Int64`.
        public static let integerOverflow = Code("integerOverflow")
        /// A string length that is not a run of decimal digits followed by `:`.
        public static let invalidLength = Code("invalidLength")
        /// A string whose declared length runs past the end of the input.
        public static let lengthPastEnd = Code("lengthPastEnd")
        /// A dictionary key that is not a byte string.
        public static let nonStringKey = Code("nonStringKey")
        /// Dictionary keys not in ascending byte order (strict mode only).
        public static let unsortedKeys = Code("unsortedKeys")
        /// The same dictionary key twice.
        public static let duplicateKey = Code("duplicateKey")
        /// A dictionary with a key and no value.
        public static let missingValue = Code("missingValue")
        /// Bytes after the end of the top-level value.
        public static let trailingBytes = Code("trailingBytes")
        /// Containers nested deeper than ``BencodeDecodingOptions/maxDepth``.
        public static let depthLimitExceeded = Code("depthLimitExceeded")
        /// More values than ``BencodeDecodingOptions/maxTokens``.
        public static let tokenLimitExceeded = Code("tokenLimitExceeded")
        /// The input is larger than a document may be (4 GiB).
        public static let inputTooLarge = Code("inputTooLarge")
        /// A value had a different type than expected (Codable and typed accessors).
        public static let typeMismatch = Code("typeMismatch")
        /// A required dictionary key was absent (Codable).
        public static let keyNotFound = Code("keyNotFound")
        /// A value cannot be represented in bencode (Codable: floating point, nil in a list, ...).
        public static let unsupportedValue = Code("unsupportedValue")
    }

    /// What went wrong.
    public let code: Code
    /// Byte offset into the input where the problem was found (0 when not applicable, e.g. encoding).
    public let offset: Int
    /// A human readable explanation.
    public let reason: String

    /// Creates an error.
    public init(_ code: Code, at offset: Int, _ reason: String) {
        self.code = code
        self.offset = offset
        self.reason = reason
    }

    public var description: String { "bencode error \(code) at byte \(offset): \(reason)" }
}
