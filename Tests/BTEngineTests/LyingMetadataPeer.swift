import BTMetainfo
import Foundation
import NIOCore
import NIOPosix

/// A peer for tests that listens on `host`, answers a plaintext handshake for one info-hash with the
/// extension protocol, advertises `ut_metadata` with a `metadata_size`, and answers every metadata request
/// with bytes that are not the torrent's (a poisoning peer). It counts the requests it answered.
final class LyingMetadataPeer: @unchecked Sendable {
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private var channel: (any Channel)?
    private let answered = Locked([Int]())
    let infoHash: [UInt8]
    let metadataSize: Int

    init(infoHash: [UInt8], metadataSize: Int) {
        self.infoHash = infoHash
        self.metadataSize = metadataSize
    }

    /// Pieces it answered (with garbage), in order.
    var answeredPieces: [Int] { answered.withLock { $0 } }

    /// Listens on `host` at any port; returns the port.
    func listen(host: String) async throws -> Int {
        let (infoHash, size, answered) = (infoHash, metadataSize, answered)
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        Handler(infoHash: infoHash, metadataSize: size, answered: answered))
                }
            }
            .bind(host: host, port: 0).get()
        channel = server
        return server.localAddress?.port ?? 0
    }

    /// Stops listening and the event loop.
    func close() async {
        try? await channel?.close().get()
        try? await group.shutdownGracefully()
    }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let infoHash: [UInt8]
        let metadataSize: Int
        let answered: Locked<[Int]>
        var buffer = ByteBuffer()
        var handshaken = false

        init(infoHash: [UInt8], metadataSize: Int, answered: Locked<[Int]>) {
            self.infoHash = infoHash
            self.metadataSize = metadataSize
            self.answered = answered
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = unwrapInboundIn(data)
            buffer.writeBuffer(&bytes)
            if !handshaken {
                guard buffer.readableBytes >= 68, let theirs = buffer.readBytes(length: 68) else { return }
                guard Array(theirs[28..<48]) == infoHash else {
                    context.close(promise: nil)
                    return
                }
                handshaken = true
                var reserved = [UInt8](repeating: 0, count: 8)
                reserved[5] = 0x10
                let handshake: [UInt8] =
                    [19] + Array("BitTorrent protocol".utf8) + reserved + infoHash
                    + Array("-XX0000-liarliarliar".utf8)
                let extended = Array("d1:md11:ut_metadatai3ee13:metadata_sizei\(metadataSize)ee".utf8)
                write(handshake + Self.frame(20, [0] + extended), context: context)
            }
            while buffer.readableBytes >= 4, let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self),
                buffer.readableBytes >= 4 + Int(length)
            {
                buffer.moveReaderIndex(forwardBy: 4)
                guard let message = buffer.readBytes(length: Int(length)) else { return }
                guard message.count >= 2, message[0] == 20, message[1] == 3 else { continue }
                let text = String(decoding: message[2...], as: UTF8.self)
                guard text.contains("8:msg_typei0e"), let range = text.range(of: "5:piecei"),
                    let end = text[range.upperBound...].firstIndex(of: "e"),
                    let piece = Int(text[range.upperBound..<end])
                else { continue }
                answered.withLock { $0.append(piece) }
                let length = min(16_384, metadataSize - piece * 16_384)
                let header = Array("d8:msg_typei1e5:piecei\(piece)e10:total_sizei\(metadataSize)ee".utf8)
                // Our `ut_metadata` id in the engine's extension handshake is 2.
                write(Self.frame(20, [2] + header + [UInt8](repeating: 0x5a, count: max(0, length))), context: context)
            }
        }

        private func write(_ bytes: [UInt8], context: ChannelHandlerContext) {
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
        }

        static func frame(_ id: UInt8, _ payload: [UInt8]) -> [UInt8] {
            let length = UInt32(payload.count + 1)
            return withUnsafeBytes(of: length.bigEndian, Array.init) + [id] + payload
        }
    }
}
