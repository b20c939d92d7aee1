import NIOCore

/// One simulated host's link to the network: its access bandwidth each way, one-way latency and loss.
public struct NodeProfile: Sendable, Hashable {
    /// Upload capacity in bytes per second (nil: unlimited). Shared by every connection of the node, in the
    /// order bytes are written.
    public var uploadBytesPerSecond: Int?
    /// Download capacity in bytes per second (nil: unlimited), shared the same way.
    public var downloadBytesPerSecond: Int?
    /// One-way delay this node adds to every byte it sends or receives (a link's delay is the sum of its two
    /// ends').
    public var latency: TimeAmount
    /// Probability that a write is lost once and retransmitted (TCP: it and everything behind it on the
    /// connection arrive a retransmission timeout, 200 ms plus two round trips, later).
    public var loss: Double

    /// A profile; the defaults are a 1 MiB/s up, 4 MiB/s down access link with 20 ms delay and no loss.
    public init(
        uploadBytesPerSecond: Int? = 1 << 20, downloadBytesPerSecond: Int? = 4 << 20,
        latency: TimeAmount = .milliseconds(20), loss: Double = 0
    ) {
        self.uploadBytesPerSecond = uploadBytesPerSecond
        self.downloadBytesPerSecond = downloadBytesPerSecond
        self.latency = latency
        self.loss = loss
    }
}
