import BTMetainfo
import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import BTWire

/// Answers every request with ``PeerChannelHandler/sendPiece(_:from:flush:)``: the block as a region of the
/// file holding the torrent's bytes, sent with `sendfile(2)`. Records what each send added to the handler's
/// queued output.
private final class FileSeederDriver: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = PeerAction
    typealias OutboundOut = PeerCommand
    let file: NIOFileHandle
    let pieceLength: Int
    var added: [PeerOutputQueue] = []
    var refusedSends = 0
    /// `TCP_CORK` of the socket read right after each send (nil: could not be read).
    var corkedAfterSend: [CInt?] = []
    var channel: (any Channel)?

    init(file: NIOFileHandle, pieceLength: Int) {
        self.file = file
        self.pieceLength = pieceLength
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let handler = try? context.pipeline.syncOperations.handler(type: PeerChannelHandler.self) else {
            return
        }
        switch unwrapInboundIn(data) {
        case .peerInterested(true):
            context.writeAndFlush(wrapOutboundOut(.unchoke), promise: nil)
        case .readBlock(let request):
            let start = request.piece * pieceLength + request.offset
            let region = FileRegion(fileHandle: file, readerIndex: start, endIndex: start + request.length)
            let before = handler.queuedOutput
            #expect(handler.sendPiece(request, from: region))
            var after = handler.queuedOutput
            after.remove(before)
            added.append(after)
            channel = context.channel
            corkedAfterSend.append(socketCork(of: context.channel))
            // Sent once: the machine no longer serves the request, so a second send is refused.
            if !handler.sendPiece(request, from: region) { refusedSends += 1 }
        default:
            break
        }
    }
}

/// The `TCP_CORK` option of `channel`'s socket (nil where the system has none or it cannot be read).
private func socketCork(of channel: any Channel) -> CInt? {
    guard let option = PeerChannelHandler.corkOption, let options = channel.syncOptions else { return nil }
    do {
        let value: SocketOptionValue = try options.getOption(option)
        return CInt(value)
    } catch {
        return nil
    }
}

/// Requests every block, eight in flight, and completes `done` with the assembled bytes.
private final class BlockCollector: ChannelInboundHandler {
    typealias InboundIn = PeerAction
    typealias OutboundOut = PeerCommand
    let done: EventLoopPromise<[UInt8]>
    var wanted: [BlockRequest] = []
    var outstanding: Set<BlockRequest> = []
    var received: [Int: [UInt8]] = [:]
    let pieceLength: Int
    var unchoked = false
    var finished = false

    init(size: Int, pieceLength: Int, done: EventLoopPromise<[UInt8]>) {
        self.done = done
        self.pieceLength = pieceLength
        var offset = 0
        while offset < size {
            let length = min(16384, min(pieceLength - offset % pieceLength, size - offset))
            wanted.append(BlockRequest(piece: offset / pieceLength, offset: offset % pieceLength, length: length))
            offset += length
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !finished else { return }
        switch unwrapInboundIn(data) {
        case .peerChoked(let choked): unchoked = !choked
        case .deliver(let block):
            outstanding.remove(block.request)
            received[block.piece * pieceLength + block.offset] = Array(block.data.readableBytesView)
        case .requestsReturned(let blocks):
            outstanding.subtract(blocks)
            return
        case .disconnect(let reason, let detail):
            finished = true
            done.fail(WireError(.unencodable, "disconnected early: \(reason) \(detail)"))
            return
        default: break
        }
        if received.count == wanted.count {
            finished = true
            done.succeed(received.keys.sorted().flatMap { received[$0]! })
            return
        }
        guard unchoked else { return }
        let missing = wanted.filter { received[$0.piece * pieceLength + $0.offset] == nil && !outstanding.contains($0) }
        let batch = Array(missing.prefix(max(0, 8 - outstanding.count)))
        guard !batch.isEmpty else { return }
        outstanding.formUnion(batch)
        context.writeAndFlush(wrapOutboundOut(.request(batch)), promise: nil)
    }
}

/// Opens `path` for reading (a blocking call, so outside the async tests' own code).
private func openReadOnly(_ path: String) throws -> NIOFileHandle {
    try NIOFileHandle(_deprecatedPath: path)
}

/// Issue 13: a `piece` can go out as its 13-byte header plus a file region (`sendfile`, no copy in the
/// process). Over loopback TCP the leecher's state machine decodes the same blocks it would from memory;
/// each send counts its header and block in the queued output (one message, two writes) like a block in
/// memory; a request is answered once.
@Test func blocksSentAsFileRegionsArriveIntactAndCountInTheOutputQueue() async throws {
    let pieceLength = 32768
    let content = PeerPair.content(size: 12 * pieceLength - 321, seed: 91)
    let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("nbt-regions-\(UUID().uuidString)")
    #expect(FileManager.default.createFile(atPath: path, contents: Data(content)))
    defer { try? FileManager.default.removeItem(atPath: path) }
    let file = try openReadOnly(path)
    defer { try? file.close() }

    let seederConfig = PeerPair.configuration(
        content: content, pieceLength: pieceLength, have: true, fast: true, peerIDByte: 5)
    let leecherConfig = PeerPair.configuration(
        content: content, pieceLength: pieceLength, have: false, fast: true, peerIDByte: 6)
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let seederDriver = FileSeederDriver(file: file, pieceLength: pieceLength)
    let server = try await ServerBootstrap(group: group)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                let machine = PeerStateMachine(
                    configuration: seederConfig, incoming: true, source: .incoming, now: .now())
                try channel.pipeline.syncOperations.addHandlers([
                    PeerChannelHandler(machine: machine), seederDriver,
                ])
            }
        }
        .bind(host: "127.0.45.\(Int.random(in: 2...250))", port: 0).get()
    let done = group.next().makePromise(of: [UInt8].self)
    let client = try await ClientBootstrap(group: group)
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                let machine = PeerStateMachine(
                    configuration: leecherConfig, incoming: false, source: .user, now: .now())
                try channel.pipeline.syncOperations.addHandlers([
                    PeerChannelHandler(machine: machine),
                    BlockCollector(size: content.count, pieceLength: pieceLength, done: done),
                ])
            }
        }
        .connect(to: server.localAddress!).get()
    let timeout = group.next().scheduleTask(in: .seconds(30)) { done.fail(WireError(.unencodable, "timed out")) }
    let downloaded = try await done.futureResult.get()
    timeout.cancel()
    #expect(downloaded == content)
    let (added, refused) = try await group.next().submit {
        (seederDriver.added, seederDriver.refusedSends)
    }.get()
    #expect(added.count == 24)
    #expect(refused == 24)
    let sizes = added.map(\.bytes).sorted()
    #expect(sizes.first == 13 + 16384 - 321 && sizes.dropFirst().allSatisfy { $0 == 13 + 16384 })
    #expect(added.allSatisfy { $0.messages == 1 && $0.writes >= 1 && $0.writes <= 2 })
    try await client.close()
    try await server.close()
    try await group.shutdownGracefully()
}

/// A handler with no machine (an incoming connection before its handshake) sends nothing and queues nothing.
@Test func aFileRegionIsNotSentWithoutAServedRequest() async throws {
    let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("nbt-regions-\(UUID().uuidString)")
    #expect(FileManager.default.createFile(atPath: path, contents: Data(repeating: 1, count: 16384)))
    defer { try? FileManager.default.removeItem(atPath: path) }
    let file = try openReadOnly(path)
    defer { try? file.close() }
    let (sent, wrongLength, queued, writes) = try await PeersThatNeverReadAreCutOffAtTheOutputBudget.onLoopbackHandler {
        handler, counter in
        let region = FileRegion(fileHandle: file, readerIndex: 0, endIndex: 16384)
        let sent = handler.sendPiece(BlockRequest(piece: 0, offset: 0, length: 16384), from: region)
        let wrongLength = handler.sendPiece(BlockRequest(piece: 0, offset: 0, length: 100), from: region)
        handler.flushIfNeeded()
        return (sent, wrongLength, handler.queuedOutput, counter.sizes.count)
    }
    #expect(!sent && !wrongLength)
    #expect(queued.isEmpty)
    #expect(writes == 0)
}

/// Issue 13: each block sent from a file is two system calls, a 13-byte header and a `sendfile`; with
/// `TCP_NODELAY` each would be a segment of its own (a 13-byte segment before every block, which halved our
/// downloader's rate from such a seed). The socket is corked while a file region is queued, so headers and
/// file bytes leave in full segments, and uncorked once the socket took everything, so the last segment
/// does not wait.
@Test func blocksSentFromFilesCorkTheSocketUntilEverythingQueuedWasTaken() async throws {
    #if os(Linux)
        let pieceLength = 32768
        let content = PeerPair.content(size: 6 * pieceLength, seed: 17)
        let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("nbt-cork-\(UUID().uuidString)")
        #expect(FileManager.default.createFile(atPath: path, contents: Data(content)))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try openReadOnly(path)
        defer { try? file.close() }
        let seederConfig = PeerPair.configuration(
            content: content, pieceLength: pieceLength, have: true, fast: true, peerIDByte: 7)
        let leecherConfig = PeerPair.configuration(
            content: content, pieceLength: pieceLength, have: false, fast: true, peerIDByte: 8)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let seederDriver = FileSeederDriver(file: file, pieceLength: pieceLength)
        let server = try await ServerBootstrap(group: group)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let machine = PeerStateMachine(
                        configuration: seederConfig, incoming: true, source: .incoming, now: .now())
                    try channel.pipeline.syncOperations.addHandlers([
                        PeerChannelHandler(machine: machine), seederDriver,
                    ])
                }
            }
            .bind(host: "127.0.45.\(Int.random(in: 2...250))", port: 0).get()
        let done = group.next().makePromise(of: [UInt8].self)
        let client = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let machine = PeerStateMachine(
                        configuration: leecherConfig, incoming: false, source: .user, now: .now())
                    try channel.pipeline.syncOperations.addHandlers([
                        PeerChannelHandler(machine: machine),
                        BlockCollector(size: content.count, pieceLength: pieceLength, done: done),
                    ])
                }
            }
            .connect(to: server.localAddress!).get()
        let timeout = group.next().scheduleTask(in: .seconds(30)) { done.fail(WireError(.unencodable, "timed out")) }
        let downloaded = try await done.futureResult.get()
        timeout.cancel()
        #expect(downloaded == content)
        // Every block was all taken by the socket once the leecher has it: nothing is queued, so the cork is off.
        let (corkedAfterSend, corkAtEnd, queuedAtEnd) = try await group.next().submit {
            let handler = try seederDriver.channel.map {
                try $0.pipeline.syncOperations.handler(type: PeerChannelHandler.self)
            }
            return (
                seederDriver.corkedAfterSend, seederDriver.channel.flatMap(socketCork(of:)),
                handler?.queuedOutputBytes
            )
        }.get()
        #expect(corkedAfterSend.count == 12)
        #expect(corkedAfterSend.allSatisfy { $0 == 1 })
        #expect(queuedAtEnd == 0)
        #expect(corkAtEnd == 0)
        try await client.close()
        try await server.close()
        try await group.shutdownGracefully()
    #endif
}
