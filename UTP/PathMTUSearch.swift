/// Path MTU discovery for one uTP connection: a binary search for the largest datagram that crosses the path,
/// between a floor known to work and a ceiling (the interface MTU less the IP and UDP headers), as libtorrent
/// does it (`utp_socket_impl::update_mtu_limits`): data packets are sent at the floor; now and then one packet
/// is a probe of the search's midpoint. An acknowledged probe raises the floor to its size, a lost one lowers
/// the ceiling below it, and the next probe takes the new midpoint, until floor and ceiling meet.
///
/// Where it differs from libtorrent: libtorrent's probe carries more payload than a floor-sized packet and is
/// resent, once lost, with the don't-fragment bit cleared, so it crosses the path only if routers fragment it.
/// Here a probe carries a floor-sized packet's payload and is padded up to the probe size with an extension
/// (``UTPPacket/paddingExtensionType``) that every implementation skips (libutp and libtorrent ignore unknown
/// extension types), so a lost probe is resent without the padding, at the floor's size, which crosses the
/// path. The padding bounds a probe's size to the floor plus ``maximumPadding``; a search towards a far
/// ceiling (65,507 bytes on loopback) climbs in steps of that size.
///
/// A lost probe is not a congestion signal (libtorrent: "don't consider a lost probe as proper loss"); the
/// connection does not cut its window for it.
public struct PathMTUSearch: Hashable, Sendable {
    /// The most padding one probe carries: ``UTPPacket/maximumExtensionCount`` extensions of 255 bytes each, less
    /// one entry left free for a selective ACK, with their 2-byte headers.
    public static let maximumPadding = (UTPPacket.maximumExtensionCount - 1) * 257

    /// The largest datagram known to cross the path (data packets are this size).
    public private(set) var floor: Int
    /// The largest datagram that may cross the path.
    public private(set) var ceiling: Int
    /// The sequence number of the probe in flight, nil if none.
    public private(set) var probeSequence: UInt16?
    /// Probes sent, acknowledged and lost.
    public private(set) var probesSent = 0
    /// Probes acknowledged (each raised the floor).
    public private(set) var probesAcknowledged = 0
    /// Probes lost (each lowered the ceiling).
    public private(set) var probesLost = 0

    /// A search between `floor` and `ceiling` datagram bytes (a floor above the ceiling is lowered to it).
    public init(floor: Int, ceiling: Int) {
        self.ceiling = max(UTPPacket.headerSize + 1, ceiling)
        self.floor = min(max(UTPPacket.headerSize + 1, floor), self.ceiling)
    }

    /// Whether floor and ceiling have met: no more probes.
    public var isSettled: Bool { floor >= ceiling }

    /// The size of the next probe: the midpoint of the search, within ``maximumPadding`` of the floor.
    public var probeSize: Int { min((floor + ceiling + 1) / 2, floor + Self.maximumPadding) }

    /// Whether the next data packet should be a probe: the search is not over, no probe is in flight, and the
    /// congestion window holds more than three floor-sized packets, so that packets sent around the probe tell
    /// its loss apart from a loss of everything (libtorrent's rule).
    public func shouldProbe(congestionWindow: Int) -> Bool {
        !isSettled && probeSequence == nil && congestionWindow > 3 * floor
    }

    /// Notes that the packet `sequence` leaves as a probe of ``probeSize``.
    mutating func probeSent(sequence: UInt16) {
        probeSequence = sequence
        probesSent += 1
    }

    /// The probe of `size` bytes arrived: the floor rises to it.
    mutating func probeAcknowledged(size: Int) {
        probeSequence = nil
        probesAcknowledged += 1
        floor = min(ceiling, max(floor, size))
    }

    /// The probe of `size` bytes was lost: the ceiling falls below it.
    mutating func probeLost(size: Int) {
        probeSequence = nil
        probesLost += 1
        ceiling = max(floor, size - 1)
    }

    /// The probe's fate is unknown (a timeout took every packet in flight with it): forget it, change nothing.
    mutating func probeAbandoned() {
        probeSequence = nil
    }
}
