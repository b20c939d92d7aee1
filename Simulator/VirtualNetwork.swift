import BTEngine
import Foundation
import NIOCore
import NIOEmbedded

/// A ``BTEngine/PeerTransport`` without sockets: hosts are names in a registry, a connection is a pair of
/// `NIOAsyncTestingChannel`s on the simulation's one `NIOAsyncTestingEventLoop`, and bytes cost virtual time.
///
/// A write leaves its node's uplink after the bytes before it (``NodeProfile/uploadBytesPerSecond``), its
/// write promise completes then (so the engine's back-pressure sees a real send queue), it travels both
/// ends' latency (plus a retransmission timeout when lost), and enters the receiver's downlink queue. Every
/// event is a task on the loop at a virtual instant, and the instants of different senders never coincide
/// (the nanoseconds below 4,096 are the sender's number), so the order of events does not depend on the order
/// in which simultaneous tasks were scheduled: a run repeats from its seed.
///
/// All mutable state is touched on the loop, except the registries, which `lock` guards; hence the
/// unchecked `Sendable`.
public final class VirtualNetwork: PeerTransport, @unchecked Sendable {
    /// The loop every client and connection runs on.
    public let loop: NIOAsyncTestingEventLoop
    private let seed: UInt64
    private let lock = NSLock()
    private var nodes: [String: Node] = [:]  // guarded by lock
    private var acceptors: [String: @Sendable (any Channel) -> EventLoopFuture<Void>] = [:]  // guarded by lock
    private var nextEphemeralPort = 40_000  // guarded by lock
    private var linkCount: UInt64 = 0  // guarded by lock
    /// Every channel not yet closed: a testing channel is kept alive by nothing else, and one dropped while
    /// open is a leak (NIOEmbedded asserts on it).
    private var open: [ObjectIdentifier: NIOAsyncTestingChannel] = [:]  // guarded by lock

    /// A network on `loop` whose random draws (loss) derive from `seed`.
    public init(loop: NIOAsyncTestingEventLoop, seed: UInt64) {
        self.loop = loop
        self.seed = seed
    }

    /// What a node sent and received, in `piece` block payload bytes (what the wire carried, lies included).
    public struct Traffic: Sendable, Hashable {
        /// Block bytes this node's uplink carried.
        public var blockBytesSent = 0
        /// Block bytes delivered to this node.
        public var blockBytesReceived = 0
        /// Every byte delivered to this node (messages, handshakes).
        public var bytesReceived = 0
    }

    /// Adds host `host` (an IP address in text) with `profile` and `behaviour`; `index` orders it (unique).
    public func addNode(host: String, index: Int, profile: NodeProfile, behaviour: PeerBehaviour = .honest) {
        let node = Node(
            index: index, host: host, profile: profile, behaviour: behaviour,
            random: SimulationRandom.derived(seed, UInt64(index)))
        lock.withLock { nodes[host] = node }
    }

    /// The traffic of `host` so far (read it on the loop or once the loop is idle).
    public func traffic(of host: String) -> Traffic { lock.withLock { nodes[host]?.traffic ?? Traffic() } }

    /// Block bytes delivered to `host`, by sender.
    public func blockSources(of host: String) -> [String: Int] {
        lock.withLock { nodes[host]?.blockBytesFrom ?? [:] }
    }

    // MARK: PeerTransport

    public func listen(
        host: String, port: Int, group: any EventLoopGroup,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) async throws -> any PeerListener {
        let chosen = port == 0 ? 6_881 : port
        lock.withLock { acceptors["\(host):\(chosen)"] = initializer }
        return Listener(network: self, key: "\(host):\(chosen)", port: chosen)
    }

    public func connect(
        host: String, port: Int, loop: any EventLoop, timeout: TimeAmount,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) -> EventLoopFuture<any Channel> {
        loop.makeFailedFuture(ChannelError.connectTimeout(timeout))
    }

    public func connect(
        host: String, port: Int, from localHost: String?, loop: any EventLoop, timeout: TimeAmount,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) -> EventLoopFuture<any Channel> {
        let found = lock.withLock {
            () -> (
                accept: (@Sendable (any Channel) -> EventLoopFuture<Void>)?, from: Node?, to: Node?, port: Int,
                link: UInt64
            ) in
            nextEphemeralPort = nextEphemeralPort >= 65_000 ? 40_000 : nextEphemeralPort + 1
            linkCount += 1
            return (
                acceptors["\(host):\(port)"], localHost.flatMap { nodes[$0] }, nodes[host], nextEphemeralPort, linkCount
            )
        }
        guard let accept = found.accept, let near = found.from, let far = found.to,
            let local = try? SocketAddress(ipAddress: near.host, port: found.port),
            let remote = try? SocketAddress(ipAddress: far.host, port: port)
        else {
            // Nobody listens there: refused after the round trip a SYN would take.
            let promise = loop.makePromise(of: (any Channel).self)
            let delay = (found.from?.profile.latency ?? .zero) + (found.to?.profile.latency ?? .zero)
            self.loop.scheduleTask(in: delay * 2) { promise.fail(ChannelError.connectTimeout(timeout)) }
            return promise.futureResult
        }
        let dialler = NIOAsyncTestingChannel(loop: self.loop)
        let acceptor = NIOAsyncTestingChannel(loop: self.loop)
        for channel in [dialler, acceptor] {
            let key = ObjectIdentifier(channel)
            lock.withLock { open[key] = channel }
            channel.closeFuture.whenComplete { _ in _ = self.lock.withLock { self.open.removeValue(forKey: key) } }
        }
        let outgoing = Link(network: self, sender: near, receiver: far)
        let incoming = Link(network: self, sender: far, receiver: near)
        outgoing.peer = acceptor
        incoming.peer = dialler
        outgoing.reverse = incoming
        incoming.reverse = outgoing
        dialler.localAddress = local
        acceptor.localAddress = remote
        // Both ends know their peer's address before any handler runs, as a socket does once accepted: the
        // engine decides on an incoming connection by its address at accept (per-address limits, the accept
        // rate, the IP filter). Without this every incoming connection came from 0.0.0.0 and, after the first
        // burst, all of them were refused as one address past its accept rate.
        dialler.remoteAddress = remote
        acceptor.remoteAddress = local
        do {
            try dialler.pipeline.syncOperations.addHandler(outgoing)
            try acceptor.pipeline.syncOperations.addHandler(incoming)
        } catch {
            return loop.makeFailedFuture(error)
        }
        // The connection is up one round trip after the SYN.
        let promise = loop.makePromise(of: (any Channel).self)
        let roundTrip = (near.profile.latency + far.profile.latency) * 2
        self.loop.scheduleTask(in: roundTrip) {
            initializer(dialler)
                .flatMap { accept(acceptor) }
                // A closed testing channel would still turn active on `connect`: an end the engine closed
                // while setting it up (a refused peer) fails the connection instead.
                .flatMapThrowing { if incoming.isClosed || outgoing.isClosed { throw ChannelError.ioOnClosedChannel } }
                .flatMap { acceptor.connect(to: local) }
                .flatMapThrowing { if incoming.isClosed || outgoing.isClosed { throw ChannelError.ioOnClosedChannel } }
                .flatMap { dialler.connect(to: remote) }
                .map { dialler as any Channel }
                .whenComplete { result in
                    if case .failure = result {
                        dialler.close(promise: nil)
                        acceptor.close(promise: nil)
                    }
                    promise.completeWith(result)
                }
        }
        return promise.futureResult
    }

    /// Closes every connection still open (the end of a run).
    public func closeAll() {
        for channel in lock.withLock({ Array(open.values) }) { channel.close(promise: nil) }
    }

    fileprivate func remove(_ key: String) { _ = lock.withLock { acceptors.removeValue(forKey: key) } }

    private struct Listener: PeerListener {
        let network: VirtualNetwork
        let key: String
        let port: Int

        func close() { network.remove(key) }
    }

    /// One host: its queues, its behaviour on the wire and its counters (loop-confined after creation).
    final class Node: @unchecked Sendable {
        let index: Int
        let host: String
        let profile: NodeProfile
        let behaviour: PeerBehaviour
        var random: SimulationRandom
        var uplinkFreeAt: NIODeadline = .uptimeNanoseconds(0)
        var downlinkFreeAt: NIODeadline = .uptimeNanoseconds(0)
        var traffic = Traffic()
        var blockBytesFrom: [String: Int] = [:]

        init(index: Int, host: String, profile: NodeProfile, behaviour: PeerBehaviour, random: SimulationRandom) {
            self.index = index
            self.host = host
            self.profile = profile
            self.behaviour = behaviour
            self.random = random
        }

        /// An instant at or after `time` whose low nanoseconds are this node's number (see the type's doc).
        func stamp(_ time: NIODeadline) -> NIODeadline {
            let raw = time.uptimeNanoseconds
            let slot = UInt64(index % 4_096)
            let base = raw & ~UInt64(4_095)
            let stamped = base + slot
            return .uptimeNanoseconds(stamped >= raw ? stamped : stamped + 4_096)
        }
    }

    static func duration(_ bytes: Int, _ rate: Int?) -> TimeAmount {
        guard let rate, rate > 0 else { return .zero }
        return .nanoseconds(Int64((Double(bytes) * 1e9 / Double(rate)).rounded(.up)))
    }

    /// One direction of a connection: the sender's outbound end. Buffers writes until a flush, then puts
    /// them on the sender's uplink, the wire and the receiver's downlink, on virtual time.
    final class Link: ChannelOutboundHandler, @unchecked Sendable {
        typealias OutboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        let network: VirtualNetwork
        let sender: Node
        let receiver: Node
        var peer: NIOAsyncTestingChannel?
        weak var reverse: Link?
        private var filter: PeerStreamFilter
        private var pending: [(ByteBuffer, EventLoopPromise<Void>?)] = []
        private var lastArrival: NIODeadline = .uptimeNanoseconds(0)
        private var closed = false
        /// Whether this end was closed.
        var isClosed: Bool { closed }

        init(network: VirtualNetwork, sender: Node, receiver: Node) {
            self.network = network
            self.sender = sender
            self.receiver = receiver
            self.filter = PeerStreamFilter(behaviour: sender.behaviour)
        }

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            guard !closed else {
                promise?.fail(ChannelError.ioOnClosedChannel)
                return
            }
            pending.append((unwrapOutboundIn(data), promise))
        }

        func flush(context: ChannelHandlerContext) {
            let batch = pending
            pending = []
            for (buffer, promise) in batch { transmit(buffer, promise: promise) }
        }

        private func transmit(_ buffer: ByteBuffer, promise: EventLoopPromise<Void>?) {
            let loop = network.loop
            let now = loop.now
            let (wire, blockBytes) = filter.filter(buffer)
            let size = wire.readableBytes
            let start = max(now, sender.uplinkFreeAt)
            let sent = start + VirtualNetwork.duration(size, sender.profile.uploadBytesPerSecond)
            sender.uplinkFreeAt = sent
            sender.traffic.blockBytesSent += blockBytes
            if let promise {
                if sent <= now { promise.succeed() } else { loop.scheduleTask(deadline: sent) { promise.succeed() } }
            }
            var delay = sender.profile.latency + receiver.profile.latency
            let loss = max(sender.profile.loss, receiver.profile.loss)
            if loss > 0, Double(sender.random.next() >> 11) / Double(1 << 53) < loss {
                delay = delay + .milliseconds(200) + delay * 4
            }
            let arrival = sender.stamp(max(sent + delay, lastArrival))
            lastArrival = arrival
            let receiver = self.receiver
            loop.scheduleTask(deadline: arrival) { [self] in
                let now = loop.now
                let begin = max(now, receiver.downlinkFreeAt)
                let done = begin + VirtualNetwork.duration(size, receiver.profile.downloadBytesPerSecond)
                receiver.downlinkFreeAt = done
                if done <= now {
                    deliver(wire, blockBytes: blockBytes)
                } else {
                    loop.scheduleTask(deadline: done) { self.deliver(wire, blockBytes: blockBytes) }
                }
            }
        }

        private func deliver(_ buffer: ByteBuffer, blockBytes: Int) {
            guard let peer, peer.isActive else { return }
            receiver.traffic.bytesReceived += buffer.readableBytes
            receiver.traffic.blockBytesReceived += blockBytes
            receiver.blockBytesFrom[sender.host, default: 0] += blockBytes
            peer.pipeline.fireChannelRead(NIOAny(buffer))
            peer.pipeline.fireChannelReadComplete()
        }

        func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
            closed = true
            for (_, pending) in pending { pending?.fail(ChannelError.ioOnClosedChannel) }
            pending = []
            let peer = self.peer
            self.peer = nil
            reverse?.peer = nil
            context.close(mode: mode, promise: promise)
            guard let peer else { return }
            // The FIN arrives after the bytes already on the wire.
            let at = sender.stamp(
                max(lastArrival, network.loop.now + sender.profile.latency + receiver.profile.latency))
            network.loop.scheduleTask(deadline: at) { peer.close(promise: nil) }
        }
    }
}
