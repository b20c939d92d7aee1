import BTMetainfo
import NIOCore
import NIOPosix
import Testing

@testable import BTWire

/// Issue 12: everything queued for a peer counts towards one bound (bytes, messages and writes), small
/// messages are coalesced into one buffer per flush, and a peer that never reads what it makes us send is
/// disconnected with `sendBufferFull` before the bound is passed, whether it floods request+cancel pairs
/// (one 17-byte `reject` each) or plain requests (a block each).
@Suite struct PeersThatNeverReadAreCutOffAtTheOutputBudget {
    /// Runs `body` on the event loop of a loopback connection whose pipeline is a write counter, then a
    /// handler without a machine (``PeerChannelHandler/perform(_:flush:)`` is driven by hand).
    static func onLoopbackHandler<T: Sendable>(
        _ body: @escaping @Sendable (PeerChannelHandler, WriteCounter) throws -> T
    ) async throws -> T {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await ServerBootstrap(group: group)
            .bind(host: "127.0.44.\(Int.random(in: 2...250))", port: 0).get()
        let client = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        WriteCounter(), PeerChannelHandler(machine: nil, tickInterval: nil),
                    ])
                }
            }
            .connect(to: server.localAddress!).get()
        let result = try await client.eventLoop.submit {
            let handler = try client.pipeline.syncOperations.handler(type: PeerChannelHandler.self)
            let counter = try client.pipeline.syncOperations.handler(type: WriteCounter.self)
            return try body(handler, counter)
        }.get()
        try await client.close()
        try await server.close()
        try await group.shutdownGracefully()
        return result
    }

    @Test func smallMessagesOfOneFlushAreOneWrite() async throws {
        let (writes, bytes) = try await Self.onLoopbackHandler { handler, counter in
            let haves = (0..<100).map { PeerAction.send(.have(piece: $0)) }
            handler.perform(
                haves + [.send(.choke), .send(.reject(BlockRequest(piece: 1, offset: 0, length: 16384)))])
            return (counter.sizes.count, counter.sizes.reduce(0, +))
        }
        #expect(writes == 1)
        #expect(bytes == 100 * 9 + 5 + 17)
    }

    @Test func aBlockIsItsHeaderCoalescedThenItsOwnBuffer() async throws {
        let (queued, cost, sizes) = try await Self.onLoopbackHandler { handler, counter in
            let data = ByteBuffer(repeating: 7, count: 16384)
            handler.perform(
                [.send(.unchoke), .send(.piece(Block(piece: 2, offset: 0, data: data))), .send(.have(piece: 3))],
                flush: false)
            let queued = handler.queuedOutput
            let cost = handler.queuedOutputCost
            handler.flushIfNeeded()
            return (queued, cost, counter.sizes)
        }
        #expect(queued.bytes == 5 + 13 + 16384 + 9)
        #expect(queued.messages == 3)
        #expect(queued.writes == 3)
        #expect(
            cost == 5 + 13 + 16384 + 9 + 3 * PeerOutputBudget.messageOverhead + 3 * PeerOutputBudget.writeOverhead)
        #expect(sizes == [5 + 13, 16384, 9])
    }

    enum Flood: String, CaseIterable, Sendable {
        /// `request` + `cancel` pairs while unchoked: a read that is never answered and a `reject` each.
        case requestCancel
        /// `request`s the seed answers at once with blocks.
        case requests
    }

    @Test(arguments: Flood.allCases)
    func aFloodingPeerThatNeverReadsIsDisconnectedWithinTheBudget(flood: Flood) async throws {
        let pieceLength = 65536
        let content = PeerPair.content(size: 16 * pieceLength, seed: 12)
        let seedConfiguration = {
            var configuration = PeerPair.configuration(
                content: content, pieceLength: pieceLength, have: true, fast: true, peerIDByte: 5)
            // The output budget is what this proves: the cancel budget (which would end a request+cancel
            // flood first) is lifted.
            configuration.inputLimits.maximumCancels = .max
            configuration.emitsPacketEvents = false
            return configuration
        }()
        let budget = PeerOutputBudget(maximumCost: 256 * 1024)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let observer = BudgetObserver(
            content: content, pieceLength: pieceLength, answersReads: flood == .requests, loop: group.next())
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.so_sndbuf), value: 4096)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let machine = PeerStateMachine(
                        configuration: seedConfiguration, incoming: true, source: .incoming, now: .now())
                    let handler = PeerChannelHandler(machine: machine, outputBudget: budget)
                    observer.handler = handler
                    try channel.pipeline.syncOperations.addHandlers([handler, observer])
                }
            }
            .bind(host: "127.0.44.\(Int.random(in: 2...250))", port: 0).get()
        // The flooding peer: reads nothing at all (no auto-read, a small receive buffer).
        let client = try await ClientBootstrap(group: group)
            .channelOption(.autoRead, value: false)
            .channelOption(.socketOption(.so_rcvbuf), value: 4096)
            .connect(to: server.localAddress!).get()
        var hello = ByteBuffer()
        var reserved = ReservedBits.local()
        reserved[.fast] = true
        Handshake(
            reserved: reserved, infoHash: seedConfiguration.infoHash,
            peerID: PeerID(bytes: [UInt8](repeating: 9, count: 20))!
        )
        .encode(into: &hello)
        PeerMessage.interested.encode(into: &hello)
        try await client.writeAndFlush(hello)
        let unchoked = try await observer.unchoked.futureResult.get()
        #expect(unchoked)

        var batch = ByteBuffer()
        for index in 0..<2048 {
            let request = BlockRequest(piece: index % 16, offset: (index / 16 % 4) * 16384, length: 16384)
            PeerMessage.request(request).encode(into: &batch)
            if flood == .requestCancel { PeerMessage.cancel(request).encode(into: &batch) }
        }
        let deadline = NIODeadline.now() + .seconds(20)
        var sent = 0
        while NIODeadline.now() < deadline {
            do {
                try await client.writeAndFlush(batch)
                sent += batch.readableBytes
            } catch {
                break
            }
        }
        let reason = try await observer.closed.futureResult.get()
        #expect(reason == .sendBufferFull, "after \(sent) bytes of \(flood)")
        #expect(observer.largestCost <= budget.maximumCost + 16384 + 13 + 2 * PeerOutputBudget.writeOverhead)
        #expect(observer.largestCost > budget.maximumCost / 2, "the budget, not something else, ended it")
        try? await client.close()
        try await server.close()
        try await group.shutdownGracefully()
    }
}

/// Unchokes the interested peer, answers reads (or not), and records the largest queued cost it saw and how
/// the connection ended.
private final class BudgetObserver: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = PeerAction
    typealias OutboundOut = PeerCommand
    let content: [UInt8]
    let pieceLength: Int
    let answersReads: Bool
    var handler: PeerChannelHandler?
    var largestCost = 0
    let unchoked: EventLoopPromise<Bool>
    let closed: EventLoopPromise<DisconnectReason>

    init(content: [UInt8], pieceLength: Int, answersReads: Bool, loop: any EventLoop) {
        self.content = content
        self.pieceLength = pieceLength
        self.answersReads = answersReads
        let (unchoked, closed) = (loop.makePromise(of: Bool.self), loop.makePromise(of: DisconnectReason.self))
        (self.unchoked, self.closed) = (unchoked, closed)
        loop.scheduleTask(in: .seconds(30)) {
            unchoked.succeed(false)
            closed.fail(WireError(.unencodable, "not disconnected within 30 s"))
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        largestCost = max(largestCost, handler?.queuedOutputCost ?? 0)
        switch unwrapInboundIn(data) {
        case .peerInterested(true):
            context.writeAndFlush(wrapOutboundOut(.unchoke), promise: nil)
            unchoked.succeed(true)
        case .readBlock(let request) where answersReads:
            let start = request.piece * pieceLength + request.offset
            let block = ByteBuffer(bytes: content[start..<(start + request.length)])
            context.write(wrapOutboundOut(.blockRead(request, block)), promise: nil)
        case .disconnect(let reason, _):
            closed.succeed(reason)
        default:
            break
        }
    }
}

/// Records the size of every buffer written through it.
final class WriteCounter: ChannelOutboundHandler, @unchecked Sendable {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    var sizes: [Int] = []

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        sizes.append(unwrapOutboundIn(data).readableBytes)
        context.write(data, promise: promise)
    }
}
