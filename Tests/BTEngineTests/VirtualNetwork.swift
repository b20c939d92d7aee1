import Foundation
import NIOCore
import NIOEmbedded

@testable import BTEngine

/// A ``PeerTransport`` with no sockets at all, on one `NIOAsyncTestingEventLoop` whose clock only moves
/// when the test says so: "ports" are numbers in a registry, and a connection is a pair of
/// `NIOAsyncTestingChannel`s whose flushed writes are delivered to the other end on the next turn of the
/// loop. Clients built on ``VirtualNetwork/loop`` run the real engine on virtual time.
final class VirtualNetwork: PeerTransport, @unchecked Sendable {
    /// The loop every client and connection of this network runs on.
    let loop: NIOAsyncTestingEventLoop
    private let lock = NSLock()
    private var acceptors: [Int: @Sendable (any Channel) -> EventLoopFuture<Void>] = [:]
    private var nextPort = 7_000

    init(loop: NIOAsyncTestingEventLoop) { self.loop = loop }

    func listen(
        host: String, port: Int, group: any EventLoopGroup,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) async throws -> any PeerListener {
        lock.withLock {
            let chosen = port == 0 ? nextPort : port
            nextPort = max(nextPort, chosen) + 1
            acceptors[chosen] = initializer
            return Listener(network: self, port: chosen)
        }
    }

    func connect(
        host: String, port: Int, loop: any EventLoop, timeout: TimeAmount,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) -> EventLoopFuture<any Channel> {
        let accept = lock.withLock { acceptors[port] }
        guard let accept else { return loop.makeFailedFuture(ChannelError.connectTimeout(timeout)) }
        let dialler = NIOAsyncTestingChannel(loop: self.loop)
        let acceptor = NIOAsyncTestingChannel(loop: self.loop)
        let near = Link()
        let far = Link()
        near.peer = acceptor
        far.peer = dialler
        do {
            try dialler.pipeline.syncOperations.addHandler(near)
            try acceptor.pipeline.syncOperations.addHandler(far)
        } catch {
            return loop.makeFailedFuture(error)
        }
        let address = try! SocketAddress(ipAddress: "127.0.0.1", port: port)
        return initializer(dialler)
            .flatMap { accept(acceptor) }
            .flatMap { acceptor.connect(to: address) }
            .flatMap { dialler.connect(to: address) }
            .map { dialler as any Channel }
    }

    fileprivate func remove(_ port: Int) { lock.withLock { acceptors[port] = nil } }

    private struct Listener: PeerListener {
        let network: VirtualNetwork
        let port: Int

        func close() { network.remove(port) }
    }

    /// The wire: buffers writes, hands them to the other end's pipeline on flush (on a later turn of the
    /// loop, so neither side re-enters the other), and closes the other end when this one closes.
    private final class Link: ChannelDuplexHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        var peer: NIOAsyncTestingChannel?
        private var pending: [ByteBuffer] = []

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            pending.append(unwrapOutboundIn(data))
            promise?.succeed()
        }

        func flush(context: ChannelHandlerContext) {
            let batch = pending
            pending = []
            guard let peer, !batch.isEmpty else { return }
            context.eventLoop.execute {
                guard peer.isActive else { return }
                for buffer in batch { peer.pipeline.fireChannelRead(NIOAny(buffer)) }
            }
        }

        func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
            let peer = self.peer
            self.peer = nil
            context.close(mode: mode, promise: promise)
            if let peer { context.eventLoop.execute { peer.close(promise: nil) } }
        }
    }
}

/// Drives a ``VirtualNetwork``'s loop: runs the tasks other tasks scheduled, and moves virtual time on in
/// steps, giving real asynchronous work (storage on worker threads) a moment of real time per step.
struct VirtualClock {
    let loop: NIOAsyncTestingEventLoop

    /// A loop whose clock starts an hour after zero (so nothing computes a time before zero).
    static func start() async -> VirtualClock {
        let loop = NIOAsyncTestingEventLoop()
        await loop.advanceTime(to: .uptimeNanoseconds(3_600_000_000_000))
        return VirtualClock(loop: loop)
    }

    /// Virtual time now.
    var now: NIODeadline { loop.now }

    /// Runs pending tasks a few times, with a real pause between, so chains of loop turns complete.
    func settle() async {
        for _ in 0..<5 {
            await loop.run()
            try? await Task.sleep(for: .milliseconds(1))
        }
    }

    /// Advances virtual time by `total` in steps of `step`, settling after each.
    func advance(by total: TimeAmount, step: TimeAmount = .milliseconds(100)) async {
        let end = loop.now + total
        while loop.now < end {
            await loop.advanceTime(to: min(loop.now + step, end))
            await settle()
        }
    }

    /// Advances virtual time in steps of `step` until `condition` holds or `limit` of virtual time passed;
    /// returns whether it held.
    func advance(
        until condition: () async -> Bool, limit: TimeAmount, step: TimeAmount = .milliseconds(100)
    ) async -> Bool {
        let end = loop.now + limit
        while loop.now < end {
            if await condition() { return true }
            await advance(by: step, step: step)
        }
        return await condition()
    }
}
