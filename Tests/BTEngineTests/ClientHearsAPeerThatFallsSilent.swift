import BTMetainfo
import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import BTEngine

/// A peer that streams blocks to us raises our socket's receive watermark (fewer wake-ups per GiB); when it
/// then sends a short message and falls silent, the message must still be read: the tick lowers the
/// watermark of a peer that sent nothing since the previous tick.
@Suite(.serialized) struct ClientHearsAPeerThatFallsSilent {
    /// A seed that speaks just enough of the protocol: handshake, full bitfield, unchoke, then one block for
    /// the first request; anything else it is told to send later.
    private final class SilentSeeder: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let infoHash: [UInt8]
        let payload: [UInt8]
        let pieceCount: Int
        let pieceLength: Int
        let context = Locked<ChannelHandlerContext?>(nil)
        private var inbound = ByteBuffer()
        private var handshaken = false
        private var answered = false

        init(infoHash: [UInt8], payload: [UInt8], pieceCount: Int, pieceLength: Int) {
            self.infoHash = infoHash
            self.payload = payload
            self.pieceCount = pieceCount
            self.pieceLength = pieceLength
        }

        func channelActive(context: ChannelHandlerContext) { self.context.withLock { $0 = context } }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = unwrapInboundIn(data)
            inbound.writeBuffer(&bytes)
            if !handshaken {
                guard inbound.readableBytes >= 68 else { return }
                inbound.moveReaderIndex(forwardBy: 68)
                handshaken = true
                var reply = ByteBuffer()
                reply.writeInteger(UInt8(19))
                reply.writeString("BitTorrent protocol")
                reply.writeBytes([UInt8](repeating: 0, count: 8))
                reply.writeBytes(infoHash)
                reply.writeBytes(Array("-XX0001-silentseeder".utf8))
                var bitfield = [UInt8](repeating: 0, count: (pieceCount + 7) / 8)
                for piece in 0..<pieceCount { bitfield[piece / 8] |= 0x80 >> UInt8(piece % 8) }
                reply.writeInteger(UInt32(1 + bitfield.count))
                reply.writeInteger(UInt8(5))
                reply.writeBytes(bitfield)
                reply.writeBytes([0, 0, 0, 1, 1])  // unchoke
                context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
            }
            while let length = inbound.getInteger(at: inbound.readerIndex, as: UInt32.self),
                inbound.readableBytes >= 4 + Int(length)
            {
                inbound.moveReaderIndex(forwardBy: 4)
                guard length > 0, let id = inbound.readInteger(as: UInt8.self) else { continue }
                var body = inbound.readSlice(length: Int(length) - 1)!
                guard id == 6, !answered, let piece = body.readInteger(as: UInt32.self),
                    let offset = body.readInteger(as: UInt32.self), let size = body.readInteger(as: UInt32.self)
                else { continue }
                answered = true
                let start = Int(piece) * pieceLength + Int(offset)
                var block = ByteBuffer()
                block.writeInteger(UInt32(9 + size))
                block.writeInteger(UInt8(7))
                block.writeInteger(piece)
                block.writeInteger(offset)
                block.writeBytes(payload[start..<start + Int(size)])
                context.writeAndFlush(wrapOutboundOut(block), promise: nil)
            }
        }

        /// Sends `choke` (five bytes) from the channel's loop.
        func sendChoke() {
            guard let context = context.withLock({ $0 }) else { return }
            context.eventLoop.execute {
                context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(bytes: [0, 0, 0, 1, 0])), promise: nil)
            }
        }
    }

    @Test func aChokeSentAfterTheWatermarkWasRaisedIsStillHeard() async throws {
        let folder = try ClientFixtures.temporaryFolder("watermark")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let pieceLength = 256 * 1024
        let torrent = try ClientFixtures.makeSingleFileTorrent(
            in: folder, name: "silent.bin", length: 4 * pieceLength, pieceLength: pieceLength)
        let payload = try #require(FileManager.default.contents(atPath: "\(folder)/silent.bin"))
        let leechFolder = (folder as NSString).appendingPathComponent("leech")
        try FileManager.default.createDirectory(atPath: leechFolder, withIntermediateDirectories: true)

        var configuration = ClientConfiguration(host: "127.0.0.1")
        configuration.usesTrackers = false
        let leecher = try await Client(configuration: configuration)
        // Any request in flight raises the watermark here (2 MiB by default).
        try await leecher.onLoop { core in core.connections.streamingInFlightBytes = 16384 }
        let handle = try await leecher.addTorrent(torrent, downloadDirectory: leechFolder)

        let seeder = SilentSeeder(
            infoHash: handle.wireInfoHash, payload: [UInt8](payload), pieceCount: 4, pieceLength: pieceLength)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(seeder) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        try await leecher.connect(host: "127.0.0.1", port: server.localAddress!.port!, for: handle)

        // The one block arrives with more requests still owed: the watermark goes up.
        let gotBlock = await ClientFixtures.eventually(limit: .seconds(30)) {
            await leecher.peers(of: handle).first?.downloadedBytes == 16384
        }
        #expect(gotBlock)
        let before = try await leecher.onLoop { core in core.connections.relaxedReceiveWatermarks }
        seeder.sendChoke()
        // Five bytes, far below the raised watermark, and then silence: the choke is heard anyway.
        let heard = await ClientFixtures.eventually(limit: .seconds(30)) {
            await leecher.peers(of: handle).first?.peerChoking == true
        }
        #expect(heard, "the choke of a peer that fell silent must be read")
        let after = try await leecher.onLoop { core in core.connections.relaxedReceiveWatermarks }
        #expect(after > before || before > 0, "a tick lowered the silent peer's watermark")

        await leecher.shutdown()
        try? await server.close()
        try await group.shutdownGracefully()
    }
}
