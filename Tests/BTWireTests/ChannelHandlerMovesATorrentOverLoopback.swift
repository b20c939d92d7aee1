import BTMetainfo
import NIOCore
import NIOPosix
import Testing

@testable import BTWire

/// Serves blocks from memory and unchokes whoever is interested.
private final class SeederDriver: ChannelInboundHandler {
    typealias InboundIn = PeerAction
    typealias OutboundOut = PeerCommand
    let content: [UInt8]
    let pieceLength: Int

    init(content: [UInt8], pieceLength: Int) {
        self.content = content
        self.pieceLength = pieceLength
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .peerInterested(true):
            context.writeAndFlush(wrapOutboundOut(.unchoke), promise: nil)
        case .readBlock(let request):
            let start = request.piece * pieceLength + request.offset
            let block = ByteBuffer(bytes: content[start..<(start + request.length)])
            context.writeAndFlush(wrapOutboundOut(.blockRead(request, block)), promise: nil)
        default:
            break
        }
    }
}

/// Requests every block, up to four in flight once unchoked, and completes `done` with the assembled bytes.
private final class LeecherDriver: ChannelInboundHandler {
    typealias InboundIn = PeerAction
    typealias OutboundOut = PeerCommand
    let size: Int
    let pieceLength: Int
    let done: EventLoopPromise<[UInt8]>
    var wanted: [BlockRequest] = []
    var outstanding: Set<BlockRequest> = []
    var received: [Int: [UInt8]] = [:]
    var unchoked = false
    var finished = false

    init(size: Int, pieceLength: Int, done: EventLoopPromise<[UInt8]>) {
        self.size = size
        self.pieceLength = pieceLength
        self.done = done
        var offset = 0
        while offset < size {
            let piece = offset / pieceLength
            let inPiece = offset % pieceLength
            let length = min(16384, min(pieceLength - inPiece, size - offset))
            wanted.append(BlockRequest(piece: piece, offset: inPiece, length: length))
            offset += length
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !finished else { return }
        switch unwrapInboundIn(data) {
        case .peerChoked(let choked):
            unchoked = !choked
        case .deliver(let block):
            outstanding.remove(block.request)
            received[block.piece * pieceLength + block.offset] = Array(block.data.readableBytesView)
        case .requestsReturned(let blocks):
            // Refused or rejected: ask again on the next delivery, not from inside this call (that would
            // recurse while the pipeline is full).
            outstanding.subtract(blocks)
            return
        case .disconnect(let reason, let detail):
            finished = true
            done.fail(WireError(.unencodable, "disconnected early: \(reason) \(detail)"))
            return
        default:
            break
        }
        if received.count == wanted.count {
            finished = true
            done.succeed(received.keys.sorted().flatMap { received[$0]! })
            return
        }
        guard unchoked else { return }
        let missing = wanted.filter { received[$0.piece * pieceLength + $0.offset] == nil && !outstanding.contains($0) }
        let batch = Array(missing.prefix(max(0, 4 - outstanding.count)))
        guard !batch.isEmpty else { return }
        outstanding.formUnion(batch)
        context.writeAndFlush(wrapOutboundOut(.request(batch)), promise: nil)
    }
}

@Test func channelHandlersMoveAWholeTorrentOverLoopbackTCP() async throws {
    let content = PeerPair.content(size: 20 * 32768 - 123, seed: 77)
    let seederConfig = PeerPair.configuration(
        content: content, pieceLength: 32768, have: true, fast: true, peerIDByte: 3)
    let leecherConfig = PeerPair.configuration(
        content: content, pieceLength: 32768, have: false, fast: true, peerIDByte: 4)
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let server = try await ServerBootstrap(group: group)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                let machine = PeerStateMachine(
                    configuration: seederConfig, incoming: true, source: .incoming, now: .now())
                try channel.pipeline.syncOperations.addHandlers([
                    PeerChannelHandler(machine: machine), SeederDriver(content: content, pieceLength: 32768),
                ])
            }
        }
        .bind(host: "127.0.43.\(Int.random(in: 2...250))", port: 0).get()
    let done = group.next().makePromise(of: [UInt8].self)
    let client = try await ClientBootstrap(group: group)
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                let machine = PeerStateMachine(
                    configuration: leecherConfig, incoming: false, source: .user, now: .now())
                try channel.pipeline.syncOperations.addHandlers([
                    PeerChannelHandler(machine: machine),
                    LeecherDriver(size: content.count, pieceLength: 32768, done: done),
                ])
            }
        }
        .connect(to: server.localAddress!).get()
    let timeout = group.next().scheduleTask(in: .seconds(30)) {
        done.fail(WireError(.unencodable, "timed out"))
    }
    let downloaded = try await done.futureResult.get()
    timeout.cancel()
    #expect(downloaded == content)
    try await client.close()
    try await server.close()
    try await group.shutdownGracefully()
}
