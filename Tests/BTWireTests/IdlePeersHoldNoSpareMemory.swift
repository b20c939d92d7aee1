import BTMetainfo
import NIOCore
import Testing

@testable import BTWire

/// A 1 MiB read buffer holding one whole `have` and the first 13 bytes of a 16 KiB `piece` message, as a
/// fast read can end; returns it with the piece message's full bytes.
private func readBufferEndingMidMessage() -> (read: ByteBuffer, piece: ByteBuffer) {
    var piece = ByteBuffer()
    PeerMessage.piece(Block(piece: 1, offset: 0, data: ByteBuffer(repeating: 0x5a, count: 16384))).encode(into: &piece)
    var read = ByteBufferAllocator().buffer(capacity: 1 << 20)
    PeerMessage.have(piece: 2).encode(into: &read)
    read.writeBytes(piece.getBytes(at: piece.readerIndex, length: 13)!)
    return (read, piece)
}

@Test func aPartialMessageLeftInALargeReadKeepsOnlyItsOwnBytesAfterCompaction() throws {
    let (read, piece) = readBufferEndingMidMessage()
    var decoder = PeerMessageDecoder(limits: .init(pieceCount: 4))
    decoder.append(read)
    #expect(try decoder.next() == .have(piece: 2))
    #expect(try decoder.next() == nil)
    #expect(decoder.retainedStorageBytes >= 1 << 20)  // the slice pins the whole read buffer
    decoder.compact()
    #expect(decoder.retainedStorageBytes < 1024)
    #expect(decoder.bufferedBytes == 13)
    // The message still decodes whole once the rest arrives.
    decoder.append(piece.getSlice(at: piece.readerIndex + 13, length: piece.readableBytes - 13)!)
    let message = try decoder.next()
    guard case .piece(let block) = message else {
        Issue.record("expected a piece, got \(String(describing: message))")
        return
    }
    #expect(
        block.piece == 1 && block.offset == 0
            && block.data.readableBytesView.elementsEqual(repeatElement(0x5a, count: 16384)))
    #expect(try decoder.next() == nil)
}

@Test func compactionLeavesASmallReadBufferAsItIs() throws {
    var read = ByteBufferAllocator().buffer(capacity: 256)
    read.writeBytes([0, 0, 0, 5, 4])  // a `have` missing its index
    var decoder = PeerMessageDecoder(limits: .init(pieceCount: 4))
    decoder.append(read)
    #expect(try decoder.next() == nil)
    let before = decoder.retainedStorageBytes
    decoder.compact()
    #expect(decoder.retainedStorageBytes == before)
    decoder.append(ByteBuffer(bytes: [0, 0, 0, 3]))
    #expect(try decoder.next() == .have(piece: 3))
}

@Test func theStateMachineTickReleasesTheReadBufferOfAPeerThatWentQuietMidMessage() {
    let content = PeerPair.content(size: 4 * 16384, seed: 7)
    var pair = PeerPair(
        a: PeerPair.configuration(content: content, pieceLength: 16384, have: false, fast: true, peerIDByte: 1),
        b: PeerPair.configuration(content: content, pieceLength: 16384, have: true, fast: true, peerIDByte: 2),
        content: content)
    pair.connect()
    #expect(pair.b.phase == .active)
    let (read, _) = readBufferEndingMidMessage()
    _ = pair.b.receive(read, now: pair.now)
    #expect(pair.b.decoderRetainedBytes >= 1 << 20)
    pair.advance(seconds: 1)
    _ = pair.b.tick(now: pair.now)
    #expect(pair.b.decoderRetainedBytes < 1024)
    #expect(pair.b.phase == .active)
}

@Test func rateMetersOfAnIdleConnectionAllocateNoBuckets() {
    var meter = RateMeter()
    let start = NIODeadline.uptimeNanoseconds(5_000_000_000)
    #expect(meter.rate(at: start) == 0)
    #expect(meter.rate(at: start + .seconds(3)) == 0)
    #expect(!meter.hasBuckets)
    meter.record(16384, at: start + .seconds(3))
    #expect(meter.hasBuckets)

    let content = PeerPair.content(size: 4 * 16384, seed: 8)
    var pair = PeerPair(
        a: PeerPair.configuration(content: content, pieceLength: 16384, have: false, fast: true, peerIDByte: 1),
        b: PeerPair.configuration(content: content, pieceLength: 16384, have: true, fast: true, peerIDByte: 2),
        content: content)
    pair.connect()
    _ = pair.a.rateDown(at: pair.now)
    _ = pair.b.rateUp(at: pair.now)
    #expect(!pair.a.hasRateBuckets && !pair.b.hasRateBuckets)
}
