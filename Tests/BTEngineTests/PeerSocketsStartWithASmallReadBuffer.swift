import NIOCore
import Testing

@testable import BTEngine

/// NIO keeps a channel's read buffer between reads, so the first one is what an idle connected peer costs;
/// a peer that sends fast must still reach the 1 MiB reads within a few reads.
@Test func peerSocketsStartWithASmallReadBufferAndStillGrowTo1MiB() {
    var allocator = TCPTransport.receiveAllocator
    #expect(allocator.nextBufferSize() == TCPTransport.initialReceiveBufferSize)
    #expect(TCPTransport.initialReceiveBufferSize <= 256)
    #expect(allocator.nextBufferSize()! >= 68)  // a whole handshake fits in the first read
    var fullReads = 0
    while let size = allocator.nextBufferSize(), size < 1 << 20, fullReads < 32 {
        _ = allocator.record(actualReadBytes: size)
        fullReads += 1
    }
    #expect(allocator.nextBufferSize() == 1 << 20)
    #expect(fullReads <= 12)
}
