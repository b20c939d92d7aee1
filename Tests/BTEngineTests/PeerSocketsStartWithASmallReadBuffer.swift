import NIOCore
import Testing

@testable import BTEngine

/// NIO keeps a channel's read buffer between reads, so the first one is what an idle connected peer costs;
/// a peer that sends fast must still reach the 1 MiB reads within a few reads.
@Test func peerSocketsStartWithASmallReadBufferAndStillGrowTo1MiB() {
    var allocator = TCPTransport.receiveAllocator
    let first = allocator.nextBufferSize()!
    #expect(first <= 256)
    #expect(first >= 68)  // a whole handshake fits in the first read
    #expect(allocator.buffer(allocator: ByteBufferAllocator()).capacity == first)
    var fullReads = 0
    while let size = allocator.nextBufferSize(), size < 1 << 20, fullReads < 32 {
        let grew = allocator.record(actualReadBytes: size)
        #expect(grew)
        fullReads += 1
    }
    #expect(allocator.nextBufferSize() == 1 << 20)
    #expect(fullReads <= 13)
    let grewPastMaximum = allocator.record(actualReadBytes: 1 << 20)
    #expect(!grewPastMaximum)
}

/// The read size follows NIO's adaptive policy downwards too: halved after two reads that use at most half
/// of the buffer, never below 64 bytes.
@Test func peerReadBuffersShrinkAfterTwoSmallReadsDownTo64Bytes() {
    var allocator = PeerReceiveAllocator()
    for _ in 0..<4 { _ = allocator.record(actualReadBytes: allocator.nextBufferSize()!) }
    let grown = allocator.nextBufferSize()!
    _ = allocator.record(actualReadBytes: 1)
    #expect(allocator.nextBufferSize() == grown)
    _ = allocator.record(actualReadBytes: 1)
    #expect(allocator.nextBufferSize() == grown / 2)
    for _ in 0..<64 { _ = allocator.record(actualReadBytes: 0) }
    #expect(allocator.nextBufferSize() == 64)
    #expect(MemoryLayout<PeerReceiveAllocator>.size <= 3 * MemoryLayout<Int>.size)  // stored inline, no box
}
