import NIOCore

/// Serving our info dictionary to peers (BEP 9 `ut_metadata`), without I/O.
///
/// Every `request` is answered: `data` with the 16 KiB piece and `total_size`, or `reject` when we have no
/// metadata (a torrent still fetching it), the piece is out of range, or the peer went over its rate limit:
/// at most ``Configuration/maxRequestsPerInterval`` requests per ``Configuration/interval``, every request
/// counted, rejected ones included, so a peer cannot make us copy the dictionary over and over.
///
/// ```swift
/// var server = MetadataServe<PeerEndpoint>(infoDictionary: torrent.infoBytes)
/// handshake.metadataSize = server.metadataSize
/// let answer = server.answer(.request(piece: 0), from: peer, now: .now())  // .data(...) or .reject(...)
/// ```
public struct MetadataServe<Peer: Hashable & Sendable>: Sendable {
    /// The per-peer rate limit.
    public struct Configuration: Hashable, Sendable {
        /// Most requests one peer may make in one interval.
        public var maxRequestsPerInterval: Int
        /// The rate limit's window.
        public var interval: TimeAmount
        /// Most peers whose counts are kept; the oldest windows are forgotten beyond it.
        public var maxTrackedPeers: Int

        /// Creates a configuration. The default allows a peer the whole of a 4 MiB dictionary (256 pieces)
        /// about once a minute.
        public init(maxRequestsPerInterval: Int = 256, interval: TimeAmount = .seconds(60), maxTrackedPeers: Int = 4096)
        {
            self.maxRequestsPerInterval = maxRequestsPerInterval
            self.interval = interval
            self.maxTrackedPeers = maxTrackedPeers
        }
    }

    private struct Window: Sendable {
        var start: NIODeadline
        var count: Int
    }

    /// The limits in force.
    public let configuration: Configuration
    /// The info dictionary's bytes, once known.
    public private(set) var infoDictionary: [UInt8]?
    private var windows: [Peer: Window] = [:]

    /// A server for `infoDictionary` (nil while we have none).
    public init(infoDictionary: [UInt8]?, configuration: Configuration = Configuration()) {
        self.infoDictionary = infoDictionary
        self.configuration = configuration
    }

    /// The `metadata_size` to put in our extension handshake (nil while we have no metadata).
    public var metadataSize: Int? { infoDictionary?.count }

    /// Number of metadata pieces (0 while we have none).
    public var pieceCount: Int {
        guard let count = infoDictionary?.count else { return 0 }
        return (count + MetadataMessage.pieceSize - 1) / MetadataMessage.pieceSize
    }

    /// Sets the dictionary once it is known (fetched and verified).
    public mutating func setInfoDictionary(_ bytes: [UInt8]) { infoDictionary = bytes }

    /// The answer to a message from `peer`: `data` or `reject` for a `request`; nil for anything else
    /// (`data` and `reject` are the fetcher's business).
    public mutating func answer(_ message: MetadataMessage, from peer: Peer, now: NIODeadline) -> MetadataMessage? {
        guard case .request(let piece) = message else { return nil }
        guard admit(peer, now: now), let infoDictionary, piece >= 0, piece < pieceCount else {
            return .reject(piece: piece)
        }
        let start = piece * MetadataMessage.pieceSize
        let end = min(start + MetadataMessage.pieceSize, infoDictionary.count)
        return .data(piece: piece, totalSize: infoDictionary.count, data: Array(infoDictionary[start..<end]))
    }

    /// Forgets a peer's count (its connection closed).
    public mutating func peerLeft(_ peer: Peer) { windows[peer] = nil }

    /// Counts one request of `peer`; false when it is over the limit.
    private mutating func admit(_ peer: Peer, now: NIODeadline) -> Bool {
        if var window = windows[peer], now < window.start + configuration.interval {
            window.count += 1
            windows[peer] = window
            return window.count <= configuration.maxRequestsPerInterval
        }
        if windows[peer] == nil && windows.count >= configuration.maxTrackedPeers {
            // Forget the windows that have ended; if every one is live, the oldest.
            windows = windows.filter { now < $0.value.start + configuration.interval }
            if windows.count >= configuration.maxTrackedPeers,
                let oldest = windows.min(by: { $0.value.start < $1.value.start })?.key
            {
                windows[oldest] = nil
            }
        }
        windows[peer] = Window(start: now, count: 1)
        return configuration.maxRequestsPerInterval >= 1
    }
}
