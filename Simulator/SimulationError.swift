/// Why a simulation could not run (the module's one error type).
public struct SimulationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, as an opaque code so cases can be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// The swarm's description is unusable (no seed, counts out of range, sizes not positive).
        public static let invalidSwarm = Code("invalidSwarm")
        /// The torrent, a client or a torrent of a client could not be set up.
        public static let setupFailed = Code("setupFailed")
        /// The code's name.
        public var description: String { name }
    }

    /// The kind of failure.
    public let code: Code
    /// A human explanation.
    public let reason: String

    /// An error of `code` explained by `reason`.
    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    /// `code: reason`.
    public var description: String { "\(code): \(reason)" }
}
