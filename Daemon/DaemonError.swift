/// The one error type of BTDaemon: an opaque code (so cases can be added) and a human reason.
public struct DaemonError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// The request body is not JSON (or nests too deep).
        public static let malformedJSON = Code("malformedJSON")
        /// The JSON is not an RPC request (no method name, wrong types).
        public static let invalidRequest = Code("invalidRequest")
        /// The method is not one the daemon knows.
        public static let unknownMethod = Code("unknownMethod")
        /// An argument is missing, of the wrong type or out of range.
        public static let invalidArgument = Code("invalidArgument")
        /// The engine refused or failed the action.
        public static let engineFailed = Code("engineFailed")
        /// The daemon's state in the config directory cannot be read or written.
        public static let stateFailed = Code("stateFailed")
        /// The RPC server cannot listen.
        public static let bindFailed = Code("bindFailed")
        /// The name of the code.
        public var description: String { name }
    }

    /// What went wrong.
    public let code: Code
    /// Why, for people.
    public let reason: String

    /// An error.
    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    /// `code: reason`.
    public var description: String { "\(code): \(reason)" }
}
