import BTMetainfo
import NIOCore
import Testing

@testable import BTWire

private typealias Support = WireTestSupport

private func randomStream(seed: UInt64, count: Int) -> ([PeerMessage], [UInt8]) {
    var rng = Support.SeededGenerator(seed: seed)
    let messages = (0..<count).map { _ in Support.randomMessage(pieceCount: 77, using: &rng) }
    return (messages, Support.encode(messages))
}

private let limits = PeerMessageDecoder.Limits(pieceCount: 77)

@Test(arguments: 0..<20)
func randomMessagesRoundTripThroughEncodeAndDecode(seed: Int) throws {
    let (messages, bytes) = randomStream(seed: UInt64(seed), count: 60)
    #expect(try Support.decode(bytes, chunks: [bytes.count], limits: limits) == messages)
    // Re-encoding what was decoded gives the very same bytes.
    #expect(Support.encode(try Support.decode(bytes, chunks: [bytes.count], limits: limits)) == bytes)
}

@Test func decoderFedOneByteAtATimeYieldsTheSameMessages() throws {
    let (messages, bytes) = randomStream(seed: 99, count: 120)
    #expect(try Support.decode(bytes, chunks: Array(repeating: 1, count: bytes.count), limits: limits) == messages)
}

@Test(arguments: 0..<10)
func decoderFedRandomSplitsYieldsTheSameMessages(seed: Int) throws {
    let (messages, bytes) = randomStream(seed: UInt64(1000 + seed), count: 80)
    var rng = Support.SeededGenerator(seed: UInt64(seed))
    var chunks: [Int] = []
    var left = bytes.count
    while left > 0 {
        let size = min(left, Int.random(in: 1...max(1, Int.random(in: 1...3000, using: &rng)), using: &rng))
        chunks.append(size)
        left -= size
    }
    #expect(try Support.decode(bytes, chunks: chunks, limits: limits) == messages)
}

@Test func partialMessageStaysBufferedUntilComplete() throws {
    let bytes = PeerMessage.request(BlockRequest(piece: 1, offset: 0, length: 16384)).encoded
    var decoder = PeerMessageDecoder(limits: limits)
    decoder.append(bytes[0..<10])
    #expect(try decoder.next() == nil)
    #expect(decoder.bufferedBytes == 10)
    decoder.append(bytes[10...])
    #expect(try decoder.next() == .request(BlockRequest(piece: 1, offset: 0, length: 16384)))
    #expect(try decoder.next() == nil)
    #expect(decoder.bufferedBytes == 0)
}

@Test func onlyTheMessageSplitAcrossBuffersIsCopied() throws {
    let first = PeerMessage.have(piece: 9).encoded
    let block = PeerMessage.piece(Block(piece: 1, offset: 0, data: ByteBuffer(repeating: 0x42, count: 4000))).encoded
    // Buffer one ends inside `have`; buffer two holds the rest of it and then a whole block.
    let one = ByteBuffer(bytes: first[0..<3])
    let two = ByteBuffer(bytes: Array(first[3...]) + block)
    let twoBase = two.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress!) }
    var decoder = PeerMessageDecoder(limits: .init(pieceCount: 77))
    decoder.append(one)
    #expect(try decoder.next() == nil)
    decoder.append(two)
    #expect(try decoder.next() == .have(piece: 9))
    guard case .piece(let received)? = try decoder.next() else {
        Issue.record("expected a block")
        return
    }
    let address = received.data.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress!) }
    #expect(address == twoBase + UInt(first.count - 3) + 13, "the whole block is read in place from buffer two")
    #expect(try decoder.next() == nil && decoder.bufferedBytes == 0)
}
