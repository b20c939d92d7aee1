/// Why an engine operation was rejected.
///
/// A struct with an opaque ``Code`` (new cases can be added without breaking users), a human reason and,
/// for text parsers such as ``IPFilter/parse(_:)``, the 1-based line the problem was found on.
public struct EngineError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure; compare against the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        package init(_ name: String) { self.name = name }
        /// The code's name.
        public var description: String { name }

        /// An IP address that cannot be parsed.
        public static let invalidAddress = Code("invalidAddress")
        /// A line of an IP filter list that is neither a range, a CIDR block, a comment nor blank.
        public static let invalidFilterLine = Code("invalidFilterLine")
        /// A range whose first address is after its last, or whose ends are of different families.
        public static let invalidRange = Code("invalidRange")
        /// A configuration value out of its allowed range (a negative limit, a priority above 7, ...).
        public static let invalidConfiguration = Code("invalidConfiguration")
        /// A list or table would grow past its configured bound.
        public static let limitExceeded = Code("limitExceeded")
    }

    /// What went wrong.
    public let code: Code
    /// A human readable explanation.
    public let reason: String
    /// The 1-based line of the input the error was found on, for text parsers.
    public let line: Int?

    /// Creates an error.
    public init(_ code: Code, _ reason: String, line: Int? = nil) {
        self.code = code
        self.reason = reason
        self.line = line
    }

    /// The reason, prefixed with the line number when there is one.
    public var description: String { line.map { "line \($0): \(reason)" } ?? reason }
}
