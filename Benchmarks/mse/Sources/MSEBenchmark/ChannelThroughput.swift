import BTMSE
import NIOCore
import NIOEmbedded

/// The throughput of ``MSEChannelHandler`` once RC4 is settled: `totalBytes` of 16 KiB + 13-byte piece
/// messages written into an initiator's `EmbeddedChannel`, its encrypted output fed to a responder's, the
/// decrypted bytes read out above it (two RC4 passes per byte, as between two peers; both on this thread).
/// `sharedBlock` writes the same buffer every time, so that the handler's in-place encryption copies it
/// first (copy-on-write: a block also held by a cache or by the wire's own action list); otherwise each
/// message is a fresh buffer the handler owns alone.
///
/// Bytes go in through the pipeline's synchronous operations, not `EmbeddedChannel.writeInbound` or
/// `writeOutbound`: those return a `BufferState` holding `Array(inboundBuffer)` (a copy of the channel's
/// buffered messages), and that copy, specialised into this release build by Swift 6.3.1, writes into its
/// array after freeing it (AddressSanitizer: heap-use-after-free in `CircularBuffer._copyContents` under
/// `_copyCollectionToContiguousArray`, inside `writeInbound`). That was the SIGSEGV of `./run 1` in
/// `swift_release`: whether the freed block was reused in time depended on the earlier measurements.
/// Neither the handler nor anything outside this harness takes that path.
enum ChannelThroughput {
    struct Figures {
        var payloadBytes: Int
        var cpuNanos: UInt64
        var megabytesPerSecond: Double { Double(payloadBytes) / (Double(cpuNanos) / 1e9) / 1e6 }
    }

    static func measure(totalBytes: Int, sharedBlock: Bool, clock: () -> UInt64) throws -> Figures {
        let skey = [UInt8](repeating: 0x42, count: 20)
        let index = SKEYIndex([skey])
        let initiator = EmbeddedChannel(handler: MSEChannelHandler.initiator(skey: skey, policy: .required))
        let responder = EmbeddedChannel(handler: MSEChannelHandler.responder(policy: .required, index: { index }))
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 6881)
        try responder.connect(to: address).wait()
        try initiator.connect(to: address).wait()
        // The handshake: shuttle until both sides settled.
        for _ in 0..<8 {
            while let bytes = try initiator.readOutbound(as: ByteBuffer.self) { try deliver(bytes, to: responder) }
            while let bytes = try responder.readOutbound(as: ByteBuffer.self) { try deliver(bytes, to: initiator) }
        }
        let initiatorHandler = try initiator.pipeline.syncOperations.handler(type: MSEChannelHandler.self)
        let responderHandler = try responder.pipeline.syncOperations.handler(type: MSEChannelHandler.self)
        guard case .success(.rc4) = initiatorHandler.result, case .success(.rc4) = responderHandler.result else {
            fatalError("handshake did not settle on RC4: \(String(describing: initiatorHandler.result))")
        }

        let blockLength = 16 * 1024
        var message = ByteBuffer()
        message.writeInteger(UInt32(9 + blockLength))
        message.writeInteger(UInt8(7))
        message.writeInteger(UInt32(0))
        message.writeInteger(UInt32(0))
        message.writeRepeatingByte(0xa5, count: blockLength)
        let messageLength = message.readableBytes
        let allocator = ByteBufferAllocator()
        var moved = 0
        var check: UInt8 = 0
        let start = clock()
        while moved < totalBytes {
            var out: ByteBuffer
            if sharedBlock {
                out = message
            } else {
                out = allocator.buffer(capacity: messageLength)
                out.writeImmutableBuffer(message)
            }
            initiator.pipeline.syncOperations.writeAndFlush(NIOAny(out), promise: nil)
            try initiator.throwIfErrorCaught()
            while let encrypted = try initiator.readOutbound(as: ByteBuffer.self) {
                try deliver(encrypted, to: responder)
            }
            while let plain = try responder.readInbound(as: ByteBuffer.self) {
                check ^= plain.getInteger(at: plain.readerIndex, as: UInt8.self) ?? 0
                moved += plain.readableBytes
            }
        }
        let elapsed = clock() - start
        // Every message starts with 0x00 (its length's top byte): a wrong decryption shows up here.
        precondition(check == 0 || moved % messageLength != 0, "decrypted bytes differ from the plaintext")
        _ = try initiator.finish()
        _ = try responder.finish()
        return Figures(payloadBytes: moved, cpuNanos: elapsed)
    }

    /// `bytes` read by `channel` (what `writeInbound` does, without its copy of the inbound buffer).
    static func deliver(_ bytes: ByteBuffer, to channel: EmbeddedChannel) throws {
        channel.pipeline.syncOperations.fireChannelRead(NIOAny(bytes))
        channel.pipeline.syncOperations.fireChannelReadComplete()
        try channel.throwIfErrorCaught()
    }
}
