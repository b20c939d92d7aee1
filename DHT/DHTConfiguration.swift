import NIOCore

/// Settings of a ``DHTNode``. Defaults follow libtorrent's where it has one.
public struct DHTConfiguration: Sendable {
    /// Our node id; nil picks one: a BEP 42 id when ``externalAddress`` is known, otherwise a random one.
    public var localID: NodeID?
    /// Our external address, if known (for a BEP 42 id).
    public var externalAddress: DHTEndpoint.IP?
    /// Whether this node serves IPv4 (`nodes`) or IPv6 (`nodes6`) routing; libtorrent runs one node per
    /// address family, and so does this module.
    public var ipv6: Bool
    /// Routing table settings (k, larger top buckets, BEP 42 enforcement).
    public var routingTable: RoutingTableConfiguration
    /// Peer store limits.
    public var peerStore: PeerStoreLimits
    /// Queries served per second per address before it is ignored.
    public var queriesPerSecondPerAddress: Double
    /// Queries in flight per lookup (α; libtorrent's `dht_search_branching` is 5).
    public var alpha: Int
    /// libtorrent's `dht_aggressive_lookups` (on by default there): α counts only the queries in flight to
    /// nodes among the closest of the lookup (those ahead of its k-th answered node), so when an answer names
    /// closer nodes they are queried at once rather than after the queries to farther nodes come back.
    public var aggressiveLookups: Bool
    /// A `get_peers` answer that carries peers also names the k nodes closest to the info-hash, as
    /// libtorrent's does ("always return nodes as well as peers"): a lookup that reaches a storing node
    /// still learns its neighbours, the other storing nodes. At most 100 peers and 8 nodes: about 1,100
    /// bytes, one datagram within a 1,500-byte MTU.
    public var nodesWithPeers: Bool
    /// The `find_node` that confirms a node heard about asks for a random id in that node's bucket
    /// (a Kademlia bucket refresh) rather than for our own id, so the answer feeds that bucket's
    /// replacements: the large top buckets fill, not only our neighbourhood.
    public var confirmationRefreshesBucket: Bool
    /// After this long without an answer, a query stops counting against α and another node is queried in
    /// its place (libtorrent: 1 second).
    public var slowQueryAfter: TimeAmount
    /// After this long without an answer, a query has failed.
    public var queryTimeout: TimeAmount
    /// A lookup ends after this long whatever its state.
    public var lookupTimeout: TimeAmount
    /// How often the table is maintained (questionable nodes pinged, stale buckets refreshed, peers expired).
    public var maintenanceInterval: TimeAmount
    /// How often nodes heard about in answers are pinged to confirm them (``confirmationPings`` at a time).
    public var confirmationInterval: TimeAmount
    /// Nodes pinged per ``confirmationInterval``.
    public var confirmationPings: Int
    /// BEP 43: a read-only node sends `ro` = 1 and answers no queries.
    public var readOnly: Bool
    /// The `v` string sent with every message (nil sends none).
    public var version: [UInt8]?
    /// Seed of the node's random choices (ids, transaction ids, token secrets).
    public var randomSeed: UInt64
    /// Most lookups running at once.
    public var maximumLookups: Int
    /// Most queries of ours awaiting an answer at once.
    public var maximumOutstandingQueries: Int

    /// Creates a configuration.
    public init(
        localID: NodeID? = nil, externalAddress: DHTEndpoint.IP? = nil, ipv6: Bool = false,
        routingTable: RoutingTableConfiguration = .init(), peerStore: PeerStoreLimits = .init(),
        queriesPerSecondPerAddress: Double = 20, alpha: Int = 5, aggressiveLookups: Bool = true,
        nodesWithPeers: Bool = true, confirmationRefreshesBucket: Bool = true,
        slowQueryAfter: TimeAmount = .seconds(1),
        queryTimeout: TimeAmount = .seconds(5), lookupTimeout: TimeAmount = .seconds(30),
        maintenanceInterval: TimeAmount = .seconds(60), confirmationInterval: TimeAmount = .seconds(5),
        confirmationPings: Int = 1, readOnly: Bool = false,
        version: [UInt8]? = Array("NB".utf8) + [0, 1], randomSeed: UInt64 = .random(in: 0...UInt64.max),
        maximumLookups: Int = 64, maximumOutstandingQueries: Int = 1024
    ) {
        self.localID = localID
        self.externalAddress = externalAddress
        self.ipv6 = ipv6
        self.routingTable = routingTable
        self.peerStore = peerStore
        self.queriesPerSecondPerAddress = queriesPerSecondPerAddress
        self.alpha = max(1, min(alpha, 16))
        self.aggressiveLookups = aggressiveLookups
        self.nodesWithPeers = nodesWithPeers
        self.confirmationRefreshesBucket = confirmationRefreshesBucket
        self.slowQueryAfter = slowQueryAfter
        self.queryTimeout = queryTimeout
        self.lookupTimeout = lookupTimeout
        self.maintenanceInterval = maintenanceInterval
        self.confirmationInterval = confirmationInterval
        self.confirmationPings = max(0, min(confirmationPings, 16))
        self.readOnly = readOnly
        self.version = version
        self.randomSeed = randomSeed
        self.maximumLookups = max(1, maximumLookups)
        self.maximumOutstandingQueries = max(1, maximumOutstandingQueries)
    }
}
