import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import BTEngine

/// The kernel behaviour the engine's receive watermark relies on (see ClientCore+ReceiveWatermark.swift):
/// with a raised `SO_RCVLOWAT` a few bytes do not wake the reader, a full watermark does, and lowering the
/// watermark (the engine's tick does this for a peer that fell silent) makes already buffered bytes readable
/// at once, so nothing waits below the watermark for ever.
@Suite struct ReceiveWatermarkHoldsReadsUntilDue {
    private final class ReadRecorder: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        let reads = Recorder<Int>()
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            reads.append(unwrapInboundIn(data).readableBytes)
        }
        var total: Int { reads.values.reduce(0, +) }
    }

    /// Polls `condition` every 10 ms for up to `seconds` (a safety bound, not a timing assertion).
    private func eventually(_ seconds: Double = 10, _ condition: () -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() && Date() < deadline { try? await Task.sleep(for: .milliseconds(10)) }
        return condition()
    }

    @Test func bytesBelowTheWatermarkWaitUntilItIsLoweredAndAFullWatermarkIsReadAtOnce() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let accepted = group.next().makePromise(of: (any Channel).self)
        let server = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                accepted.succeed(channel)
                return channel.eventLoop.makeSucceededVoidFuture()
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let recorder = ReadRecorder()
        // Reads as large as the engine's once a transfer is under way, so one wake-up drains the socket.
        let client = try await ClientBootstrap(group: group)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 1 << 20))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(recorder) }
            }
            .connect(host: "127.0.0.1", port: server.localAddress!.port!).get()
        let sender = try await accepted.futureResult.get()
        try await client.eventLoop.submit { ConnectionManager.applyReceiveWatermark(256 * 1024, to: client) }.get()

        // 100 bytes stay below the watermark: the reader is not woken.
        try await sender.writeAndFlush(ByteBuffer(repeating: 1, count: 100)).get()
        try await Task.sleep(for: .milliseconds(300))
        #expect(recorder.total == 0)

        // Lowering the watermark makes them readable at once.
        try await client.eventLoop.submit { ConnectionManager.applyReceiveWatermark(1, to: client) }.get()
        #expect(await eventually { recorder.total == 100 })

        // Raised again, a whole watermark's worth is delivered without lowering it.
        try await client.eventLoop.submit { ConnectionManager.applyReceiveWatermark(256 * 1024, to: client) }.get()
        try await sender.writeAndFlush(ByteBuffer(repeating: 2, count: 300 * 1024)).get()
        #expect(await eventually { recorder.total == 100 + 300 * 1024 })
        try? await client.close()
        try? await server.close()
        try await group.shutdownGracefully()
    }
}
