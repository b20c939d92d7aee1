import NIOCore

/// The limits and timers of one uTP connection. The defaults follow libutp and libtorrent where BEP 29 is
/// silent; each says where it comes from.
public struct UTPConfiguration: Hashable, Sendable {
    /// The largest datagram this side sends (uTP header included): the ceiling of path MTU discovery, the
    /// interface MTU less the IPv4 and UDP headers (libtorrent: 1,500 - 20 - 8 = 1,472 bytes). Drivers take 20
    /// bytes off it for IPv6 destinations (a 40-byte IP header), as libtorrent's `mtu_for_dest` does.
    public var maximumDatagramSize = 1472
    /// The floor of path MTU discovery (``PathMTUSearch``): data packets are this size until probes show that
    /// larger ones cross the path. 1,400 bytes, the size every packet had before discovery, fit any path with a
    /// 1,500-byte MTU and tunnels on the way (libutp sends 1,435-byte packets), so a connection starts at full
    /// speed; libtorrent starts lower, at 548 bytes (the IPv4 minimum MTU of 576 less the IP and UDP headers),
    /// which finds paths below 1,428 bytes too. Equal to ``maximumDatagramSize`` (or above it), it turns
    /// discovery off: every full packet is ``maximumDatagramSize`` bytes.
    public var minimumDatagramSize = 1400
    /// The most bytes accepted by ``UTPConnection/write(_:now:)`` and not yet acknowledged.
    public var sendBufferSize = 1 << 20
    /// The receive buffer: out-of-order bytes held for reordering. Advertised as `wnd_size`.
    public var receiveBufferSize = 1 << 20
    /// The most packets kept out of order (libutp `REORDER_BUFFER_MAX_SIZE`: 1,024); packets further ahead
    /// are dropped.
    public var maximumReorderPackets = 1024
    /// The most packets in flight (libutp `OUTGOING_BUFFER_MAX_SIZE`: 1,024).
    public var maximumPacketsInFlight = 1024
    /// The sender's congestion control: LEDBAT (BEP 29, the default) or LEDBAT++; the receiver is the same.
    public var congestionControl = LEDBAT.Variant.ledbat
    /// The queuing delay target; nil takes the algorithm's (LEDBAT 100 ms, LEDBAT++ 60 ms).
    public var targetDelay: TimeAmount? = nil
    /// LEDBAT's most window growth per round trip (BEP 29, libutp: 3,000 bytes).
    public var gainBytesPerRoundTrip = 3000
    /// The retransmission timeout before the first RTT sample (BEP 29: 1 s).
    public var initialTimeout: TimeAmount = .milliseconds(1000)
    /// The floor of the retransmission timeout (BEP 29, libtorrent `utp_min_timeout`: 500 ms).
    public var minimumTimeout: TimeAmount = .milliseconds(500)
    /// The SYN's first retransmission timeout (libutp and libtorrent: 3 s), doubled on every resend.
    public var synTimeout: TimeAmount = .seconds(3)
    /// How many times a SYN is sent before the connection attempt fails. libutp gives up after two timed-out
    /// transmissions (`retransmit_count >= 2` in `CS_SYN_SENT`), libtorrent after `utp_syn_resends` = 2.
    public var maximumSynTransmissions = 2
    /// How long an accepted connection waits for the initiator's first data (libutp drops it at the first
    /// timeout; data is what proves the initiator's address is real).
    public var acceptTimeout: TimeAmount = .seconds(10)
    /// Consecutive retransmission timeouts after which the connection is dead (libutp: 4).
    public var maximumConsecutiveTimeouts = 4
    /// An ST_STATE is sent after this long without sending anything, to keep NAT mappings alive (libutp
    /// `KEEPALIVE_INTERVAL`: 29 s, "determined from measuring many home NAT devices").
    public var keepAliveInterval: TimeAmount = .seconds(29)
    /// The connection closes after this long without receiving anything.
    public var idleTimeout: TimeAmount = .seconds(120)
    /// After our FIN is acknowledged, how long to wait for the peer's FIN before closing anyway.
    public var lingerTimeout: TimeAmount = .seconds(10)
    /// While a hole in the peer's stream is open, how long the peer may stay silent before the connection is
    /// declared dead (``UTPCloseReason/peerSilent``); the timeout is at least 16 retransmission timeouts, longer
    /// than any live sender waits before resending the packet that fills the hole. libtorrent gives up on a
    /// packet after 3 resends without telling the receiver (`utp_num_resends`), and libutp after 4 timeouts:
    /// without this, a receiver notices only when it next sends data, or after ``idleTimeout``.
    public var silentPeerTimeout: TimeAmount = .seconds(15)
    /// While a hole is open and the peer is silent, the selective ACK is sent again after this long (at least one
    /// retransmission timeout), in case the ACKs that would make the sender resend were lost.
    public var holeAcknowledgementInterval: TimeAmount = .seconds(2)
    /// Duplicate ACKs (or selectively acknowledged later packets) that make a packet lost (BEP 29, libutp: 3).
    public var duplicateAcksBeforeResend = 3

    /// The defaults.
    public init() {}

    /// The payload bytes of a data packet of ``maximumDatagramSize``.
    public var maximumPayloadSize: Int { max(1, maximumDatagramSize - UTPPacket.headerSize) }
}
