import NBTTestSupport
import NIOCore
import NIOPosix
import Testing

@testable import BTUTP

/// ``UTPStreamChannel``s over real UDP sockets (127.0.0.1 inside a private network namespace): a dialled channel
/// and the accepted one carry a byte stream in order, turn unwritable and writable again, half-close, close and
/// reset both ways, and a dial nobody answers fails within its timeout.
@Suite(.serialized)
struct StreamChannelsCarryAByteStreamOverLoopback {
    /// Records what reaches the end of a child channel's pipeline; touched on its event loop only.
    final class Recorder: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        var received = ByteBuffer()
        var events: [String] = []
        var errors: [any Error] = []
        /// Written and the channel closed when the peer half-closes.
        let reply: ByteBuffer?
        /// Closes the channel once this many bytes arrived.
        let closeAfter: Int?

        init(reply: ByteBuffer? = nil, closeAfter: Int? = nil) {
            self.reply = reply
            self.closeAfter = closeAfter
        }

        func channelActive(context: ChannelHandlerContext) { events.append("active") }
        func channelInactive(context: ChannelHandlerContext) { events.append("inactive") }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = unwrapInboundIn(data)
            received.writeBuffer(&bytes)
            if let closeAfter, received.readableBytes >= closeAfter { context.close(promise: nil) }
        }

        func channelWritabilityChanged(context: ChannelHandlerContext) {
            events.append(context.channel.isWritable ? "writable" : "unwritable")
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            guard case .some(.inputClosed) = event as? ChannelEvent else { return }
            events.append("inputClosed")
            if let reply {
                context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
                context.close(promise: nil)
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) { errors.append(error) }
    }

    /// Keeps the datagrams that reach the end of a UDP channel's pipeline (the ones that are not uTP).
    final class DatagramRecorder: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        var datagrams: [ByteBuffer] = []

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            datagrams.append(unwrapInboundIn(data).data)
        }
    }

    /// Two sockets in a fresh namespace: A dials, B accepts with `acceptor` (nil: B accepts nothing).
    struct Pair {
        let group: MultiThreadedEventLoopGroup
        let a: any Channel
        let b: any Channel
        let acceptedPromise: EventLoopPromise<(any Channel, Recorder)>
        var accepted: EventLoopFuture<(any Channel, Recorder)> { acceptedPromise.futureResult }

        func dial(_ recorder: Recorder, timeout: TimeAmount? = .seconds(10)) async throws -> UTPStreamChannel {
            let address = b.localAddress!
            let a = self.a
            return try await a.eventLoop.flatSubmit {
                let multiplexer = try! a.pipeline.syncOperations.handler(type: UTPStreamMultiplexer.self)
                return multiplexer.createStream(to: address, timeout: timeout) { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(recorder) }
                }
            }.get()
        }

        func shutdown() async throws {
            acceptedPromise.fail(ChannelError.alreadyClosed)  // ignored when a connection was accepted
            try? await a.close()
            try? await b.close()
            try await group.shutdownGracefully()
        }
    }

    static func socket(
        _ fd: CInt, on loop: any EventLoop, acceptor: (@Sendable () -> Recorder)?,
        accepted: EventLoopPromise<(any Channel, Recorder)>?, allowHalfClosure: Bool = false,
        segmentation: Bool = false, autoRead: Bool = true, receiveOffload: Bool = false
    ) async throws -> any Channel {
        var bootstrap = DatagramBootstrap(group: loop)
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            .channelOption(.datagramVectorReadMessageCount, value: 16)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 16 * 2048))
        if receiveOffload {
            // UDP GRO: room for a whole 64 KiB buffer of coalesced datagrams per message.
            bootstrap = bootstrap.channelOption(.datagramVectorReadMessageCount, value: 4)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 4 * 65_535))
                .channelOption(.datagramReceiveOffload, value: true)
                .channelOption(.datagramReceiveSegmentSize, value: true)
        }
        // No socket-wide segment size (`.datagramSegmentSize`): the handler gives it per segmented write, and a
        // socket-wide one would cut every larger datagram (path MTU probes) into a shorter valid packet and a tail.
        return try await bootstrap.channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                let initializer: UTPStreamMultiplexer.Initializer? = acceptor.map { make in
                    { child in
                        child.eventLoop.makeCompletedFuture {
                            let recorder = make()
                            try child.syncOptions!.setOption(.allowRemoteHalfClosure, value: allowHalfClosure)
                            try child.syncOptions!.setOption(.autoRead, value: autoRead)
                            try child.pipeline.syncOperations.addHandler(recorder)
                            accepted?.succeed((child, recorder))
                        }
                    }
                }
                let multiplexer = UTPStreamMultiplexer(
                    maximumPendingBytes: 64 << 10, inboundInitializer: initializer)
                multiplexer.socket.segmentationSize = segmentation ? 1400 : nil
                try multiplexer.install(on: channel.pipeline.syncOperations)
                try channel.pipeline.syncOperations.addHandler(DatagramRecorder())
            }
        }.withBoundSocket(fd).get()
    }

    static func pair(
        acceptor: (@Sendable () -> Recorder)?, allowHalfClosure: Bool = false, segmentation: Bool = false,
        autoRead: Bool = true, receiveOffload: Bool = false
    ) async throws -> Pair? {
        let sockets: [CInt]
        switch LoopbackNamespace.udpSockets(count: 2) {
        case .success(let (fds, _)): sockets = fds
        case .failure(let failure):
            Issue.record("no loopback namespace: \(failure)")
            return nil
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let loopB = group.next()
        let accepted = loopB.makePromise(of: (any Channel, Recorder).self)
        let a = try await socket(
            sockets[0], on: group.next(), acceptor: nil, accepted: nil, segmentation: segmentation)
        let b = try await socket(
            sockets[1], on: loopB, acceptor: acceptor, accepted: accepted, allowHalfClosure: allowHalfClosure,
            autoRead: autoRead, receiveOffload: receiveOffload)
        return Pair(group: group, a: a, b: b, acceptedPromise: accepted)
    }

    static func onLoop<T: Sendable>(_ channel: any Channel, _ body: @escaping @Sendable () -> T) async throws -> T {
        try await channel.eventLoop.submit(body).get()
    }

    @Test(.timeLimit(.minutes(1)), arguments: [false, true])
    func oneMebibyteArrivesInOrderAndTheWriterWaitsForRoom(segmentationOffload: Bool) async throws {
        // With UDP segmentation offload (where the kernel has it), runs of full datagrams leave as one write.
        if segmentationOffload, !System.supportsUDPSegmentationOffload { return }
        guard let pair = try await Self.pair(acceptor: { Recorder() }, segmentation: segmentationOffload) else {
            return
        }
        let size = 1 << 20
        let payload = UTPPair.randomBytes(size, seed: 7)
        let recorderA = Recorder()
        let channel = try await pair.dial(recorderA)
        #expect(channel.isActive)
        #expect(channel.remoteAddress == pair.b.localAddress)
        #expect(channel.parent === pair.a)
        #expect(try await channel.getOption(.autoRead).get())
        // Options a TCP user sets must not throw.
        try await channel.setOption(.socketOption(.tcp_nodelay), value: 1).get()
        #expect(try await channel.getOption(.socketOption(.tcp_nodelay)).get() == 1)
        try await channel.setOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 4096)).get()
        try await channel.setOption(.writeBufferWaterMark, value: .init(low: 16 << 10, high: 32 << 10)).get()
        // Write it all at once in 16 KiB writes: far beyond the 64 KiB of pending bytes the connection takes.
        let wroteAll = try await Self.onLoop(channel) {
            var futures: [EventLoopFuture<Void>] = []
            var rest = payload
            while rest.readableBytes > 0 {
                futures.append(channel.write(rest.readSlice(length: min(16 << 10, rest.readableBytes))!))
            }
            channel.flush()
            return EventLoopFuture.andAllSucceed(futures, on: channel.eventLoop)
        }
        try await wroteAll.get()
        try await channel.close()
        let (accepted, recorderB) = try await pair.accepted.get()
        try await accepted.closeFuture.get()
        try await channel.closeFuture.get()
        let (received, eventsB) = try await Self.onLoop(accepted) { (recorderB.received, recorderB.events) }
        #expect(received == payload)
        #expect(eventsB == ["active", "inactive"], "the peer's FIN closes the accepting channel once")
        let eventsA = try await Self.onLoop(channel) { recorderA.events }
        #expect(eventsA.first == "active" && eventsA.last == "inactive")
        #expect(eventsA.filter { $0 == "inactive" }.count == 1)
        #expect(eventsA.contains("unwritable"), "1 MiB against 64 KiB of pending bytes: \(eventsA)")
        #expect(eventsA.filter { $0 == "unwritable" }.count == eventsA.filter { $0 == "writable" }.count)
        #expect(!channel.isActive && !accepted.isActive)
        try await pair.shutdown()
    }

    @Test(.timeLimit(.minutes(1)))
    func aHalfClosedStreamStillReadsThePeersReply() async throws {
        var reply = ByteBuffer()
        reply.writeString("pong")
        guard let pair = try await Self.pair(acceptor: { [reply] in Recorder(reply: reply) }, allowHalfClosure: true)
        else { return }
        let recorderA = Recorder()
        let channel = try await pair.dial(recorderA)
        var ping = ByteBuffer()
        ping.writeString("ping")
        try await channel.writeAndFlush(ping)
        // On the loop, before the peer's reply and FIN can close the channel: a write after the half-close fails.
        let late = try await Self.onLoop(channel) { [ping] in
            channel.close(mode: .output, promise: nil)
            return channel.writeAndFlush(ping)
        }
        await #expect(throws: ChannelError.outputClosed) { try await late.get() }
        let (accepted, recorderB) = try await pair.accepted.get()
        try await channel.closeFuture.get()
        try await accepted.closeFuture.get()
        let eventsB = try await Self.onLoop(accepted) { (recorderB.received, recorderB.events) }
        #expect(eventsB.0 == ping)
        #expect(eventsB.1 == ["active", "inputClosed", "inactive"])
        let receivedA = try await Self.onLoop(channel) { recorderA.received }
        #expect(receivedA == reply)
        try await pair.shutdown()
    }

    @Test(.timeLimit(.minutes(1)))
    func theAcceptorClosesAndTheDiallerSeesItOnce() async throws {
        guard let pair = try await Self.pair(acceptor: { Recorder(closeAfter: 5) }) else { return }
        let recorderA = Recorder()
        let channel = try await pair.dial(recorderA)
        var hello = ByteBuffer()
        hello.writeString("hello")
        try await channel.writeAndFlush(hello)
        try await channel.closeFuture.get()
        let (eventsA, errorsA) = try await Self.onLoop(channel) { (recorderA.events, recorderA.errors.count) }
        #expect(eventsA == ["active", "inactive"])
        #expect(errorsA == 0)
        await #expect(throws: ChannelError.ioOnClosedChannel) { try await channel.writeAndFlush(hello).get() }
        try await pair.shutdown()
    }

    @Test(.timeLimit(.minutes(1)))
    func aResetReachesThePeerAsAnError() async throws {
        guard let pair = try await Self.pair(acceptor: { Recorder() }) else { return }
        let channel = try await pair.dial(Recorder())
        var hello = ByteBuffer()
        hello.writeString("hello")
        try await channel.writeAndFlush(hello)
        let (accepted, recorderB) = try await pair.accepted.get()
        try await channel.triggerUserOutboundEvent(UTPStreamChannel.ResetEvent()).get()
        try await accepted.closeFuture.get()
        let errors = try await Self.onLoop(accepted) { recorderB.errors.compactMap { ($0 as? UTPError)?.code } }
        #expect(errors == [.connectionFailed])
        try await pair.shutdown()
    }

    @Test(.timeLimit(.minutes(1)))
    func aReaderWithAutoReadOffGetsBytesOnlyWhenItReads() async throws {
        guard let pair = try await Self.pair(acceptor: { Recorder() }, autoRead: false) else { return }
        let payload = UTPPair.randomBytes(512 << 10, seed: 9)
        let channel = try await pair.dial(Recorder())
        try await channel.writeAndFlush(payload)
        let (accepted, recorderB) = try await pair.accepted.get()
        try await Task.sleep(for: .milliseconds(300))
        let before = try await Self.onLoop(accepted) { recorderB.received.readableBytes }
        #expect(before == 0, "nothing is read before read()")
        // One read() gives what arrived (hundreds of datagrams, compacted while held) as one buffer, in order.
        let first = try await Self.onLoop(accepted) {
            accepted.read()
            return recorderB.received
        }
        #expect(first.readableBytes > 0)
        #expect(first == payload.getSlice(at: 0, length: first.readableBytes))
        try await accepted.setOption(.autoRead, value: true).get()
        try await channel.close()
        try await accepted.closeFuture.get()
        let received = try await Self.onLoop(accepted) { recorderB.received }
        #expect(received == payload)
        try await pair.shutdown()
    }

    @Test(.timeLimit(.minutes(1)))
    func datagramsThatAreNotUTPPassOnBesideAStream() async throws {
        guard let pair = try await Self.pair(acceptor: { Recorder() }) else { return }
        let channel = try await pair.dial(Recorder())
        var krpc = ByteBuffer()
        krpc.writeString("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe")
        try await pair.a.writeAndFlush(AddressedEnvelope(remoteAddress: pair.b.localAddress!, data: krpc))
        var hello = ByteBuffer()
        hello.writeString("hello")
        try await channel.writeAndFlush(hello)
        let (_, recorderB) = try await pair.accepted.get()
        let b = pair.b
        var passed: [ByteBuffer] = []
        for _ in 0..<100 {
            passed = try await b.eventLoop.submit {
                try b.pipeline.syncOperations.handler(type: DatagramRecorder.self).datagrams
            }.get()
            if !passed.isEmpty { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(passed == [krpc], "a KRPC message reaches the handler after the multiplexer")
        try await channel.close()
        let received = try await Self.onLoop(b) { recorderB.received }
        #expect(received == hello, "and the stream is untouched")
        try await pair.shutdown()
    }

    @Test(.timeLimit(.minutes(1)))
    func aDialNobodyAnswersFailsWithinItsTimeout() async throws {
        guard let pair = try await Self.pair(acceptor: nil) else { return }
        let started = NIODeadline.now()
        await #expect(throws: UTPError.self) { try await pair.dial(Recorder(), timeout: .milliseconds(300)) }
        #expect(NIODeadline.now() - started < .seconds(2))
        let open = try await pair.a.eventLoop.submit {
            try pair.a.pipeline.syncOperations.handler(type: UTPStreamMultiplexer.self).streamCount
        }.get()
        #expect(open == 0)
        try await pair.shutdown()
    }
}
