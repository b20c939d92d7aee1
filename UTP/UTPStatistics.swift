/// Counters of one connection.
public struct UTPStatistics: Hashable, Sendable {
    /// Packets sent, retransmissions and acknowledgements included.
    public var packetsSent = 0
    /// Packets received and accepted.
    public var packetsReceived = 0
    /// Packets sent again (timeouts and fast retransmits).
    public var retransmissions = 0
    /// Packets resent because of duplicate or selective ACKs.
    public var fastRetransmissions = 0
    /// Retransmission timeouts.
    public var timeouts = 0
    /// Packets that arrived out of order and waited in the reorder buffer.
    public var packetsReordered = 0
    /// Stream bytes delivered in order.
    public var bytesDelivered = 0
    /// Selective ACKs sent again while a hole was open and the peer silent
    /// (``UTPConfiguration/holeAcknowledgementInterval``).
    public var holeAcknowledgementsResent = 0
}
