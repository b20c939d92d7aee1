/// What happened while talking to a tracker: the `tracker_*` events of Net::BitTorrent's catalogue as a typed
/// enum. Every case names the tracker by its announce URL.
public enum TrackerEvent: Sendable, Hashable {
    /// A TCP connection to an HTTP(S) tracker is being made, and why (nil for a scrape).
    /// Not raised for UDP trackers, which are connection-less.
    case connect(tracker: String, event: AnnounceEvent?)
    /// The HTTP(S) exchange ended (after success or failure). Not raised for UDP trackers.
    case disconnect(tracker: String)
    /// An announce succeeded.
    case success(tracker: String, TrackerSuccess)
    /// An announce or scrape failed: the tracker's reason, or the socket error.
    case failure(tracker: String, TrackerError)
    /// Bytes read from the tracker (HTTP body or UDP datagram).
    case read(tracker: String, bytes: Int)
    /// Bytes written to the tracker (HTTP request head or UDP datagram).
    case write(tracker: String, bytes: Int)

    /// The tracker URL the event is about.
    public var tracker: String {
        switch self {
        case .connect(let t, _), .disconnect(let t), .success(let t, _), .failure(let t, _), .read(let t, _),
            .write(let t, _):
            t
        }
    }
}

/// The payload of ``TrackerEvent/success(tracker:_:)``: seed-004 `tracker_success` fields.
public struct TrackerSuccess: Sendable, Hashable {
    /// Seeders according to the tracker.
    public var complete: Int?
    /// Leechers according to the tracker.
    public var incomplete: Int?
    /// The peers returned.
    public var peers: [TrackerPeer]
    /// The minimum re-announce interval, seconds.
    public var minInterval: Int?
    /// The regular re-announce interval, seconds.
    public var interval: Int

    /// Creates the payload from an announce response.
    public init(_ response: AnnounceResponse) {
        complete = response.complete
        incomplete = response.incomplete
        peers = response.peers
        minInterval = response.minInterval
        interval = response.interval
    }
}
