import BTWebSeed
import NIOCore

/// How a ``Client`` uses web seeds (BEP 19 `url-list`, and `ws` of magnets once the metadata is known):
/// HTTP(S) servers that hold the torrent's files, asked for whole pieces with ranged GETs beside the peers.
public struct WebSeedSettings: Sendable {
    /// Whether web seeds are used at all (on by default).
    public var isEnabled: Bool
    /// Further web seeds per torrent, by the torrent's wire info-hash (``TorrentHandle/wireInfoHash``), used
    /// besides the torrent's own `url-list`.
    public var additional: [[UInt8]: [String]]
    /// Most bytes one GET asks for: a run of contiguous pieces up to this size (at least one piece).
    public var requestBytes: Int
    /// Per web seed: connections, failures tolerated and back-off (see BTWebSeed's `WebSeedMachine`).
    public var machine: WebSeedMachine.Configuration
    /// Longest wait to connect, for an answer's head, and between two chunks of its body.
    public var timeout: TimeAmount

    /// Web seeds on: 4 connections per web seed, GETs of up to 4 MiB, libtorrent's 20-second timeout.
    public init(
        isEnabled: Bool = true, additional: [[UInt8]: [String]] = [:], requestBytes: Int = 4 << 20,
        machine: WebSeedMachine.Configuration = .init(), timeout: TimeAmount = .seconds(20)
    ) {
        self.isEnabled = isEnabled
        self.additional = additional
        self.requestBytes = max(16 * 1024, requestBytes)
        self.machine = machine
        self.timeout = timeout
    }
}

/// A snapshot of one web seed of a torrent (``TorrentStatus/webSeeds``).
public struct WebSeedStatus: Hashable, Sendable, CustomStringConvertible {
    /// Where the web seed stands.
    public enum State: String, Hashable, Sendable {
        /// Nothing in flight.
        case idle
        /// Requests in flight.
        case requesting
        /// Resting after a failure (see ``lastError``).
        case backingOff
        /// Given up (see ``lastError``).
        case failed
    }

    /// The URL as the torrent (or the settings) give it.
    public var url: String
    /// Where it stands.
    public var state: State
    /// Payload bytes received from it.
    public var downloadedBytes: Int64
    /// Bytes per second over the last few seconds.
    public var downloadRate: Double
    /// GETs in flight.
    public var requestsInFlight: Int
    /// The last failure, if any.
    public var lastError: String?

    /// Creates a snapshot.
    public init(
        url: String, state: State, downloadedBytes: Int64, downloadRate: Double, requestsInFlight: Int,
        lastError: String?
    ) {
        self.url = url
        self.state = state
        self.downloadedBytes = downloadedBytes
        self.downloadRate = downloadRate
        self.requestsInFlight = requestsInFlight
        self.lastError = lastError
    }

    /// `url state bytes`.
    public var description: String {
        "\(url) \(state.rawValue) \(downloadedBytes) B" + (lastError.map { " (\($0))" } ?? "")
    }
}
