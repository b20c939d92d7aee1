import NIOCore

/// A DHT node on a datagram channel, used from `async` code: each call hops to the channel's event loop,
/// asks the ``DHTSocketHandler`` there, and returns when the lookup ends.
///
/// BTDHT opens no socket (it depends on NIOCore only): bind a datagram channel with NIOPosix's
/// `DatagramBootstrap` (or share the one uTP uses) and hand it to ``start(on:configuration:state:)``.
public final class DHTService: Sendable {
    /// The datagram channel the node runs on.
    public let channel: any Channel
    /// The driver, usable on the channel's event loop.
    public let handler: NIOLoopBound<DHTSocketHandler>

    /// Wraps a handler already in `channel`'s pipeline (e.g. added next to uTP's handler in a channel
    /// initializer).
    public init(channel: any Channel, handler: NIOLoopBound<DHTSocketHandler>) {
        self.channel = channel
        self.handler = handler
    }

    /// Adds a ``DHTSocketHandler`` at the end of `channel`'s pipeline, driving a new node made with
    /// `configuration` (and `state`, a saved ``DHTState``, for a fast restart).
    public static func start(
        on channel: any Channel, configuration: DHTConfiguration, state: DHTState? = nil
    ) async throws -> DHTService {
        let loop = channel.eventLoop
        let handler = try await loop.submit {
            let handler = DHTSocketHandler(configuration: configuration, state: state)
            try channel.pipeline.syncOperations.addHandler(handler)
            return NIOLoopBound(handler, eventLoop: loop)
        }.get()
        return DHTService(channel: channel, handler: handler)
    }

    /// Joins the network through `nodes` (known nodes) and `routers` (used to bootstrap only, never kept in
    /// the routing table, as libtorrent treats its bootstrap nodes). Returns the `find_node` lookup of our
    /// own id; its ``DHTLookupResult/closest`` are the nodes that answered.
    public func bootstrap(nodes: [DHTEndpoint] = [], routers: [DHTEndpoint] = []) async throws -> DHTLookupResult {
        try await run { $0.bootstrap(nodes: nodes, routers: routers, promise: $1) }
    }

    /// The peers of `infoHash` (BEP 5 `get_peers`), in ``DHTLookupResult/peers``.
    public func getPeers(_ infoHash: NodeID) async throws -> DHTLookupResult {
        try await run { $0.getPeers(infoHash, promise: $1) }
    }

    /// The peers of `infoHash` as they arrive: each element is a batch of peers not seen before in this
    /// lookup, so a download can dial the first ones while the lookup goes on (in the simulated 10,000-node
    /// network the first peers come at a median of about 0.6 s, the lookup ends at about 1.8 s). The
    /// stream finishes when the lookup (and the announce, if `announce` is given) is over, and throws
    /// ``DHTError`` (`.channelClosed`) if the channel closes first.
    public func peers(
        of infoHash: NodeID, announce: DHTAnnounce? = nil
    ) -> AsyncThrowingStream<[DHTEndpoint], any Error> {
        let (stream, continuation) = AsyncThrowingStream<[DHTEndpoint], any Error>.makeStream()
        let loop = channel.eventLoop
        let promise = loop.makePromise(of: DHTLookupResult.self)
        promise.futureResult.whenComplete { result in
            switch result {
            case .success: continuation.finish()
            case .failure(let error): continuation.finish(throwing: error)
            }
        }
        let handler = self.handler
        loop.execute {
            handler.value.getPeers(infoHash, announce: announce, onPeers: { continuation.yield($0) }, promise: promise)
        }
        return stream
    }

    /// Looks up the peers of `infoHash` and announces that we take connections on TCP `port` (nil announces
    /// the UDP port of this socket, `implied_port`) to the closest nodes; ``DHTLookupResult/announcedTo``
    /// says how many.
    public func announce(_ infoHash: NodeID, port: UInt16?, seed: Bool = false) async throws -> DHTLookupResult {
        try await run { $0.getPeers(infoHash, announce: DHTAnnounce(port: port, seed: seed), promise: $1) }
    }

    /// The nodes closest to `target`.
    public func findNode(_ target: NodeID) async throws -> DHTLookupResult {
        try await run { $0.findNode(target, promise: $1) }
    }

    /// BEP 44: the item stored at `target` (with the `salt` it was put with, for a mutable item), verified,
    /// in ``DHTLookupResult/item``.
    public func get(_ target: NodeID, salt: [UInt8] = []) async throws -> DHTLookupResult {
        try await run { $0.getItem(target, salt: salt, promise: $1) }
    }

    /// BEP 44: stores `item` at the nodes closest to its target.
    public func put(_ item: DHTItem) async throws -> DHTLookupResult {
        try await run { $0.putItem(item, promise: $1) }
    }

    /// BEP 33: the seeds' and downloaders' bloom filters of `infoHash`, in ``DHTLookupResult/scrape``.
    public func scrape(_ infoHash: NodeID) async throws -> DHTLookupResult {
        try await run { $0.scrape(infoHash, promise: $1) }
    }

    /// BEP 51: info-hashes sampled from the nodes closest to `target`, in ``DHTLookupResult/samples``.
    public func sample(_ target: NodeID) async throws -> DHTLookupResult {
        try await run { $0.sampleInfohashes(target, promise: $1) }
    }

    /// Pings a node (e.g. one a peer named in a BEP 5 `port` message); if it answers it joins the table.
    public func ping(_ endpoint: DHTEndpoint) {
        let handler = self.handler
        channel.eventLoop.execute { handler.value.ping(endpoint) }
    }

    /// The node's counters and sizes.
    public func statistics() async throws -> DHTServiceStatistics {
        let handler = self.handler
        return try await channel.eventLoop.submit {
            let driver = handler.value
            return DHTServiceStatistics(
                messages: driver.node.statistics, nodes: driver.node.routingTable.count,
                torrents: driver.node.peerStore.torrentCount, peers: driver.node.peerStore.peerCount,
                items: driver.node.itemStore.count, activeLookups: driver.node.activeLookupCount,
                passedOn: driver.passedOn)
        }.get()
    }

    /// The state to save for a fast restart (write ``DHTState/encoded()`` to a file; load it with
    /// ``DHTState/init(decoding:)`` and give it to ``start(on:configuration:state:)``).
    public func state() async throws -> DHTState {
        let handler = self.handler
        return try await channel.eventLoop.submit { handler.value.node.state }.get()
    }

    /// Our node id.
    public func localID() async throws -> NodeID {
        let handler = self.handler
        return try await channel.eventLoop.submit { handler.value.node.localID }.get()
    }

    /// Closes the channel; lookups still running fail with `.channelClosed`.
    public func close() async throws {
        try await channel.close()
    }

    private func run(
        _ body: @escaping @Sendable (DHTSocketHandler, EventLoopPromise<DHTLookupResult>) -> Void
    ) async throws -> DHTLookupResult {
        let loop = channel.eventLoop
        let promise = loop.makePromise(of: DHTLookupResult.self)
        let handler = self.handler
        loop.execute { body(handler.value, promise) }
        return try await promise.futureResult.get()
    }
}

/// The figures of a ``DHTService``.
public struct DHTServiceStatistics: Hashable, Sendable {
    /// Datagram and query counters of the node.
    public var messages: DHTNode.Statistics
    /// Nodes in the routing table.
    public var nodes: Int
    /// Torrents with peers announced to us.
    public var torrents: Int
    /// Peers announced to us.
    public var peers: Int
    /// BEP 44 items stored here.
    public var items: Int
    /// Lookups running.
    public var activeLookups: Int
    /// Datagrams passed on to the next handler because they were not KRPC.
    public var passedOn: Int
}
