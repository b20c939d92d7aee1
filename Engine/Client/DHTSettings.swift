import BTDHT
import NIOCore

/// The client's DHT (BEP 5): where it joins the network, where its routing table is kept between runs, and
/// how often torrents are looked up and announced. ``ClientConfiguration/dht`` is nil by default: a client
/// made by a program (or a test) speaks to no DHT node unless asked to.
public struct DHTSettings: Sendable {
    /// Nodes to bootstrap from (`host:port`, numeric addresses), kept in the routing table when they answer.
    public var bootstrapNodes: [String]
    /// Routers to bootstrap from (`host:port`): used to join only, never kept in the routing table (as
    /// libtorrent treats its `dht_bootstrap_nodes`). ``publicRouters`` are the ones users' clients use.
    public var routers: [String]
    /// Where the routing table is saved at shutdown and read at start (a fast restart); nil: not kept.
    public var statePath: String?
    /// How often each torrent is looked up and announced (libtorrent's `dht_announce_interval`: 15 minutes).
    public var announceInterval: Duration
    /// The node's own settings (timeouts, limits, BEP 42 enforcement, ...).
    public var node: DHTConfiguration
    /// Makes the node's UDP socket on the engine's event loop, given the client's host and listen port (the
    /// DHT uses the TCP port's number, as libtorrent does). Nil: a socket bound to `host:port` (or to any
    /// port when that one is taken). Tests give a socket made in a network namespace of their own.
    public var makeChannel: (@Sendable (any EventLoop, String, Int) async throws -> any Channel)?

    /// The well-known public routers (for a user's real network; never used by a test).
    public static let publicRouters = [
        "router.bittorrent.com:6881", "dht.transmissionbt.com:6881", "router.utorrent.com:6881",
        "dht.libtorrent.org:25401",
    ]

    /// DHT settings bootstrapping from `bootstrapNodes` and `routers` (both empty: the node waits for peers
    /// that send a `port` message).
    public init(
        bootstrapNodes: [String] = [], routers: [String] = [], statePath: String? = nil,
        announceInterval: Duration = .seconds(15 * 60), node: DHTConfiguration = DHTConfiguration()
    ) {
        self.bootstrapNodes = bootstrapNodes
        self.routers = routers
        self.statePath = statePath
        self.announceInterval = announceInterval
        self.node = node
        self.makeChannel = nil
    }
}
