import BTTracker
import NIOCore

/// The client's local service discovery (BEP 14): announces its torrents on the local network's multicast
/// group and dials the peers that announce the same torrents there (tagged `PeerSource.lsd`).
/// ``ClientConfiguration/localDiscovery`` is nil by default, unlike libtorrent's `enable_lsd`: a client made by
/// a program or a test multicasts nothing unless asked to (`nbt` turns it on unless given `--no-lsd`).
public struct LocalDiscoverySettings: Sendable {
    /// Timing and rate limits of announces and of accepted messages.
    public var announcer: LocalDiscoveryAnnouncer.Configuration
    /// The IPv4 address of the interface to join the group on and send from (libtorrent: the listen
    /// address); nil: the client's host when it is a specific address, else the interface the kernel routes
    /// the group to.
    public var interfaceAddress: String?
    /// Makes the UDP socket on the engine's event loop, bound to port 6771 with address reuse (every client on
    /// the host shares the port). Nil: bound to 0.0.0.0:6771. Tests give a socket made in a network namespace
    /// of their own; the engine joins the group and sets the multicast options on it either way.
    public var makeChannel: (@Sendable (any EventLoop) async throws -> any Channel)?

    /// Settings with libtorrent's timing (an announce when a torrent starts, repeated after 2 s and 4 s, then
    /// every 5 minutes).
    public init(
        announcer: LocalDiscoveryAnnouncer.Configuration = LocalDiscoveryAnnouncer.Configuration(),
        interfaceAddress: String? = nil
    ) {
        self.announcer = announcer
        self.interfaceAddress = interfaceAddress
        self.makeChannel = nil
    }
}
