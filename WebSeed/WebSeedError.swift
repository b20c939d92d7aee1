/// The one error type of BTWebSeed.
///
/// Modelled on swift-asn1's error: a struct with an opaque ``Code`` (so new kinds can be added without
/// breaking users) and a human ``reason``. A server's `503` arrives as ``Code/unavailable`` with the
/// `Retry-After` it sent, if any, in ``retryAfterSeconds``.
public struct WebSeedError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure. Compare against the static members (`.timeout`, `.wrongLength`, ...).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        init(_ name: String) { self.name = name }
        /// The code's name.
        public var description: String { name }

        /// The web seed URL could not be parsed or uses a scheme other than `http` or `https`.
        public static let invalidURL = Code("invalidURL")
        /// The server answered with a status that is neither content nor a redirect (404, 500, ...).
        public static let httpStatus = Code("httpStatus")
        /// The server is temporarily unavailable (`503`, or `429`): retry after ``WebSeedError/retryAfterSeconds``.
        public static let unavailable = Code("unavailable")
        /// A `206` without a valid `Content-Range`, or one naming other bytes than those asked for; a `200` to a
        /// request for part of a file.
        public static let badContentRange = Code("badContentRange")
        /// The body is longer or shorter than the range asked for.
        public static let wrongLength = Code("wrongLength")
        /// The address policy refused to contact the host (request-forgery protection), on any redirect hop.
        public static let addressRefused = Code("addressRefused")
        /// A redirect without `Location`, to another scheme, or more redirects than allowed.
        public static let badRedirect = Code("badRedirect")
        /// A socket-level error: connection refused, reset, TLS failure, DNS failure.
        public static let connectionFailed = Code("connectionFailed")
        /// No answer (or no body bytes) within the configured time.
        public static let timeout = Code("timeout")
        /// A piece built from the web seed's bytes failed its hash check.
        public static let corruptData = Code("corruptData")
        /// The request was cancelled (the torrent was paused or removed, or the web seed dropped).
        public static let cancelled = Code("cancelled")
    }

    /// What kind of failure this is.
    public let code: Code
    /// A human-readable explanation.
    public let reason: String
    /// The server's `Retry-After`, in seconds, for ``Code/unavailable``; nil when it sent none we can read.
    public let retryAfterSeconds: Int?

    /// Creates an error.
    public init(_ code: Code, _ reason: String, retryAfterSeconds: Int? = nil) {
        self.code = code
        self.reason = reason
        self.retryAfterSeconds = retryAfterSeconds
    }

    /// `"<code>: <reason>"`.
    public var description: String { "\(code): \(reason)" }
}
