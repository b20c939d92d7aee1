/// The one error type of BTTracker.
///
/// Modelled on swift-asn1's error: a struct with an opaque ``Code`` (so new kinds can be added without
/// breaking users) and a human ``reason``. A tracker's own `failure reason` arrives as ``Code/trackerFailure``
/// with the tracker's text as the reason.
public struct TrackerError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure. Compare against the static members (`.timeout`, `.trackerFailure`, ...).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        init(_ name: String) { self.name = name }
        /// The code's name.
        public var description: String { name }

        /// The tracker answered with `failure reason` (HTTP) or an error action (UDP).
        public static let trackerFailure = Code("trackerFailure")
        /// The response was not valid bencode or lacked a required field.
        public static let malformedResponse = Code("malformedResponse")
        /// A UDP packet was too short, had an unknown action or a wrong transaction id.
        public static let malformedPacket = Code("malformedPacket")
        /// The response body exceeded the configured size cap.
        public static let responseTooLarge = Code("responseTooLarge")
        /// No answer within the configured time (HTTP) or after every retransmission (UDP).
        public static let timeout = Code("timeout")
        /// A socket-level error: connection refused, unreachable, reset, DNS failure.
        public static let connectionFailed = Code("connectionFailed")
        /// An HTTP status other than 200, or too many redirects.
        public static let httpStatus = Code("httpStatus")
        /// The tracker URL could not be parsed or uses an unsupported scheme.
        public static let invalidURL = Code("invalidURL")
        /// The address policy refused to contact the tracker's host (request-forgery protection).
        public static let addressRefused = Code("addressRefused")
        /// The tracker has no scrape convention (BEP 48) for this URL.
        public static let scrapeUnsupported = Code("scrapeUnsupported")
        /// The request was cancelled (for example because the torrent was removed).
        public static let cancelled = Code("cancelled")
    }

    /// What kind of failure this is.
    public let code: Code
    /// A human-readable explanation (for ``Code/trackerFailure``, the tracker's own words).
    public let reason: String

    /// Creates an error.
    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    /// `"<code>: <reason>"`.
    public var description: String { "\(code): \(reason)" }
}
