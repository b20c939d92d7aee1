import NIOCore

/// The driver of a ``DHTNode`` on one datagram channel: it feeds the node every KRPC datagram with the time
/// it arrived, writes the datagrams the node asks for, runs the node's timer on the event loop (one
/// scheduled task at ``DHTNode/nextDeadline``), and completes the futures of the lookups it started.
///
/// Datagrams that are not KRPC (a KRPC message is a bencoded dictionary, so it starts with `d`; uTP packets
/// start with 0x01, 0x11, 0x21, 0x31 or 0x41, a UDP tracker reply with a 4-byte action) are passed on with
/// `fireChannelRead`, so the handler can share a socket with `BTUTP`'s `UTPSocketHandler` (which passes
/// on what is not uTP) in either order, and with UDP trackers after both.
///
/// The methods must be called on the channel's event loop; each lookup completes the promise it is given
/// with its ``DHTLookupResult``. ``DHTService`` wraps them in `async` functions.
public final class DHTSocketHandler: ChannelInboundHandler {
    public typealias InboundIn = AddressedEnvelope<ByteBuffer>
    public typealias InboundOut = AddressedEnvelope<ByteBuffer>
    public typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    /// The node (its routing table, peer store, statistics).
    public private(set) var node: DHTNode
    /// Datagrams passed on to the next handler because they were not KRPC.
    public private(set) var passedOn = 0
    /// Datagrams the node asked for that could not be addressed (an endpoint NIO cannot represent).
    public private(set) var unsendable = 0
    private var context: ChannelHandlerContext?
    private var waiting: [DHTLookupID: EventLoopPromise<DHTLookupResult>] = [:]
    private var peerListeners: [DHTLookupID: ([DHTEndpoint]) -> Void] = [:]
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    private var needsFlush = false
    private var inReadBurst = false

    /// A handler driving `node`.
    public init(node: DHTNode) {
        self.node = node
    }

    /// A handler driving a new node with `configuration` (and a saved `state`, for a fast restart).
    public convenience init(configuration: DHTConfiguration, state: DHTState? = nil) {
        self.init(node: DHTNode(configuration: configuration, state: state, now: .now()))
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        scheduleTimer()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        timerDeadline = nil
        self.context = nil
        failWaiting(DHTError(.channelClosed, "the DHT handler was removed from its channel"))
    }

    public func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        timerDeadline = nil
        failWaiting(DHTError(.channelClosed, "the DHT channel closed"))
        context.fireChannelInactive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard envelope.data.readableBytes > 0,
            envelope.data.getInteger(at: envelope.data.readerIndex, as: UInt8.self) == UInt8(ascii: "d"),
            let source = DHTEndpoint(envelope.remoteAddress)
        else {
            passedOn += 1
            context.fireChannelRead(data)
            return
        }
        inReadBurst = true
        let bytes = Array(envelope.data.readableBytesView)
        perform(node.receive(bytes, from: source, now: .now()))
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        inReadBurst = false
        scheduleTimer()
        flushIfNeeded()
        context.fireChannelReadComplete()
    }

    // MARK: - Commands

    /// Joins the network through `nodes` (known nodes, which may enter the routing table) and `routers`
    /// (bootstrap only, never kept), and the nodes of the state the node was created with.
    public func bootstrap(nodes: [DHTEndpoint], routers: [DHTEndpoint] = [], promise: EventLoopPromise<DHTLookupResult>)
    {
        start(promise) { node, now in node.bootstrap(from: nodes, routers: routers, now: now) }
    }

    /// Looks up the peers of `infoHash`, then announces to the closest nodes if `announce` is given.
    /// `onPeers` is called on the event loop with each batch of peers not seen before, as answers arrive.
    public func getPeers(
        _ infoHash: NodeID, announce: DHTAnnounce? = nil, onPeers: (([DHTEndpoint]) -> Void)? = nil,
        promise: EventLoopPromise<DHTLookupResult>
    ) {
        start(promise, onPeers: onPeers) { node, now in node.getPeers(infoHash, announce: announce, now: now) }
    }

    /// Looks up the closest nodes to `target`.
    public func findNode(_ target: NodeID, promise: EventLoopPromise<DHTLookupResult>) {
        start(promise) { node, now in node.findNode(target, now: now) }
    }

    /// BEP 44: looks up the item at `target` (`salt` as it was put, for a mutable item).
    public func getItem(_ target: NodeID, salt: [UInt8] = [], promise: EventLoopPromise<DHTLookupResult>) {
        start(promise) { node, now in node.getItem(target, salt: salt, now: now) }
    }

    /// BEP 44: stores `item` at the nodes closest to its target.
    public func putItem(_ item: DHTItem, promise: EventLoopPromise<DHTLookupResult>) {
        start(promise) { node, now in node.putItem(item, now: now) }
    }

    /// BEP 33: the merged bloom filters of the seeds and downloaders of `infoHash`.
    public func scrape(_ infoHash: NodeID, promise: EventLoopPromise<DHTLookupResult>) {
        start(promise) { node, now in node.scrape(infoHash, now: now) }
    }

    /// BEP 51: info-hashes sampled from the nodes closest to `target`.
    public func sampleInfohashes(_ target: NodeID, promise: EventLoopPromise<DHTLookupResult>) {
        start(promise) { node, now in node.sampleInfohashes(target, now: now) }
    }

    /// Pings `endpoint` (a node learnt from a BEP 5 `port` message); its answer adds it to the routing table.
    public func ping(_ endpoint: DHTEndpoint) {
        guard context != nil else { return }
        perform(node.ping(endpoint, now: .now()))
        scheduleTimer()
        flushIfNeeded()
    }

    /// Starts a lookup whose result completes `promise` (failed with `.channelClosed` if the handler is not
    /// in a channel).
    private func start(
        _ promise: EventLoopPromise<DHTLookupResult>, onPeers: (([DHTEndpoint]) -> Void)? = nil,
        _ body: (inout DHTNode, NIODeadline) -> (DHTLookupID, [DHTAction])
    ) {
        guard context != nil else {
            promise.fail(DHTError(.channelClosed, "the DHT handler is not in an open channel"))
            return
        }
        let (id, actions) = body(&node, .now())
        // Registered before the actions run: a refused lookup completes among them at once.
        waiting[id] = promise
        peerListeners[id] = onPeers
        perform(actions)
        scheduleTimer()
        flushIfNeeded()
    }

    // MARK: - Actions and time

    private func perform(_ actions: [DHTAction]) {
        for action in actions {
            switch action {
            case .send(let datagram, let endpoint):
                guard let context, let address = try? endpoint.socketAddress() else {
                    unsendable += 1
                    continue
                }
                let envelope = AddressedEnvelope(
                    remoteAddress: address, data: context.channel.allocator.buffer(bytes: datagram))
                context.write(wrapOutboundOut(envelope), promise: nil)
                needsFlush = true
            case .peersFound(let id, let peers):
                peerListeners[id]?(peers)
            case .lookupCompleted(let result):
                peerListeners[result.id] = nil
                waiting.removeValue(forKey: result.id)?.succeed(result)
            }
        }
    }

    private func flushIfNeeded() {
        guard needsFlush, !inReadBurst, let context else { return }
        needsFlush = false
        context.flush()
    }

    private func scheduleTimer() {
        guard let context else { return }
        let deadline = node.nextDeadline
        if let timerDeadline, timerDeadline == deadline, timer != nil { return }
        timer?.cancel()
        timerDeadline = deadline
        // The task runs on the handler's own loop: NIOLoopBound says so to the compiler.
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: deadline) {
            let this = handler.value
            this.timer = nil
            this.timerDeadline = nil
            guard this.context != nil else { return }
            this.perform(this.node.tick(now: .now()))
            this.scheduleTimer()
            this.flushIfNeeded()
        }
    }

    private func failWaiting(_ error: DHTError) {
        let promises = waiting.values
        waiting = [:]
        peerListeners = [:]
        for promise in promises { promise.fail(error) }
    }
}

/// Removable: a node sharing a socket with uTP is taken off it (``DHTSocketHandler/handlerRemoved(context:)``
/// fails its lookups) while uTP goes on.
extension DHTSocketHandler: RemovableChannelHandler {}

@available(*, unavailable)
extension DHTSocketHandler: Sendable {}
